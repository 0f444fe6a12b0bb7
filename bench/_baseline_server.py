"""The baseline for bench/offersets.py: a bare starlette endpoint that answers a POST with fixed bytes, under the
uvicorn settings `execplanner serve` uses. A helper, not a benchmark.

Run: python bench/_baseline_server.py BODY_FILE [LOCATION] — prints `listening on <url>` once it accepts."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _common import serve_on_loopback
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
    await serve_on_loopback(app)


if __name__ == "__main__":
    asyncio.run(main())
