"""Turning values that came from outside (a token's claims, an issuer's answer) into safe message text."""

from __future__ import annotations


def shown(value: object, limit: int = 120) -> str:
    """`value` as one printable, bounded fragment: no newlines to forge log lines, no unbounded length."""
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text[:limit] + ("..." if len(text) > limit else "")
