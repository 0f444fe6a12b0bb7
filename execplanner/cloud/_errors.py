"""openstacksdk's and keystoneauth's exceptions turned into ours, keeping the cloud's own words, and every call
counted.

5xx, timeouts and connection failures become `TransientCloudError` (worth retrying); everything else (quota,
bad request, refused credentials) a plain `CloudError`. A message never carries a secret: callers pass the
strings to scrub. `calling(conn, operation, step)` wraps one call (or one idempotent group of calls) and counts
it once in `execplanner_cloud_calls_total` by the connection's site (a catalogue name, set by `tag_site`),
the operation (a fixed word of the call site) and the outcome (`OUTCOMES`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from execplanner import metrics
from execplanner.errors import CloudError, TransientCloudError

MAX_MESSAGE = 500


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "http_status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    return None


def _transient(exc: BaseException) -> bool:
    from keystoneauth1 import exceptions as ks_exc

    status = _status(exc)
    if status is not None:
        return status >= 500 or status == 429
    retriable = ks_exc.ConnectFailure | ks_exc.ConnectTimeout | ks_exc.RetriableConnectionFailure
    return isinstance(exc, retriable | TimeoutError | ConnectionError)


def _text(exc: BaseException) -> str:
    """The cloud's own message (the body's), with its HTTP status; not openstacksdk's 'Client Error for url'."""
    details, status = getattr(exc, "details", None), _status(exc)
    text = f"{status} {details}" if details and status else str(details or exc)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def translate(exc: BaseException, step: str, secrets: tuple[str, ...] = ()) -> CloudError:
    text = _text(exc) or type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    message = f"{step}: {text}"
    return TransientCloudError(message) if _transient(exc) else CloudError(message)


OUTCOMES = ("ok", "error", "transient", "timeout")  # the `outcome` label's values, documented in observability.md
_SITE = "_execplanner_site"
UNKNOWN_SITE = "unknown"


def tag_site(conn: Any, site: str) -> Any:
    """Mark a connection with the catalogue name of the site it talks to, for the call counter; returns it."""
    setattr(conn, _SITE, site)
    return conn


def site_of(conn: Any) -> str:
    site = getattr(conn, _SITE, None)
    return site if isinstance(site, str) else UNKNOWN_SITE


def _timeout(exc: BaseException) -> bool:
    from keystoneauth1 import exceptions as ks_exc

    return _status(exc) in (408, 504) or isinstance(exc, ks_exc.ConnectTimeout | TimeoutError)


def _outcome(exc: BaseException) -> str:
    """How a failed call ended: the cloud did not answer in time, failed in a way worth retrying, or refused."""
    cause = exc.__cause__ if isinstance(exc, CloudError) and exc.__cause__ is not None else exc
    if _timeout(cause):
        return "timeout"
    if isinstance(exc, TransientCloudError) or (not isinstance(exc, CloudError) and _transient(exc)):
        return "transient"
    return "error"


@contextlib.contextmanager
def calling(conn: Any, operation: str, step: str, secrets: tuple[str, ...] = ()) -> Iterator[None]:
    """Run one cloud call (`operation`, a fixed word such as `create_server`); any failure leaves as a CloudError
    naming the step. Counted once, by site, operation and outcome; do not nest these blocks (it would count
    twice)."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as os_exc

    outcome = "error"
    try:
        yield
        outcome = "ok"
    except CloudError as exc:
        outcome = _outcome(exc)
        raise
    except (os_exc.SDKException, ks_exc.ClientException, OSError) as exc:
        outcome = _outcome(exc)
        raise translate(exc, step, secrets) from exc
    finally:
        metrics.CLOUD_CALLS.labels(site_of(conn), operation, outcome).inc()
