"""A small, thread-safe, bounded cache of what an issuer told us about a token, keyed by the token's SHA-256.

Keying by digest means the cache never holds a token: a memory dump or a debugger shows hashes only.
Entries live until the token's expiry (at most `MAX_TTL`); the oldest-used entry goes first when full.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_TTL = 3600.0


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache(Generic[V]):
    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, now: float) -> V | None:
        key = digest(token)
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            until, value = item
            if now >= until:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, token: str, value: V, now: float, expires: float | None) -> None:
        """Keep `value` until `expires` (an epoch time), never longer than `MAX_TTL` from `now`."""
        until = min(expires if expires is not None else now + 60.0, now + MAX_TTL)
        if until <= now:
            return
        with self._lock:
            self._items[digest(token)] = (until, value)
            self._items.move_to_end(digest(token))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
