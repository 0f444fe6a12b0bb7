"""Every cloud call is counted once in `execplanner_cloud_calls_total`, by the connection's site, the operation
and how it ended; the failure leaves as our CloudError either way."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc
from prometheus_client import REGISTRY

from execplanner.cloud._errors import calling, site_of, tag_site
from execplanner.errors import CloudError, TransientCloudError

NAME = "execplanner_cloud_calls_total"


def _http(status: int, text: str) -> os_exc.HttpException:
    """What openstacksdk raises for an HTTP error answer (built without a response, as a site would send)."""
    exc = os_exc.HttpException(text)
    exc.status_code = status
    return exc


def _count(site: str, operation: str, outcome: str) -> float:
    labels = {"site": site, "operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value(NAME, labels) or 0.0


@pytest.mark.parametrize(
    ("raised", "outcome", "error"),
    [
        (None, "ok", None),
        (_http(403, "Quota exceeded for ram"), "error", CloudError),
        (_http(503, "Service Unavailable"), "transient", TransientCloudError),
        (ks_exc.ConnectFailure("connection refused"), "transient", TransientCloudError),
        (ks_exc.ConnectTimeout("no answer"), "timeout", TransientCloudError),
        (_http(504, "Gateway Timeout"), "timeout", TransientCloudError),
        (CloudError("the server has no port to attach a floating IP to"), "error", CloudError),
    ],
)
def test_a_call_counts_once_by_site_operation_and_outcome(raised, outcome, error) -> None:
    conn = tag_site(SimpleNamespace(), "TEST-SITE-" + outcome)
    before = _count(site_of(conn), "create_server", outcome)
    if raised is None:
        with calling(conn, "create_server", "creating the server"):
            pass
    else:
        with pytest.raises(error) as caught, calling(conn, "create_server", "creating the server"):
            raise raised
        assert type(caught.value) is error
    assert _count(site_of(conn), "create_server", outcome) == before + 1
    others = [o for o in ("ok", "error", "transient", "timeout") if o != outcome]
    assert all(_count(site_of(conn), "create_server", o) == 0 for o in others)


def test_an_untagged_connection_counts_as_unknown_site() -> None:
    before = _count("unknown", "get_server", "ok")
    with calling(object(), "get_server", "waiting for the server"):
        pass
    assert _count("unknown", "get_server", "ok") == before + 1
