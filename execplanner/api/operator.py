"""Who is the operator: whoever presents the admin token (`EXECPLANNER_ADMIN_TOKEN`).

The same token that opens `/admin/…` lets lists and the dashboard show every user's offer sets and sessions.
It is compared in constant time and never verified as an OIDC token (it is not one), so it works whether or not
trusted issuers are configured. Without an admin token configured there is no operator view.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from execplanner.auth import bearer_token


def is_operator(request: Request) -> bool:
    """True when the request carries the configured admin token as its bearer token."""
    configured = request.app.state.settings.admin_token
    if configured is None:
        return False
    sent = bearer_token(request.headers.get("authorization"))
    return sent is not None and hmac.compare_digest(sent.encode(), configured.get_secret_value().encode())
