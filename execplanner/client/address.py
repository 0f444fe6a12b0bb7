"""The service's base URL as people type it: `127.0.0.1:8080`, `broker.example.org`, `https://…/broker/`."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from execplanner.errors import ClientError

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(text: str) -> str:
    """A usable base URL, or a `ClientError` saying what is wrong with the one given.

    Without a scheme, a loopback host means `http://` (a development service) and any other host `https://`
    (a deployed one behind TLS); the path is kept, the trailing slash dropped."""
    text = text.strip()
    if not text:
        raise ClientError("no service URL: give --url or set EXECPLANNER_URL")
    if "://" not in text:
        host = urlsplit("//" + text).hostname or ""
        text = ("http://" if _is_local(host) else "https://") + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ClientError(f"service URL {text!r}: only http:// and https:// are understood")
    try:
        parts.port  # noqa: B018 — raises on a port that is not a number
    except ValueError:
        raise ClientError(f"service URL {text!r}: the port is not a number") from None
    if not parts.hostname:
        raise ClientError(f"service URL {text!r} names no host")
    if parts.query or parts.fragment:
        raise ClientError(f"service URL {text!r}: give the service's base URL, without ? or #")
    return text.rstrip("/")
