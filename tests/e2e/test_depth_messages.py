"""A document nested past `max_document_depth` is refused naming the limit, whatever its format: JSON deeper than
orjson's own 1,024 levels was answered "malformed JSON: depth limit exceeded", which names neither our limit nor
what to change."""

from __future__ import annotations

import pytest
import requests

DEEP = 5_000
BODIES = [
    pytest.param(b'{"a":' * DEEP + b"1" + b"}" * DEEP, "application/json", id="json-beyond-orjson"),
    pytest.param(b'{"a":' * 100 + b"1" + b"}" * 100, "application/json", id="json-100"),
    pytest.param(b"[" * DEEP + b"]" * DEEP, "application/yaml", id="yaml"),
    pytest.param(
        b"<offers-request>" + b"<a>" * DEEP + b"</a>" * DEEP + b"</offers-request>", "application/xml", id="xml"
    ),
]


@pytest.mark.parametrize("body,content_type", BODIES)
def test_too_deep_names_the_limit_in_every_format(service, body, content_type):
    answer = requests.post(service.url("/offersets"), data=body, headers={"Content-Type": content_type}, timeout=60)
    assert answer.status_code == 400, answer.text[:300]
    assert "nested more than 64 levels deep" in answer.json()["messages"][0]["message"]
