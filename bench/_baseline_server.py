"""The baseline for bench/offersets.py: a bare starlette endpoint that answers a POST with a fixed body.
A helper, not a benchmark: `make bench` runs only the files not starting with `_`."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b"x" * int(sys.argv[1]) if len(sys.argv) > 1 else b"{}"


async def endpoint(request: Request) -> Response:
    await request.body()
    return Response(BODY, status_code=303, media_type="application/json", headers={"Location": "/offersets/x"})


app = Starlette(routes=[Route("/offersets", endpoint, methods=["POST"])])

if __name__ == "__main__":
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    async def main() -> None:
        import asyncio

        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        await task

    import asyncio

    asyncio.run(main())
