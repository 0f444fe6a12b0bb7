"""Issue #16 point 1–2: a ~1 KB YAML alias bomb or a 480 KB XML document of unknown elements stalled every client
(/healthz for 24 s to over 120 s) and a 900-byte bomb with an unknown executable type stored a 25 MB row. Each
is refused now with a 400, while /healthz keeps answering within 100 ms, on both databases."""

from __future__ import annotations

import pytest
import requests
from hostile import HealthProbe, largest_stored_request, xml_unknown_elements, yaml_alias_bomb

HEALTHZ_WITHIN = 0.100


def post(service, body: bytes, content_type: str) -> requests.Response:
    return requests.post(
        service.url("/offersets"), data=body, headers={"Content-Type": content_type}, allow_redirects=False, timeout=60
    )


def refused_while_healthy(service, body: bytes, content_type: str) -> requests.Response:
    with HealthProbe(service.url("/healthz")).running() as probe:
        answer = post(service, body, content_type)
        post(service, body, content_type)  # twice, so the prober is surely measuring while one is read
    assert probe.latencies, "the prober never got an answer"
    assert probe.worst < HEALTHZ_WITHIN, f"/healthz took {probe.worst:.3f} s while a hostile document was read"
    return answer


@pytest.mark.alone  # a latency bound: beside no other test (docs/testing.md)
@pytest.mark.parametrize("aliases", [45, 48])
def test_yaml_alias_bomb_is_refused_without_stalling(service, aliases):
    body = yaml_alias_bomb(aliases)
    assert len(body) < 1100
    answer = refused_while_healthy(service, body, "application/yaml")
    assert answer.status_code == 400, answer.text[:300]
    assert "aliases" in answer.json()["messages"][0]["message"]


@pytest.mark.alone  # a latency bound: beside no other test (docs/testing.md)
@pytest.mark.parametrize("count", [60_000, 120_000], ids=["480KB", "960KB"])
def test_xml_of_unknown_elements_is_refused_without_stalling(service, count):
    body = xml_unknown_elements(count)
    assert len(body) >= count * 8
    answer = refused_while_healthy(service, body, "application/xml")
    assert answer.status_code == 400, answer.text[:300]


def test_a_few_hundred_unknown_elements_still_name_the_first(service):
    answer = post(service, xml_unknown_elements(500), "application/xml")
    assert answer.status_code == 400
    assert "u" in answer.json()["messages"][0]["message"]


def test_alias_bomb_with_unknown_type_stores_no_big_row(service):
    body = yaml_alias_bomb(45, executable_type="urn:example:quantum-annealer")
    assert len(body) < 1000
    answer = post(service, body, "application/yaml")
    assert answer.status_code == 400, answer.text[:300]
    assert largest_stored_request(service) < 64 * 1024


def test_small_aliases_still_work_and_stay_small(service):
    body = (
        b"executable: &exe {type: urn:example:quantum-annealer, location: https://example.org/x}\n"
        b"notes: [*exe, *exe, *exe]\n"
    )
    answer = post(service, body, "application/yaml")
    assert answer.status_code == 303, answer.text[:300]
    assert requests.get(answer.headers["Location"], timeout=30).json()["result"] == "NO"
