"""A small pool of worker processes for the CPU-heavy reading of large request bodies.

A worker *thread* keeps parsing off the event loop but not off its GIL: pure-Python YAML composing and XSD
validation hold it, and the loop waits for its turn at every switch (a 1 MB YAML body pushed /healthz past
100 ms). A worker process holds its own GIL. The pool is small and bounded, its processes start when first
needed and live until the service stops, and a job past its deadline costs its worker: the process is killed
and replaced on the next job, so no parser step, however slow, outlives its deadline by more than a kill.

Jobs are module-level functions and picklable arguments; results are plain data (or one of our errors, raised
again here), over a multiprocessing pipe: only this module's own processes are on either end.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

from execplanner.errors import DocumentTooCostly, ExecPlannerError, ServiceBusy

log = logging.getLogger("execplanner")

T = TypeVar("T")

# How long a stopping service waits for an idle worker to exit by itself before killing it.
_EXIT_WAIT = 2.0
# Workers run at a lower CPU priority than the service: a core busy with a hostile body's parsing must not take
# the core the event loop needs to answer /healthz and small requests.
_NICENESS = 10
# Workers are forked by multiprocessing's fork server, never by the service: on Python 3.11 subprocess holds the
# GIL from vfork() until the child has exec'd, which on a loaded machine stalled the event loop 150-580 ms per
# replaced worker. The fork server is started once (the first large body pays that); it imports the job modules,
# so a replacement worker is a fork with everything loaded.
_CONTEXT = multiprocessing.get_context("forkserver")


class WorkerCrashed(ExecPlannerError):
    """A worker process failed in a way no job should (a bug), or could not be started."""


class WorkerDied(DocumentTooCostly):
    """The worker process running a job exited before answering: the kernel's OOM killer or a crash in a C parser
    while reading this document, or an operator's kill. The client is refused (400) like any document too costly to
    read, not answered 500: a document that takes its parser down is the client's to change."""


def use_job_modules(modules: Sequence[str]) -> None:
    """Modules the fork server imports before it forks any worker (no effect once it is running)."""
    _CONTEXT.set_forkserver_preload(list(modules))


