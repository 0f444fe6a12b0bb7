"""The baseline for bench/offersets.py: a bare starlette endpoint that answers a POST with fixed bytes, under the
uvicorn settings `execplanner serve` uses. A helper, not a benchmark.

Run: python bench/_baseline_server.py BODY_FILE [LOCATION] [--workers N] — prints `listening on <url>` once it
accepts. With N > 1, N uvicorn worker processes share the socket: the baseline for a multi-process server."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from _common import serve_on_loopback, serve_workers_on_loopback
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Read from the environment, so that worker processes (which import this module afresh) answer the same.
BODY = Path(os.environ["BASELINE_BODY"]).read_bytes() if "BASELINE_BODY" in os.environ else b"{}"
HEADERS = {"Location": os.environ.get("BASELINE_LOCATION", "/offersets/x"), "Vary": "Accept"}


async def endpoint(request: Request) -> Response:
    await request.body()
    return Response(BODY, status_code=303, media_type="application/json", headers=HEADERS)


app = Starlette(routes=[Route("/offersets", endpoint, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("body", type=Path)
    parser.add_argument("location", nargs="?", default="/offersets/x")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ["BASELINE_BODY"], os.environ["BASELINE_LOCATION"] = str(args.body.resolve()), args.location
    if args.workers > 1:
        serve_workers_on_loopback("_baseline_server:app", args.workers)
        return
    global BODY, HEADERS
    BODY, HEADERS = args.body.read_bytes(), {"Location": args.location, "Vary": "Accept"}
    asyncio.run(serve_on_loopback(app))


if __name__ == "__main__":
    main()
