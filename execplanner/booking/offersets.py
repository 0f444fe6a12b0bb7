"""Booking offer sets: the planner decides, this writes the offer set and its sessions (and so the capacity they
hold) in the same transaction as the capacity check, under the capacity lock."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from execplanner.booking.commitments import CommitmentsCache
from execplanner.booking.holds import holds_of
from execplanner.booking.idempotency import Replayed, made_before, reused
from execplanner.booking.identifiers import random_uuid, time_ordered_uuid
from execplanner.executables.protocol import requirements_for
from execplanner.model.capacity import Hold
from execplanner.model.documents import (
    ComputeResource,
    Dialect,
    MinMax,
    OfferSet,
    OfferSetRequest,
    Result,
    Session,
    StorageResource,
)
from execplanner.model.idempotency import IdempotencyKey
from execplanner.model.message import Message
from execplanner.model.phase import Phase
from execplanner.planner.calendar import Commitments
from execplanner.planner.plan import ANONYMOUS, Caller, Offer, Planner
from execplanner.store import records
from execplanner.store.database import Store

log = logging.getLogger("execplanner.booking")


def resolved(request: OfferSetRequest) -> OfferSetRequest:
    """The request with what it needs worked out (`executables/`), so the planner has nothing left to read."""
    return request.model_copy(update={"described": requirements_for(request)})


def offered_session(
    request: OfferSetRequest, offer: Offer, offerset: UUID, index: int, now: datetime, expires: datetime
) -> Session:
    compute = request.compute or [ComputeResource()]
    gpus = offer.placement.gpus
    first = compute[0].model_copy(
        update={
            "uuid": random_uuid(),
            "cores_offered": offer.cores,
            "memory_offered": offer.memory_gib,
            "gpus_offered": MinMax(min=gpus, max=gpus) if gpus else None,
        }
    )
    executable = request.executable.model_copy(update={"uuid": random_uuid(), "created": now})
    name = f"{request.name}-offer-{index}" if request.name else f"offer-{index}"
    return Session(
        uuid=time_ordered_uuid(),
        offerset=offerset,
        name=name,
        created=now,
        phase=Phase.OFFERED,
        expires=expires,
        dialect=request.dialect,
        executable=executable,
        compute=[first, *[c.model_copy(update={"uuid": random_uuid()}) for c in compute[1:]]],
        storage=[
            s.model_copy(update={"uuid": random_uuid(), "size_offered": _volume_size(s)}) for s in request.storage
        ],
        data=[d.model_copy(update={"uuid": random_uuid()}) for d in request.data],
        volumes=request.volumes,
        ssh_public_key=request.ssh_public_key,
        requested=request.schedule,
        schedule=offer.schedule,
        placement=offer.placement,
    )


def _volume_size(storage: StorageResource) -> MinMax | None:
    """The size of the volume given for a storage resource: what was asked (its minimum, else its maximum)."""
    size = storage.size.min if storage.size.min is not None else storage.size.max
    return MinMax(min=size, max=size) if size else None


@dataclass(frozen=True)
class Ask:
    """One client's request for offers, as planned and stored."""

    request: OfferSetRequest
    now: datetime
    expiry: timedelta
    caller: Caller = ANONYMOUS
    key: IdempotencyKey | None = None  # the client's Idempotency-Key, if it sent one


def _plan_one(ask: Ask, planner: Planner, holds: Sequence[Hold]) -> OfferSet:
    uuid = time_ordered_uuid()
    expires = ask.now + ask.expiry
    request = ask.request
    plan = planner(resolved(request), holds, ask.now, ask.caller)
    offers = [offered_session(request, offer, uuid, i, ask.now, expires) for i, offer in enumerate(plan.offers)]
    return OfferSet(
        uuid=uuid,
        name=request.name,
        created=ask.now,
        dialect=request.dialect,
        result=Result.YES if offers else Result.NO,
        expires=expires if offers else None,
        offers=offers,
        messages=[*request.messages, *plan.messages],
    )