def serve_jobs(channel: Connection) -> None:
    """A worker's life: read a job, run it, answer; exit when the service closes the channel (or dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on `execplanner serve` is for the service to handle
    os.nice(_NICENESS)
    # No cyclic collection during a job: a full one over a large parse's nodes took seconds on a loaded machine,
    # between two checks of the job's deadline. Refcounting frees a parse's (acyclic) nodes; what is left is
    # collected once the answer is sent, when the heap is small again.
    gc.disable()
    while True:
        try:
            function, args = channel.recv()
        except (EOFError, OSError):
            return
        try:
            channel.send(_answer(function, args))
        except OSError:
            return
        gc.collect()


def _answer(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return ("ok", function(*args))
    except ExecPlannerError as exc:
        return ("error", exc.with_traceback(None))
    except Exception:  # noqa: BLE001 — reported to the service, which raises it as a crash
        return ("crash", traceback.format_exc(limit=8))


class _Worker:
    """One worker process and its channel; used by one job at a time."""

    def __init__(self, initializer: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        self.channel, theirs = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=serve_jobs, args=(theirs,), name="execplanner-parser", daemon=True)
        self.process.start()
        self.pid = self.process.pid or 0
        theirs.close()
        try:
            self.call(*initializer, starting=True)
        except BaseException:
            self.kill()
            raise

    def call(self, function: Callable[..., T], args: tuple[Any, ...], *, starting: bool = False) -> T:
        try:
            self.channel.send((function, args))
            status, value = self.channel.recv()
        except (EOFError, OSError) as exc:
            self.process.join(_EXIT_WAIT)  # its exit status, for the message (it has closed its end: it is exiting)
            if starting:
                raise WorkerCrashed(f"a parser process exited while starting (status {self.process.exitcode})") from exc
            raise WorkerDied(
                f"the document could not be read: its parser process stopped (exit status {self.process.exitcode}); "
                "refused"
            ) from exc
        if status == "ok":
            return value
        if status == "error":
            raise value
        raise WorkerCrashed(f"a parser process failed: {value}")

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def signal_kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()

    def kill(self) -> None:
        self.signal_kill()
        self.process.join()
        self._close()

    def stop(self) -> None:
        """Let the worker exit by itself (its channel closed); kill it if it does not within `_EXIT_WAIT`."""
        self.channel.close()
        self.process.join(_EXIT_WAIT)
        if self.process.is_alive():
            self.kill()
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.close()
        with contextlib.suppress(ValueError):
            self.process.close()


@dataclass
class _Job:
    """Who holds the worker a job runs on: the thread running it, or (past the deadline) the loop that kills it."""

    worker: _Worker | None = None
    finished: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerPool:
    """At most `processes` worker processes, each started (and given `initializer(*args)` to run first) when a
    job finds no idle one; at most `queue` jobs wait for one, more are refused (ServiceBusy, 503) at once."""

    def __init__(self, processes: int, initializer: Callable[..., Any], *args: Any, queue: int = 8) -> None:
        self.processes = processes
        self.queue = queue
        self._jobs = 0  # jobs running or waiting for a worker (counted on the event loop only)
        self._initializer = (initializer, args)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._limiter: anyio.CapacityLimiter | None = None
        self.started = 0  # processes started so far (for tests and logs)
        self.killed = 0  # workers killed past a deadline

    async def run(self, seconds: float, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker process; TimeoutError when it has not answered `seconds` after a worker
        started on it (time queued for a free worker, or for one to start, does not count). Without a bound on
        that queue, 40 hostile 1 MB bodies from clients that had already gone away kept a valid request waiting
        62 s, each of them held in memory until its turn."""
        if self._jobs >= self.processes + self.queue:
            raise ServiceBusy(
                f"{self._jobs} large request bodies are being read or waiting to be; try again in a few seconds"
            )
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.processes)
        self._jobs += 1
        try:
            return await self._run(seconds, function, args)
        finally:
            self._jobs -= 1

    async def _run(self, seconds: float, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        assert self._limiter is not None
        job = _Job()
        with anyio.CancelScope() as scope:

            def work() -> T:
                return self._work(job, scope, seconds, function, args)

            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=self._limiter)
        self._abandon(job)
        raise TimeoutError

    def _work(
        self, job: _Job, scope: anyio.CancelScope, seconds: float, function: Callable[..., T], args: tuple[Any, ...]
    ) -> T:
        worker = self._checkout()
        with job.lock:
            abandoned, job.worker = job.finished, worker
        if abandoned:  # cancelled while a worker was found or started: keep it for the next job
            self._finish(_Job(), worker, healthy=True)
            raise WorkerCrashed("the job was cancelled before it started")
        with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody waits for the clock
            anyio.from_thread.run_sync(_start_clock, scope, seconds)
        try:
            result = worker.call(function, args)
        except ExecPlannerError as exc:  # the job's own refusal leaves the worker fit; a crash or exit does not
            self._finish(job, worker, healthy=not isinstance(exc, WorkerCrashed | WorkerDied))
            raise
        except BaseException:  # a message that could not be read: the channel is no longer in step
            self._finish(job, worker, healthy=False)
            raise
        self._finish(job, worker, healthy=True)
        return result

    def _checkout(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
            if self._closed:
                raise WorkerCrashed("the service is stopping")
            self.started += 1
        log.info("parser_process_started count=%d", self.started)
        return _Worker(self._initializer)

    def _finish(self, job: _Job, worker: _Worker, *, healthy: bool) -> None:
        """Back to the idle list, unless the job was abandoned (its worker is being killed) or the pool closed."""
        with job.lock:
            abandoned = job.finished
            job.finished = True
        if abandoned:  # the loop has signalled it to die; reaped here, off the loop
            worker.kill()
            return
        with self._lock:
            if healthy and worker.alive and not self._closed:
                self._idle.append(worker)
                return
        worker.kill()

    def _abandon(self, job: _Job) -> None:
        """Past its deadline (or cancelled): kill the job's worker, unless it has just finished."""
        with job.lock:
            if job.finished or job.worker is None:
                job.finished = True
                return
            job.finished = True
            worker = job.worker
        self.killed += 1
        log.warning("parser_process_killed reason=deadline pid=%d", worker.pid)
        worker.signal_kill()  # the thread waiting on it sees its pipe close, and reaps it

    def pids(self) -> list[int]:
        """The idle workers' process ids."""
        with self._lock:
            return [worker.pid for worker in self._idle]

    def close(self) -> None:
        """Stop every idle worker; a busy one is killed when its job returns. Blocking: call it off the loop."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


def _start_clock(scope: anyio.CancelScope, seconds: float) -> None:
    scope.deadline = anyio.current_time() + seconds
