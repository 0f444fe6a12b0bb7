"""Capacity as a calendar, the planner's side: the step function, siblings sharing, volumes against the block-
storage quota, and NOs that name the real conflict and the nearest way out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st
from support.builders import federation, flavor, limits, one_site, planner_over

from execplanner.booking.offersets import resolved
from execplanner.model.capacity import Hold, Usage
from execplanner.model.documents import (
    ComputeResource,
    Executable,
    ExecutableKind,
    MinMax,
    OfferSetRequest,
    StorageResource,
)
from execplanner.planner.calendar import Calendar, Piece, calendars

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
VO = "vo.access.egi.eu"
FEDERATION = federation(
    one_site(
        "IFCA-LCG2",
        VO,
        [flavor("cm4.large", 4, 8, disk=20), flavor("cm4.xlarge", 8, 16, disk=20)],
        site_quota=limits(instances=20, volumes=10, gigabytes=10240),
    ),
    one_site(
        "CESGA-CLOUD",
        VO,
        [flavor("small", 2, 4, disk=20), flavor("medium", 4, 8, disk=20)],
        site_quota=limits(instances=20, volumes=5, gigabytes=500),
    ),
)
PLANNER = planner_over(FEDERATION, VO, max_offers=4)


def container(cores: MinMax, memory: MinMax, storage: list[int] = ()) -> OfferSetRequest:
    return resolved(
        OfferSetRequest(
            vo=VO,
            executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER),
            compute=[ComputeResource(cores=cores, memory=memory)],
            storage=[StorageResource(size=MinMax(min=size)) for size in storage],
        )
    )


def test_a_no_names_the_combination_that_fails_and_the_nearest_flavors():
    plan = PLANNER(container(MinMax(min=5, max=15), MinMax(min=3, max=9)), [], NOW)
    assert not plan.offers
    assert plan.messages[0].message == (
        "no flavor for vo.access.egi.eu has ≥ 5 cores with ≤ 9 GiB RAM; nearest: "
        "4 cores / 8 GiB (CESGA-CLOUD medium), 8 cores / 16 GiB (IFCA-LCG2 cm4.xlarge)"
    )


def test_a_2048_gib_volume_is_offered_where_the_volume_quota_allows():
    plan = PLANNER(container(MinMax(min=2), MinMax(min=4), storage=[2048]), [], NOW)
    assert {o.placement.site for o in plan.offers} == {"IFCA-LCG2"}  # CESGA-CLOUD grants 500 GiB
    assert all((o.placement.volumes, o.placement.volume_gib) == (1, 2048) for o in plan.offers)
    assert all(o.placement.disk_gib == 20 for o in plan.offers)  # the flavor's disk holds the image only


def test_volumes_held_by_others_count():
    held = Hold("IFCA-LCG2", VO, NOW - timedelta(hours=1), NOW + timedelta(days=3), Usage(volumes=1, gigabytes=9000))
    plan = PLANNER(container(MinMax(min=2), MinMax(min=4), storage=[2048]), [held], NOW)
    assert not plan.offers
    assert "volume GiB: 9000 of 10240 in use or held" in plan.messages[0].message


def test_siblings_count_as_their_largest_not_their_sum():
    group = uuid4()
    siblings = [
        Hold("S", VO, NOW, NOW + timedelta(hours=2), Usage(instances=1, cores=4), group=group),
        Hold("S", VO, NOW + timedelta(hours=1), NOW + timedelta(hours=3), Usage(instances=1, cores=8), group=group),
        Hold("S", VO, NOW, NOW + timedelta(hours=3), Usage(instances=1, cores=2)),
    ]
    calendar = calendars(siblings)[("S", VO)]
    assert calendar.peak(NOW, NOW + timedelta(hours=1)) == Usage(instances=2, cores=6)
    assert calendar.peak(NOW, NOW + timedelta(hours=3)) == Usage(instances=2, cores=10)
    assert calendar.peak(NOW + timedelta(hours=3), NOW + timedelta(hours=4)) == Usage()


pieces = st.lists(st.tuples(st.integers(0, 48), st.integers(1, 12), st.integers(0, 5), st.integers(0, 9)), max_size=25)


@given(pieces, st.integers(0, 60), st.integers(1, 12))
def test_the_peak_is_the_most_committed_at_any_instant(raw, start, length):
    """Against a brute-force count at every quarter hour (all pieces start and end on quarter hours)."""
    quarter = timedelta(minutes=15)
    made = [Piece(NOW + a * quarter, NOW + (a + n) * quarter, Usage(instances=i, cores=c)) for a, n, i, c in raw]
    peak = Calendar(made).peak(NOW + start * quarter, NOW + (start + length) * quarter)
    brute = Usage()
    for step in range(start, start + length):
        t = NOW + step * quarter
        level = Usage()
        for piece in made:
            if piece.start <= t < piece.end:
                level = level + piece.usage
        brute = brute.larger(level)
    assert peak == brute


@given(pieces, st.lists(st.integers(0, 60), max_size=20), st.integers(1, 12), st.integers(0, 12))
def test_feasible_starts_agree_with_the_peak(raw, offsets, length, top):
    """The sliding-window check gives exactly the starts whose peak stays under the ceiling."""
    quarter = timedelta(minutes=15)
    calendar = Calendar([Piece(NOW + a * quarter, NOW + (a + n) * quarter, Usage(instances=i)) for a, n, i, _ in raw])
    starts = sorted({NOW + o * quarter for o in offsets})
    ceiling = (top, None, None, None, None, None, None)
    found = list(calendar.feasible(starts, length * quarter, ceiling))
    assert found == [s for s in starts if calendar.peak(s, s + length * quarter).instances <= top]


@given(pieces, pieces)
def test_adding_pieces_is_building_with_them(first, second):
    quarter = timedelta(minutes=15)

    def made(raw):
        return [Piece(NOW + a * quarter, NOW + (a + n) * quarter, Usage(instances=i, cores=c)) for a, n, i, c in raw]

    grown = Calendar(made(first))
    for piece in made(second):
        grown.add(piece)
    whole = Calendar(made(first) + made(second))
    for step in range(0, 64):
        t = NOW + step * quarter
        assert grown.peak(t, t + quarter) == whole.peak(t, t + quarter)
