"""The baseline for bench/offersets.py: a bare starlette endpoint that answers a POST with fixed bytes, under the
uvicorn settings `execplanner serve` uses. A helper, not a benchmark.

Run: python bench/_baseline_server.py BODY_FILE [LOCATION] — prints `listening on <url>` once it accepts."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else b"{}"
HEADERS = {"Location": sys.argv[2] if len(sys.argv) > 2 else "/offersets/x", "Vary": "Accept"}


async def endpoint(request: Request) -> Response:
    await request.body()
    return Response(BODY, status_code=303, media_type="application/json", headers=HEADERS)


app = Starlette(routes=[Route("/offersets", endpoint, methods=["POST"])])


async def main() -> None:
    # as execplanner/api/command.py configures uvicorn (log level as the bench runs the service)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", server_header=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main())
