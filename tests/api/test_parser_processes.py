"""The parser process pool (api/workers.py): large request bodies are read in worker processes so that their
parsing cannot hold the service's GIL. What a service relies on: a job past its deadline costs its worker (killed,
replaced on the next job), our errors come back as themselves, time queued for a worker is not the job's, and
closing the pool leaves no process behind."""

from __future__ import annotations

import os
import time

import anyio
import pytest

from execplanner.api.documents import PARSER_JOB_MODULES, parse_off_loop, parser_pool
from execplanner.api.workers import WorkerCrashed, WorkerDied, WorkerPool
from execplanner.config import Settings
from execplanner.errors import DocumentTooCostly, InvalidRequest, ServiceBusy
from execplanner.formats.bounds import DocumentLimits
from execplanner.formats.media import Format

# Jobs and initializers are functions a worker can import: the tests directory is not on its path.
NOTHING_TO_LOAD = int


@pytest.fixture
def pool():
    workers = WorkerPool(1, NOTHING_TO_LOAD)
    yield workers
    workers.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_job_past_its_deadline_is_killed_and_its_worker_replaced(pool):
    async def main() -> tuple[float, int]:
        await pool.run(30, os.getpid)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await pool.run(0.3, time.sleep, 30)
        return time.monotonic() - started, await pool.run(30, os.getpid)

    first = anyio.run(pool.run, 30, os.getpid)
    took, replacement = anyio.run(main)
    assert took < 5, f"the caller waited {took:.1f} s for a job with a 0.3 s deadline"
    assert pool.killed == 1
    assert replacement != first
    assert not _alive(first)


def test_errors_come_back_as_our_own(pool):
    limits = DocumentLimits()
    with pytest.raises(DocumentTooCostly, match="64 levels"):
        anyio.run(lambda: parse_off_loop(b"[" * 1000 + b"]" * 1000, Format.YAML, "r", limits, pool=pool))
    with pytest.raises(InvalidRequest, match="malformed JSON"):
        anyio.run(lambda: parse_off_loop(b"{", Format.JSON, "r", limits, pool=pool))
    assert anyio.run(lambda: parse_off_loop(b"a: [1, 2]", Format.YAML, "r", limits, pool=pool)) == {"a": [1, 2]}
    assert pool.started == 1, "a refusal must not cost the worker"


def test_a_worker_that_dies_under_a_job_refuses_it_400_and_is_replaced(pool):
    with pytest.raises(WorkerDied) as died:
        anyio.run(pool.run, 30, os._exit, 3)
    assert died.value.status == 400 and "exit status 3" in died.value.message
    assert anyio.run(pool.run, 30, len, b"abc") == 3
    assert pool.started == 2


def test_jobs_beyond_the_queue_are_refused_at_once():
    pool = WorkerPool(1, NOTHING_TO_LOAD, queue=1)

    async def main() -> list[str]:
        outcomes: list[str] = []

        async def nap() -> None:
            try:
                await pool.run(30, time.sleep, 0.3)
                outcomes.append("slept")
            except ServiceBusy:
                outcomes.append("busy")

        async with anyio.create_task_group() as group:
            for _ in range(4):  # one runs, one waits, two are refused
                group.start_soon(nap)
        return outcomes

    try:
        assert sorted(anyio.run(main)) == ["busy", "busy", "slept", "slept"]
    finally:
        pool.close()


def test_time_queued_for_the_one_worker_is_not_the_jobs():
    pool = WorkerPool(1, NOTHING_TO_LOAD)

    async def main() -> list[float]:
        slept: list[float] = []

        async def nap() -> None:
            await pool.run(1.5, time.sleep, 0.6)
            slept.append(time.monotonic())

        async with anyio.create_task_group() as group:
            # the fourth waits 1.8 s for the worker, past its own 1.5 s deadline; each job leaves 0.9 s to spare
            # for a worker process at niceness +10 on a loaded machine
            for _ in range(4):
                group.start_soon(nap)
        return slept

    try:
        assert len(anyio.run(main)) == 4
        assert pool.killed == 0
    finally:
        pool.close()


def test_closing_the_pool_stops_its_processes():
    pool = WorkerPool(2, NOTHING_TO_LOAD)

    async def two_at_once() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(pool.run, 30, time.sleep, 0.3)
            group.start_soon(pool.run, 30, time.sleep, 0.3)

    anyio.run(two_at_once)
    pids = pool.pids()
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    pool.close()
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(WorkerCrashed):
        anyio.run(pool.run, 30, os.getpid)


def test_the_service_pool_follows_its_settings():
    assert parser_pool(Settings(parse_processes=0)) is None
    pool = parser_pool(Settings(parse_processes=3))
    assert pool is not None and pool.processes == 3
    assert "execplanner.api.note" in PARSER_JOB_MODULES
