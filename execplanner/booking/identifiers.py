"""Identifiers for new offer sets and sessions: RFC 9562 version 7 uuids, time-ordered and still unguessable.

The uuid is each row's primary key and appears in the holds, transitions and sessions indexes. Random (version 4)
keys land on a random leaf page of every one of those indexes, so each offer dirtied about a dozen pages that
the commit then wrote whole: on SQLite that page traffic was most of an offer set's cost. Keys that grow with
time are appended at the right edge of each index instead. A version 7 uuid starts with its creation time in
milliseconds (which anyone holding the uuid can read from the document anyway) and carries 74 random bits from
the operating system's CSPRNG: a session's uuid remains a capability that cannot be guessed.
"""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID

_RAND_A = 0xFFF  # 12 bits after the version
_RAND_B = (1 << 62) - 1  # 62 bits after the variant


# The CSPRNG is read a few KB at a time, per thread: an offer set takes a dozen identifiers, and each os.urandom()
# is a system call that also lets go of the GIL, so the thread then waits to take it back from a busy event loop.
_CHUNK = 4096
_buffers = threading.local()


def random_bytes(count: int) -> bytes:
    """`count` (at most a few hundred) bytes from the operating system's CSPRNG, each handed out once."""
    state = _buffers.__dict__
    chunk, used = state.get("chunk", b""), state.get("used", 0)
    if used + count > len(chunk):
        chunk, used = os.urandom(max(_CHUNK, count)), 0
        state["chunk"] = chunk
    state["used"] = used + count
    return chunk[used : used + count]


def _forget_in_child() -> None:
    """A forked child must not hand out the bytes its parent will also hand out."""
    _buffers.__dict__.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def random_uuid() -> UUID:
    """A new version 4 (random) uuid, as `uuid.uuid4()`."""
    return UUID(bytes=random_bytes(16), version=4)


def time_ordered_uuid() -> UUID:
    """A new version 7 uuid: 48 bits of Unix time in ms, version 7, 12 random bits, variant 10, 62 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(random_bytes(10), "big")
    rand_a, rand_b = (rand >> 62) & _RAND_A, rand & _RAND_B
    return UUID(int=(millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)
