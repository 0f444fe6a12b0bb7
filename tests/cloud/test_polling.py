"""A launch looks again fast while a wait is young (a simulated or small server is ready within a second or two)
and backs off, capped, after that (a real VM takes minutes; its site's API is not asked ten times a second)."""

from __future__ import annotations

import itertools

from execplanner.cloud import polling


def test_young_waits_look_again_every_tenth_of_a_second() -> None:
    first = list(itertools.islice(polling.pauses(), 10))  # well within the first 2 s
    assert first == [polling.FAST_PAUSE] * 10 and polling.FAST_PAUSE <= 0.25


def test_older_waits_back_off_to_a_cap() -> None:
    later = list(itertools.islice(polling.pauses(fast_for=0.0), 30))
    assert later[0] > polling.FAST_PAUSE
    assert all(b >= a for a, b in itertools.pairwise(later))
    assert later[-1] == polling.MAX_PAUSE == 2.0
    assert sum(later[:10]) < 20  # not a cliff: it takes a while to reach the cap
