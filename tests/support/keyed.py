"""What the Idempotency-Key tests share (tests/e2e/test_idempotency.py and test_attack_idempotency.py): a module's
in-process server per backend with a fake Check-in, a new person per test (so the owner's lists show only what
that test made), and requests with or without a key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from auth.fake_idp import FakeIdP

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requests" / "oligia-webtop.json"
VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    with FakeIdP.start() as provider:
        yield provider


@pytest.fixture(scope="module")
def server(module_app_factory: Any, idp: FakeIdP, module_database_url: str) -> Iterator[Any]:
    """In process, one per backend for the module; nothing launches (no cloud): what is booked is what counts."""
    started = module_app_factory(database=module_database_url, EXECPLANNER_ISSUERS=idp.issuer)
    yield started
    started.stop()


def new_person(idp: FakeIdP, prefix: str = "p") -> str:
    """A token of someone new, who may launch in the VO."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    idp.entitlements[name] = [OPERATOR]
    return idp.mint(name)


@pytest.fixture
def person(idp: FakeIdP) -> str:
    return new_person(idp)


def document(name: str = "retried", executable_type: str | None = None) -> dict[str, Any]:
    tree: dict[str, Any] = json.loads(EXAMPLE.read_text())
    tree["name"] = name
    if executable_type is not None:
        tree["executable"]["type"] = executable_type
    return tree


def body(name: str = "retried", executable_type: str | None = None) -> bytes:
    return json.dumps(document(name, executable_type)).encode()


def post(
    http: requests.Session,
    server: Any,
    path: str,
    token: str | None,
    data: bytes,
    key: str | bytes | None,
    content_type: str | None = None,
) -> requests.Response:
    headers: dict[str, Any] = {**JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    return http.post(server.url(path), data=data, headers=headers, allow_redirects=False)


def listed(http: requests.Session, server: Any, path: str, token: str) -> list[dict[str, Any]]:
    answer = http.get(server.url(path), headers={**JSON, "Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()[path.strip("/")]
    return items