Outcome = OfferSet | Replayed[OfferSet] | Exception


Keyed = dict[tuple[str, str, str], tuple[IdempotencyKey, OfferSet]]  # by key scope: what a batch made with keys


def _made_before(conn: Connection, key: IdempotencyKey, batch: Keyed) -> OfferSet | None:
    """The offer set an earlier request with this key made, in this batch or before it (KeyReused: another body)."""
    if key.scope in batch:
        earlier, offerset = batch[key.scope]
        if earlier.digest != key.digest:
            raise reused(key)
        return offerset
    made = made_before(conn, key)
    return records.get_offerset(conn, made) if made is not None else None


def create_offersets(
    store: Store, asks: list[Ask], planner: Planner, cache: CommitmentsCache | None = None
) -> list[Outcome]:
    """Plan and store several requests in one transaction, under the capacity lock: what is offered is held
    before anyone else plans, and each request sees what the ones before it in the batch were offered.
    A request whose planning fails gets its exception back; the others are unaffected. A request with an
    Idempotency-Key that an earlier one came with gets what that one made (`Replayed`), and nothing is booked for
    it. `cache` (the writer's) saves rereading the live holds when nobody else changed them since its last batch."""
    cache = cache or CommitmentsCache()

    def book(conn: Connection) -> tuple[list[Outcome], list[OfferSet], Commitments, int | None]:
        results: list[Outcome] = []
        stored: list[tuple[OfferSet, Any, str | None]] = []
        keyed: Keyed = {}
        records.lock_capacity(conn)
        committed, version = cache.take(conn, min(ask.now for ask in asks))
        booked: list[Hold] = []
        for ask in asks:
            try:
                earlier = _made_before(conn, ask.key, keyed) if ask.key is not None else None
                if earlier is not None:
                    results.append(Replayed(earlier))
                    continue
                offerset = _plan_one(ask, planner, committed)
            except Exception as exc:  # noqa: BLE001 — one request's failure must not sink the batch
                results.append(exc)
                continue
            held = holds_of(offerset.offers)
            committed.extend(held)
            booked += held
            stored.append((offerset, records.document(ask.request), ask.caller.owner))
            if ask.key is not None:
                keyed[ask.key.scope] = (ask.key, offerset)
            results.append(offerset)
        records.insert_offersets(conn, stored)
        records.remember_keys(conn, [(key, offerset.uuid) for key, offerset in keyed.values()], asks[0].now)
        moved = records.insert_holds(conn, booked)
        after = version if moved is None else moved
        # our own insert counts once; any other step means another transaction changed holds meanwhile
        matches = after == version + (1 if booked else 0)
        return results, [offerset for offerset, _, _ in stored], committed, after if matches else None

    results, stored, committed, version = store.run(book)
    if version is not None:
        cache.keep(committed, version)
    for offerset in stored:
        log.info(
            "offerset_created offerset=%s result=%s offers=%d",
            offerset.uuid,
            offerset.result.value,
            len(offerset.offers),
        )
    return results


def create_offerset(
    store: Store,
    request: OfferSetRequest,
    planner: Planner,
    now: datetime,
    expiry: timedelta,
    *,
    caller: Caller = ANONYMOUS,
) -> OfferSet:
    """One request, planned and stored on its own."""
    [result] = create_offersets(store, [Ask(request, now, expiry, caller)], planner)
    if isinstance(result, Exception):
        raise result
    return result.made if isinstance(result, Replayed) else result


def record_refusal(
    store: Store,
    name: str | None,
    dialect: Dialect,
    messages: list[Message],
    now: datetime,
    sent: dict[str, Any],
    owner: str | None = None,
) -> OfferSet:
    """A NO that never reached the planner (e.g. an unknown executable type), stored like any offer set."""
    uuid = time_ordered_uuid()
    offerset = OfferSet(uuid=uuid, name=name, created=now, dialect=dialect, result=Result.NO, messages=messages)
    store.run(lambda conn: records.insert_offersets(conn, [(offerset, sent, owner)]))
    return offerset
