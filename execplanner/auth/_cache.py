"""A small, thread-safe, bounded cache of what an issuer told us about a token, keyed by the token's SHA-256.

Keying by digest means the cache never holds a token: a memory dump or a debugger shows hashes only.
Entries live until the token's expiry (at most `MAX_TTL`); the oldest-used entry goes first when full.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
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


class TokenLocks:
    """One lock per token being checked right now (keyed by digest), dropped when its last holder leaves."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, token: str) -> Iterator[None]:
        key = digest(token)
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)
