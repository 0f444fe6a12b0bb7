"""openstacksdk's and keystoneauth's exceptions turned into ours, keeping the cloud's own words.

5xx, timeouts and connection failures become `TransientCloudError` (worth retrying); everything else (quota,
bad request, refused credentials) a plain `CloudError`. A message never carries a secret: callers pass the
strings to scrub.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def calling(step: str, secrets: tuple[str, ...] = ()) -> Iterator[None]:
    """Run cloud calls; any failure leaves as a CloudError naming the step."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as os_exc

    try:
        yield
    except CloudError:
        raise
    except (os_exc.SDKException, ks_exc.ClientException, OSError) as exc:
        raise translate(exc, step, secrets) from exc
