"""Reading the claims of a token (or of a userinfo / introspection answer): times, audience, groups, entitlements.

Time checks are done here rather than by pyjwt so they use the verifier's clock, the same one its caches use.
Every refusal is a plain sentence; none quotes a claim value the caller could use to smuggle text into logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from execplanner.errors import Unauthorized

ENTITLEMENT_CLAIM = "eduperson_entitlement"
GROUP_CLAIMS = ("wlcg.groups", "groups")


def check_times(claims: Mapping[str, Any], now: float, leeway: float) -> float:
    """Refuse a token outside its validity window; return its expiry (epoch seconds)."""
    exp = claims.get("exp")
    if not _is_number(exp):
        raise Unauthorized("token has no valid expiry time")
    if now > exp + leeway:
        raise Unauthorized("token expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or now + leeway < nbf):
        raise Unauthorized("token is not yet valid")
    iat = claims.get("iat")
    if iat is not None and (not _is_number(iat) or now + leeway < iat):
        raise Unauthorized("token is not yet valid (issued in the future)")
    return float(exp)


def check_audience(claims: Mapping[str, Any], audience: str | None) -> None:
    """With an audience configured, `aud` (a string or a list) must contain it; without one, `aud` is ignored."""
    if audience is None:
        return
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in values:
        raise Unauthorized("token is not meant for this service (wrong audience)")


def subject(claims: Mapping[str, Any]) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("token names no subject")
    if not sub.isprintable() or len(sub) > 1024:  # it becomes the owner of what the caller creates
        raise Unauthorized("token's subject is not a usable identifier")
    return sub


def groups(claims: Mapping[str, Any]) -> frozenset[str]:
    """IAM-style group paths from `wlcg.groups` and `groups`, together."""
    found: set[str] = set()
    for name in GROUP_CLAIMS:
        found |= set(_strings(claims.get(name)))
    return frozenset(found)


def entitlements(claims: Mapping[str, Any]) -> frozenset[str] | None:
    """`eduperson_entitlement` as a set; None when the claim is absent (not the same as present and empty)."""
    if ENTITLEMENT_CLAIM not in claims:
        return None
    return frozenset(_strings(claims[ENTITLEMENT_CLAIM]))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
