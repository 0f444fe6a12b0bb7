"""The per-token cache: keyed by digest, expiring with the token, bounded."""

from __future__ import annotations

from execplanner.auth._cache import MAX_TTL, TokenCache


def test_entries_expire_with_the_token() -> None:
    cache: TokenCache[str] = TokenCache()
    cache.put("tok-a", "A", now=1000.0, expires=1060.0)
    assert cache.get("tok-a", now=1059.0) == "A"
    assert cache.get("tok-a", now=1060.0) is None
    assert len(cache) == 0


def test_entries_never_outlive_the_cap() -> None:
    cache: TokenCache[str] = TokenCache()
    cache.put("tok-a", "A", now=0.0, expires=10 * MAX_TTL)
    assert cache.get("tok-a", now=MAX_TTL - 1) == "A"
    assert cache.get("tok-a", now=MAX_TTL) is None


def test_already_expired_is_not_stored() -> None:
    cache: TokenCache[str] = TokenCache()
    cache.put("tok-a", "A", now=100.0, expires=50.0)
    assert len(cache) == 0


def test_bounded_least_recently_used_goes_first() -> None:
    cache: TokenCache[int] = TokenCache(max_entries=3)
    for n in range(3):
        cache.put(f"tok-{n}", n, now=0.0, expires=100.0)
    assert cache.get("tok-0", now=1.0) == 0  # now the most recently used
    cache.put("tok-3", 3, now=1.0, expires=100.0)
    assert len(cache) == 3
    assert cache.get("tok-1", now=2.0) is None
    assert [cache.get(f"tok-{n}", now=2.0) for n in (0, 2, 3)] == [0, 2, 3]


def test_tokens_are_not_kept() -> None:
    cache: TokenCache[str] = TokenCache()
    cache.put("secret-token-value", "A", now=0.0, expires=100.0)
    assert "secret-token-value" not in repr(vars(cache))
