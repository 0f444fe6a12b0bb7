"""What a planner answers: ranked offers, or the reasons there are none."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from execplanner.model.documents import MinMax, OfferSetRequest, Placement, ScheduleOffer
from execplanner.model.message import Message
from execplanner.store.records import Usage


@dataclass(frozen=True)
class Offer:
    placement: Placement
    schedule: ScheduleOffer
    cores: MinMax
    memory_gib: MinMax


@dataclass
class Plan:
    offers: list[Offer] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


class Planner(Protocol):
    """A pure function of the request, what is already held, and the time."""

    def __call__(self, request: OfferSetRequest, usage: dict[tuple[str, str], Usage], now: datetime) -> Plan: ...
