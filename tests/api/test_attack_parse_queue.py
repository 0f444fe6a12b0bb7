"""Found by the 400-client attack (issue #16): valid documents — a two-line phase update, the bundled examples —
were refused with 400 "could not be read within 2 s" because the parse deadline also counted the time spent
queued for a worker thread on a busy server. The deadline is the document's cost, not the server's queue."""

from __future__ import annotations

import threading

import anyio
import pytest

from execplanner.api.documents import parse_off_loop
from execplanner.errors import DocumentTooCostly
from execplanner.formats.bounds import DocumentLimits
from execplanner.formats.media import Format

UPDATE = b'{"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}'
LIMITS = DocumentLimits(seconds=0.2)


def test_a_valid_document_queued_behind_busy_workers_is_read_not_refused():
    async def main() -> dict:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1  # one worker, busy for longer than the parse deadline
        busy = threading.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, busy.wait)
            parsed = {}

            async def parse() -> None:
                try:
                    parsed["tree"] = await parse_off_loop(UPDATE, Format.JSON, "update", LIMITS)
                finally:
                    busy.set()  # refused or read: the busy worker is not needed any more

            group.start_soon(parse)
            await anyio.sleep(LIMITS.seconds * 4)  # the condition under test: queued past the deadline
            busy.set()
        return parsed["tree"]

    assert anyio.run(main)["update"]["value"] == "ACCEPTED"


def test_a_document_whose_reading_outlasts_the_deadline_is_still_refused(monkeypatch):
    import execplanner.api.documents as documents

    never = threading.Event()

    def slow_parse(*_args):  # a parser that never finishes: the deadline must still apply
        never.wait(5)
        return {}

    monkeypatch.setattr(documents, "_parse", slow_parse)
    with pytest.raises(DocumentTooCostly):
        anyio.run(parse_off_loop, UPDATE, Format.JSON, "update", LIMITS)
    never.set()
