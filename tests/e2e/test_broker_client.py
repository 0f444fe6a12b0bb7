"""`execplanner.client.BrokerClient` as a platform uses it from Python (docs/esap.md): ask, read the offers,
accept one, follow the session; every failure one `ClientError` with a readable line."""

from __future__ import annotations

from pathlib import Path

import pytest

from execplanner.client import BrokerClient
from execplanner.errors import ClientError, ServiceRefused, ServiceUnreachable

REQUEST = Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.yaml"

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)


def test_ask_accept_follow(service):
    broker = BrokerClient(service.base_url.removeprefix("http://"))
    offerset = broker.ask(REQUEST.read_bytes(), "application/yaml")
    assert offerset.result == "YES" and offerset.url.startswith(service.base_url + "/offersets/")
    first, *others = offerset.offers
    assert first.phase == "OFFERED" and first.site and first.cores and first.memory_gib and first.start
    assert first.expires_in().endswith("s")
    session = broker.accept(first.uuid)
    assert session.phase == "ACCEPTED" and not session.is_final and session.expires_in() == "-"
    assert all(broker.session(o.uuid).phase == "REJECTED" for o in others)
    assert broker.offerset(offerset.uuid).offers[0].uuid == first.uuid
    assert broker.cancel(session.url).is_final


def test_errors_are_client_errors(service):
    broker = BrokerClient(service.base_url)
    with pytest.raises(ServiceRefused) as refused:
        broker.ask(b"executable: {}", "application/yaml")
    assert refused.value.status == 400 and refused.value.exit_code == 4
    assert "\n" not in refused.value.message
    with pytest.raises(ServiceUnreachable, match="connection refused"):
        BrokerClient("http://127.0.0.1:9", timeout=5).session("x")
    with pytest.raises(ClientError, match="only http:// and https://"):
        BrokerClient("gopher://127.0.0.1")
