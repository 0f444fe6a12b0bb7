"""Build a catalogue from many sites at once: one thread per site, a deadline per site.

A slow or broken site is recorded (unreachable / auth-error, with the reason) and never holds up or fails
the others: when a site's deadline passes, the build moves on without waiting for its thread.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from execplanner.catalogue.discover import Credentials, SiteTarget, discover_site, site_from_vos
from execplanner.catalogue.model import Catalogue, Site, SiteStatus, SiteVO

DEFAULT_SITE_TIMEOUT = 60.0
DEFAULT_WORKERS = 16


@dataclass(frozen=True)
class SiteDone:
    """Reported once per site when its outcome is known."""

    site: str
    status: SiteStatus
    error: str | None
    seconds: float


class BuildObserver:
    """Receives progress; the CLI renders it (rich on a terminal, plain lines otherwise)."""

    def started(self, sites: Sequence[str]) -> None:
        """All sites about to be queried."""

    def step(self, site: str, step: str) -> None:
        """A site moved on to a new step (authenticating, flavors, ...)."""

    def finished(self, done: SiteDone) -> None:
        """A site is done, well or badly."""


def _timed_out(target: SiteTarget, timeout: float) -> Site:
    message = f"no answer within {timeout:g} s"
    vos = [
        SiteVO(vo=vo, project_id=pid, status=SiteStatus.UNREACHABLE, error=message)
        for vo, pid in sorted(target.vos.items())
    ]
    return site_from_vos(target, vos)


def build_catalogue(
    targets: Sequence[SiteTarget],
    credentials: Credentials,
    source: str,
    *,
    site_timeout: float = DEFAULT_SITE_TIMEOUT,
    workers: int = DEFAULT_WORKERS,
    observer: BuildObserver | None = None,
    discover: Callable[..., Site] = discover_site,
) -> Catalogue:
    """Query every target in parallel; always returns a catalogue with one entry per target, in target order."""
    observer = observer or BuildObserver()
    observer.started([t.name for t in targets])
    results: dict[str, Site] = {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets) or 1)), thread_name_prefix="discover")
    started: dict[str, float] = {}

    def run(target: SiteTarget) -> Site:
        started[target.name] = time.monotonic()
        return discover(target, credentials, site_timeout, observer.step)

    try:
        pending = {pool.submit(run, t): t for t in targets}
        while pending:
            now = time.monotonic()
            deadlines = [started[t.name] + site_timeout for t in pending.values() if t.name in started]
            wait_for = max(min(deadlines) - now, 0.0) if deadlines else 0.05
            done, _ = cf.wait(pending, timeout=min(wait_for, 0.5), return_when=cf.FIRST_COMPLETED)
            for future in done:
                target = pending.pop(future)
                results[target.name] = future.result()
                _report(observer, results[target.name], time.monotonic() - started[target.name])
            now = time.monotonic()
            for future, target in list(pending.items()):
                if target.name in started and now - started[target.name] >= site_timeout:
                    pending.pop(future)
                    future.cancel()
                    results[target.name] = _timed_out(target, site_timeout)
                    _report(observer, results[target.name], now - started[target.name])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return Catalogue(source=source, sites=[results[t.name] for t in targets])


def failures(catalogue: Catalogue) -> list[str]:
    """One line per failed site, or per failed VO of a site that is otherwise ok: where, what and why."""
    lines: list[str] = []
    for site in catalogue.sites:
        if site.status is not SiteStatus.OK:
            lines.append(f"{site.name}: {site.status.value}: {site.error or 'no reason given'}")
            continue
        for vo in site.vos:
            if vo.status is not SiteStatus.OK:
                lines.append(f"{site.name} ({vo.vo}): {vo.status.value}: {vo.error or 'no reason given'}")
    return lines


def _report(observer: BuildObserver, site: Site, seconds: float) -> None:
    observer.finished(SiteDone(site.name, site.status, site.error, seconds))
