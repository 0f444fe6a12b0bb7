"""A stand-in planner used until the catalogue-backed planner is wired in: it offers a fixed shape at two
start times, and says in every answer that it is a placeholder."""

from __future__ import annotations

from datetime import datetime, timedelta

from execplanner.model.documents import MinMax, OfferSetRequest, Placement, ScheduleBlock, ScheduleOffer
from execplanner.model.message import Message
from execplanner.planner.plan import Offer, Plan
from execplanner.store.records import Usage

PREPARE = timedelta(minutes=5)
RELEASE = timedelta(minutes=2)


def placeholder_planner(request: OfferSetRequest, usage: dict[tuple[str, str], Usage], now: datetime) -> Plan:
    compute = request.compute[0] if request.compute else None
    cores = compute.cores.min if compute and compute.cores.min else 1
    memory = compute.memory.min if compute and compute.memory.min else 2
    duration = request.schedule.duration_min or timedelta(hours=1)
    offers = []
    for index, start in enumerate((now, now + timedelta(hours=1))):
        available = start + PREPARE
        offers.append(
            Offer(
                placement=Placement(
                    site="placeholder",
                    vo=request.vo or "vo.access.egi.eu",
                    flavor_id="placeholder",
                    flavor_name=f"placeholder-{cores}c{memory}g",
                    cores=cores,
                    memory_mib=memory * 1024,
                ),
                schedule=ScheduleOffer(
                    preparing=ScheduleBlock(start=start, duration=PREPARE),
                    available=ScheduleBlock(start=available, duration=duration),
                    releasing=ScheduleBlock(start=available + duration, duration=RELEASE),
                ),
                cores=MinMax(min=cores, max=cores),
                memory_gib=MinMax(min=memory, max=memory),
            )
        )
        del index
    return Plan(
        offers=offers,
        messages=[Message.warn("These offers come from the placeholder planner, not from the EGI FedCloud catalogue.")],
    )
