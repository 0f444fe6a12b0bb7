"""A robot account's access token, refreshed at its issuer's token endpoint (OAuth 2.0 refresh_token grant)
shortly before it expires. The refresh token and client secret live only in memory, read from the operator's
file; neither is ever logged, nor put in an error message (the issuer's own words are, with them cut out)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests

from execplanner.errors import CloudError, TransientCloudError

EARLY = 60.0  # refresh this many seconds before expiry (at most half the token's lifetime)
TIMEOUT = 15.0


@dataclass
class RefreshingToken:
    token_endpoint: str
    client_id: str
    refresh_token: str = field(repr=False)
    client_secret: str | None = field(default=None, repr=False)
    _token: str | None = field(default=None, repr=False)
    _expires: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    refreshes: int = 0  # how many times it asked the issuer (metrics, tests)

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._refresh()
            assert self._token is not None
            return self._token

    def _refresh(self) -> None:
        data = {"grant_type": "refresh_token", "refresh_token": self.refresh_token, "client_id": self.client_id}
        if self.client_secret:
            data["client_secret"] = self.client_secret
        self.refreshes += 1
        try:
            answer = requests.post(self.token_endpoint, data=data, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise TransientCloudError(
                f"cannot refresh the robot token at {self.token_endpoint}: {type(exc).__name__}"
            ) from exc
        if answer.status_code >= 500:
            raise TransientCloudError(f"the issuer could not refresh the robot token now ({answer.status_code})")
        if answer.status_code != 200:
            raise CloudError(
                f"the issuer refused to refresh the robot token ({answer.status_code} {self._reason(answer)}): "
                "the operator must renew the robot account's refresh token"
            )
        document = answer.json()
        lifetime = float(document.get("expires_in", 300))
        self._token = str(document["access_token"])
        self._expires = time.monotonic() + lifetime - min(EARLY, lifetime / 2)
        if document.get("refresh_token"):
            self.refresh_token = str(document["refresh_token"])

    def _reason(self, answer: requests.Response) -> str:
        """The issuer's `error: error_description`, short, with our secrets cut out should it echo them."""
        try:
            document = answer.json()
            text = f"{document.get('error', '')}: {document.get('error_description', '')}".strip(": ")
        except ValueError:
            text = ""
        for secret in (self.refresh_token, self.client_secret):
            if secret:
                text = text.replace(secret, "…")
        return text[:200] or "no reason given"
