"""What a planner answers: ranked offers, or the reasons there are none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from execplanner.model.capacity import Hold
from execplanner.model.documents import MinMax, OfferSetRequest, Placement, ScheduleOffer
from execplanner.model.message import Message


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


VM_OPERATOR = "urn:mace:egi.eu:group:{vo}:role=vm_operator#aai.egi.eu"


@dataclass(frozen=True)
class Caller:
    """Who asks, as far as the planner cares: the VOs their token names and, where the token's issuer says
    (EGI Check-in entitlements), in which of them they may launch virtual machines. Plain data, so the planner
    stays independent of how tokens are checked (`api/` builds it from an `auth.Identity`)."""

    owner: str | None = None
    vos: tuple[str, ...] = ()
    may_launch: Mapping[str, bool] | None = None  # None: the token says nothing about roles (or no token)

    def launch_known(self, vo: str) -> bool | None:
        """True/False when the caller's entitlements decide it for `vo`; None when nobody can tell."""
        return None if self.may_launch is None else self.may_launch.get(vo, False)


ANONYMOUS = Caller()


class Planner(Protocol):
    """A pure function of the request (its requirements resolved into `described`), what is already held (the
    live holds, each over its interval), the time, and who asks."""

    def __call__(
        self, request: OfferSetRequest, holds: Sequence[Hold], now: datetime, caller: Caller = ...
    ) -> Plan: ...
