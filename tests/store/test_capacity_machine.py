"""Correct by construction, tested: random sequences of asks, accepts, rejects, cancels, direct requests, expiry
and time steps, through two Store objects on one database (two replicas), and after every step the commitment of
every site is recomputed from the sessions table alone (tests/capacity_audit.py): never above quota at any
instant, and every hold accounted for. SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

from capacity_audit import audit
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from support.builders import FLOATING_IP_NETWORK, VO_NETWORK, federation, flavor, limits, one_site, planner_over

from execplanner.booking import create_direct, create_offerset
from execplanner.booking import sessions as booked
from execplanner.catalogue.model import QuotaItem, Site
from execplanner.errors import ExecPlannerError
from execplanner.lifecycle.scheduler import end_overdue_holds, expire_due
from execplanner.model.documents import (
    ComputeResource,
    Executable,
    ExecutableKind,
    Interval,
    MinMax,
    OfferSetRequest,
    Port,
    ScheduleRequest,
    StorageResource,
    UpdateRequest,
)
from execplanner.store.database import Store

VO = "vo.access.egi.eu"


def _site(name: str, **quota: int | QuotaItem) -> Site:
    """1, 2 and 4 cores (2 GiB each), a floating-IP network and a VO network, under `quota`."""
    flavors = [flavor(f"c{c}", c, c * 2, disk=20) for c in (1, 2, 4)]
    return one_site(
        name,
        VO,
        flavors,
        networks=[FLOATING_IP_NETWORK, VO_NETWORK],
        site_quota=limits(**quota),
        project_id="p",
        endpoint=f"https://{name}/v3",
    )


CATALOGUE = federation(
    _site("SMALL", instances=QuotaItem(limit=3, in_use=1), cores=6, floating_ips=1, volumes=2, gigabytes=150),
    _site("TINY", instances=2, cores=4, ram=8192),
    source="test: two tight sites",
)
PLANNER = planner_over(CATALOGUE, VO, max_offers=3)
EPOCH = datetime(2026, 11, 25, 12, tzinfo=UTC)
ERAS = itertools.count()  # each example starts a month after the last: the database outlives examples


def request(cores: int, public: bool, volume: int) -> OfferSetRequest:
    return OfferSetRequest(
        vo=VO,
        executable=Executable(
            kind=ExecutableKind.DOCKER_CONTAINER, ports=[Port(internal=80, protocol="HTTP")] if public else []
        ),
        compute=[ComputeResource(cores=MinMax(min=cores), memory=MinMax(min=cores * 2))],
        storage=[StorageResource(size=MinMax(min=volume))] if volume else [],
        schedule=ScheduleRequest(duration_min=timedelta(minutes=50)),
    )


def update(phase: str) -> UpdateRequest:
    return UpdateRequest(path="phase", value=phase)


def nobody(_owner: str | None) -> None:
    return None


class Capacity(RuleBasedStateMachine):
    url: str = ""
    stores: list[Store] = []

    offers = Bundle("offers")
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.now = EPOCH + timedelta(days=30 * next(ERAS))

    def _window(self, later: int | None) -> list[Interval]:
        return (
            [] if later is None else [Interval(start=self.now + timedelta(minutes=later), duration=timedelta(hours=2))]
        )

    @rule(
        target=offers,
        replica=st.integers(0, 1),
        cores=st.sampled_from([1, 2, 4]),
        public=st.booleans(),
        volume=st.sampled_from([0, 0, 100]),
        later=st.one_of(st.none(), st.integers(0, 180)),
    )
    def ask(self, replica, cores, public, volume, later):
        asked = request(cores, public, volume)
        asked.schedule.start = self._window(later)
        made = create_offerset(self.stores[replica], asked, PLANNER, self.now, timedelta(minutes=20))
        return multiple(*(offer.uuid for offer in made.offers))

    @rule(target=sessions, replica=st.integers(0, 1), cores=st.sampled_from([1, 2, 4]), public=st.booleans())
    def direct(self, replica, cores, public):
        try:
            return create_direct(self.stores[replica], request(cores, public, 0), PLANNER, self.now).uuid
        except ExecPlannerError:
            return multiple()  # no room now: a 400 naming the full site

    @rule(target=sessions, replica=st.integers(0, 1), offer=offers)
    def accept(self, replica, offer):
        try:
            booked.update(self.stores[replica], offer, update("ACCEPTED"), self.now, nobody)
            return offer
        except ExecPlannerError:
            return multiple()  # rejected, expired or accepted already: a 409

    @rule(replica=st.integers(0, 1), offer=offers)
    def reject(self, replica, offer):
        with contextlib.suppress(ExecPlannerError):  # no longer OFFERED: a 409
            booked.update(self.stores[replica], offer, update("REJECTED"), self.now, nobody)

    @rule(replica=st.integers(0, 1), session=sessions)
    def cancel(self, replica, session):
        with contextlib.suppress(ExecPlannerError):  # already over: a 409
            booked.update(self.stores[replica], session, update("CANCELLED"), self.now, nobody)

    @rule(replica=st.integers(0, 1))
    def scheduler_pass(self, replica):
        expire_due(self.stores[replica], self.now)
        end_overdue_holds(self.stores[replica], self.now)

    @rule(minutes=st.integers(1, 120))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)

    @invariant()
    def never_above_quota_and_every_hold_accounted_for(self):
        audit(self.url, CATALOGUE, self.now)


def test_capacity_holds_whatever_clients_and_replicas_do(database_url):
    stores = [Store.open(database_url), Store.open(database_url, migrate=False)]
    Capacity.url, Capacity.stores = database_url, stores
    try:
        run_state_machine_as_test(
            Capacity,
            settings=settings(
                max_examples=8,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            ),
        )
    finally:
        for store in stores:
            store.close()
