"""Show build progress: a live per-site table on a terminal, one plain line per event otherwise (CI logs)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from execplanner.catalogue.build import BuildObserver, SiteDone
from execplanner.catalogue.model import SiteStatus

_STYLE = {SiteStatus.OK: "green", SiteStatus.UNREACHABLE: "red", SiteStatus.AUTH_ERROR: "yellow"}


class PlainProgress(BuildObserver):
    """One line per site outcome; steps are not printed (too chatty for a log)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def started(self, sites: Sequence[str]) -> None:
        self._print(f"querying {len(sites)} site(s): {', '.join(sites)}")

    def finished(self, done: SiteDone) -> None:
        reason = f": {done.error}" if done.error else ""
        self._print(f"{done.site}: {done.status.value} in {done.seconds:.1f} s{reason}")

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self._stream, flush=True)


class RichProgress(BuildObserver):
    """A row per site with its current step, turning green/yellow/red when it is done."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[site]:<24}"),
            BarColumn(bar_width=12),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def started(self, sites: Sequence[str]) -> None:
        for site in sites:
            self._tasks[site] = self._progress.add_task("waiting", total=1, site=site)

    def step(self, site: str, step: str) -> None:
        if site in self._tasks:
            self._progress.update(self._tasks[site], description=step)

    def finished(self, done: SiteDone) -> None:
        style = _STYLE[done.status]
        text = f"[{style}]{done.status.value}[/]" + (f" {done.error}" if done.error else "")
        self._progress.update(self._tasks[done.site], description=text, completed=1)
