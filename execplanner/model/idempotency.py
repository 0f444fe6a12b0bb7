"""A client's Idempotency-Key (the IETF httpapi draft's header) for one request that makes something."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdempotencyKey:
    """The key as it counts: the same key from another owner, or on another route, is another key. `digest` (the
    request body's SHA-256) tells a retry (same body) from a mistake (same key, another request)."""

    owner: str  # subject@issuer, '' for anonymous callers
    route: str  # "offersets" (POST /offersets, /requests) or "direct" (POST /direct, /sessions)
    key: str
    digest: str

    @property
    def scope(self) -> tuple[str, str, str]:
        """What makes two keys the same key; the digest then says whether it came with the same request."""
        return self.owner, self.route, self.key
