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
import time
from uuid import UUID

_RAND_A = 0xFFF  # 12 bits after the version
_RAND_B = (1 << 62) - 1  # 62 bits after the variant


def time_ordered_uuid() -> UUID:
    """A new version 7 uuid: 48 bits of Unix time in ms, version 7, 12 random bits, variant 10, 62 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = (rand >> 62) & _RAND_A, rand & _RAND_B
    return UUID(int=(millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)
