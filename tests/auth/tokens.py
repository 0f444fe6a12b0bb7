"""Helpers shared by the auth tests: hand-made (forged) tokens, and the check that no token leaked anywhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand, as an attacker would, with whatever header and signature they like."""
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


def hs256_with(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """An HS256 token keyed with `secret` (the public key's PEM, in the classic algorithm-confusion attack)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def pieces(token: str) -> list[str]:
    """Parts of a token that must never show: each segment, and any 12-character run of it."""
    found = [segment for segment in token.split(".") if len(segment) >= 12]
    found += [token[i : i + 12] for i in range(0, max(len(token) - 12, 0), 6)]
    return found


def assert_not_leaked(token: str, *texts: str) -> None:
    for text in texts:
        for piece in pieces(token):
            assert piece not in text, "a piece of the token appears in a message or a log line"
