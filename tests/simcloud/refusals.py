"""An auth refusal surfaces from keystoneauth or from openstacksdk depending on which layer met it first."""

from __future__ import annotations

import openstack
from keystoneauth1.exceptions.http import HttpError

REFUSED = (openstack.exceptions.HttpException, HttpError)


def http_status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
