"""The few HTTP calls the auth package makes, reduced to (status, JSON) or one plain `Unreachable` error.

Kept apart so that no caller ever formats a `requests` exception itself: those can quote request details, and
a request to userinfo or introspection carries the caller's token.
"""

from __future__ import annotations

from typing import Any

import requests

#: Largest answer we read from an identity provider; discovery documents and JWKS are a few kilobytes.
MAX_BODY = 1024 * 1024


class Unreachable(Exception):
    """The server could not be reached or did not answer HTTP sensibly; the message names the failure kind."""


def call(http: requests.Session, method: str, url: str, *, timeout: float, **kwargs: Any) -> requests.Response:
    """One request; any transport failure becomes `Unreachable` with the exception's type name only."""
    try:
        response = http.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise Unreachable(type(exc).__name__) from None
    if len(response.content) > MAX_BODY:
        raise Unreachable("answer too large")
    return response


def json_object(response: requests.Response) -> dict[str, Any]:
    """The body as a JSON object, or `Unreachable` (a login page or a proxy error is as good as no answer)."""
    try:
        data = response.json()
    except ValueError:
        raise Unreachable(f"HTTP {response.status_code} answer is not JSON") from None
    if not isinstance(data, dict):
        raise Unreachable(f"HTTP {response.status_code} answer is not a JSON object")
    return data
