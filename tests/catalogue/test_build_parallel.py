"""The build's orchestration: parallel, one deadline per site, a broken site never fails the build.

Discovery is replaced by functions that block on events, so these tests are exact and fast; the same
behaviour against real HTTP is in test_build_sim.py.
"""

from __future__ import annotations

import threading
import time

from execplanner.catalogue.build import BuildObserver, SiteDone, build_catalogue
from execplanner.catalogue.discover import Credentials, SiteTarget, site_from_vos
from execplanner.catalogue.model import Site, SiteStatus, SiteVO

TARGETS = [SiteTarget(name=f"S{i}", endpoint=f"https://k{i}.example/v3", vos={"vo": f"p{i}"}) for i in range(4)]


class Recorder(BuildObserver):
    def __init__(self) -> None:
        self.done: list[SiteDone] = []
        self.lock = threading.Lock()

    def finished(self, done: SiteDone) -> None:
        with self.lock:
            self.done.append(done)


def test_sites_run_in_parallel_and_results_keep_target_order() -> None:
    all_started = threading.Barrier(len(TARGETS), timeout=5)

    def discover(target: SiteTarget, credentials: Credentials, timeout: float, progress: object) -> Site:
        all_started.wait()  # only passes if every site runs at the same time
        return site_from_vos(target, [SiteVO(vo="vo", project_id=target.vos["vo"])])

    recorder = Recorder()
    cat = build_catalogue(TARGETS, Credentials("t"), "test", observer=recorder, discover=discover)
    assert [s.name for s in cat.sites] == ["S0", "S1", "S2", "S3"]
    assert all(s.status is SiteStatus.OK for s in cat.sites)
    assert sorted(d.site for d in recorder.done) == ["S0", "S1", "S2", "S3"]


def test_a_hanging_site_is_unreachable_after_its_timeout_and_does_not_hold_the_others() -> None:
    release = threading.Event()

    def discover(target: SiteTarget, credentials: Credentials, timeout: float, progress: object) -> Site:
        if target.name == "S2":
            release.wait(30)
        return site_from_vos(target, [SiteVO(vo="vo", project_id=target.vos["vo"])])

    try:
        started = time.monotonic()
        cat = build_catalogue(TARGETS, Credentials("t"), "test", site_timeout=0.5, discover=discover)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert elapsed < 3
    hung = cat.site("S2")
    assert hung is not None and hung.status is SiteStatus.UNREACHABLE
    assert "0.5 s" in (hung.error or "")
    assert [s.status for s in cat.sites if s.name != "S2"] == [SiteStatus.OK] * 3


def test_one_vo_failing_does_not_mark_the_site_failed() -> None:
    target = SiteTarget(name="S", endpoint="https://k/v3", vos={"a": "pa", "b": "pb"})
    site = site_from_vos(
        target,
        [SiteVO(vo="a", project_id="pa"), SiteVO(vo="b", project_id="pb", status=SiteStatus.AUTH_ERROR, error="no")],
    )
    assert site.status is SiteStatus.OK
    assert site.vo("b").status is SiteStatus.AUTH_ERROR
