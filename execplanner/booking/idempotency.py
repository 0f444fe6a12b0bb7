"""Idempotency-Key: a request that comes again with the key it came with first is answered with what it made the
first time, not booked again. Checked and written in the transaction that books, under the capacity lock, so two
copies of one request racing each other (two connections, two replicas) make one thing between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from sqlalchemy import Connection

from execplanner.errors import KeyReused
from execplanner.model.idempotency import IdempotencyKey
from execplanner.store import records
from execplanner.store.database import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Replayed(Generic[T]):
    """What an earlier request with the same key made, given again instead of made again."""

    made: T


def made_before(conn: Connection, key: IdempotencyKey) -> UUID | None:
    """The uuid of what an earlier request with `key` made, or None; KeyReused (422) when that request had another
    body: a client's mistake (or another client's key), which must neither be booked nor shown what the key made."""
    found = records.made_for_key(conn, key)
    if found is None:
        return None
    digest, made = found
    if digest != key.digest:
        raise reused(key)
    return made


def made_with(store: Store, key: IdempotencyKey) -> UUID | None:
    """For a request refused before it is booked (an unknown executable type), which is never written under its
    key: what an earlier request with the key made, or None; KeyReused when that request had another body."""
    with store.reading() as conn:
        return made_before(conn, key)


def reused(key: IdempotencyKey) -> KeyReused:
    return KeyReused(
        f"Idempotency-Key '{key.key}' was sent before with another request: "
        "a retry must send the same body; a new request needs a new key"
    )
