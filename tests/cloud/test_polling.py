"""A launch looks again fast while a wait is young (a simulated or small server is ready within a second or two)
and backs off, capped, after that (a real VM takes minutes; its site's API is not asked ten times a second), but
never so far that a booted server waits long to be noticed (the cap is the worst lateness: issue #11 allows 1 s
of overhead beyond the boot)."""

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
    assert later[-1] == polling.MAX_PAUSE
    assert later[0] < later[1] < later[2] < polling.MAX_PAUSE  # not a cliff: a few steps up to the cap


def test_the_cap_keeps_a_booted_server_noticed_within_half_a_second_at_two_requests_a_second() -> None:
    assert 0.25 <= polling.MAX_PAUSE <= 0.5


def test_a_given_cap_is_kept() -> None:
    later = list(itertools.islice(polling.pauses(fast_for=0.0, cap=2.0), 30))
    assert later[-1] == 2.0 and max(later) == 2.0
