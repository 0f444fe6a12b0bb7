"""The booking service: asks, direct sessions, accepts, rejects and cancels, each one transaction that writes
sessions and the capacity they hold, under the capacity lock where capacity is taken. `api/` calls this (and
`lifecycle/`), never the store."""

from execplanner.booking.asking import ask_only
from execplanner.booking.direct import book_direct, create_direct
from execplanner.booking.idempotency import Replayed, made_with
from execplanner.booking.offersets import Ask, create_offerset, create_offersets, record_refusal, resolved
from execplanner.booking.writer import OfferSetWriter

__all__ = [
    "Ask",
    "OfferSetWriter",
    "Replayed",
    "book_direct",
    "ask_only",
    "create_direct",
    "create_offerset",
    "create_offersets",
    "made_with",
    "record_refusal",
    "resolved",
]
