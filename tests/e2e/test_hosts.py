"""Issue #16 point 6: with no configured base URL, `Location` and every `href` followed the client's Host header
(`http://evil.example/...`). Now links come from `base_url` when set; without it only allowed hosts are answered
(default: the listen address and loopback names), others get a 400 error document; `X-Forwarded-*` counts only
from `trusted_proxies`."""

from __future__ import annotations

import pytest
import requests
from hostile import NOTEBOOK, serving

REQUEST = {"executable": {"type": NOTEBOOK, "location": "https://example.org/a.ipynb"}}


def ask(base: str, **headers: str) -> requests.Response:
    return requests.post(base + "/offersets", json=REQUEST, headers=headers, allow_redirects=False, timeout=30)


def test_a_foreign_host_is_400_and_writes_no_link(service):
    answer = ask(service.base_url, Host="evil.example")
    assert answer.status_code == 400
    assert "evil.example" in answer.json()["messages"][0]["message"]
    assert "Location" not in answer.headers
    got = requests.get(service.url("/capabilities"), headers={"Host": "evil.example:80"}, timeout=30)
    assert got.status_code == 400
    assert b"evil.example" not in got.content.replace(b"host 'evil.example", b"")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_loopback_names_are_answered_and_linked(service, host):
    answer = ask(service.base_url, Host=f"{host}:{service.port}")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith(f"http://{host}:{service.port}/offersets/")


def test_healthz_answers_any_host(service):
    assert requests.get(service.url("/healthz"), headers={"Host": "10.1.2.3"}, timeout=30).status_code == 200


def test_forwarded_headers_are_ignored_from_untrusted_peers(service):
    answer = ask(service.base_url, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("http://127.0.0.1:")


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory, roomy_catalogue):
    settings = {"EXECPLANNER_BASE_URL": "https://broker.example.org/eb"}
    with serving(tmp_path_factory.mktemp("based"), roomy_catalogue, **settings) as (base_url, _port, _process):
        yield base_url


@pytest.fixture(scope="module")
def trusting_loopback(tmp_path_factory, roomy_catalogue):
    settings = {"EXECPLANNER_TRUSTED_PROXIES": "127.0.0.1"}
    with serving(tmp_path_factory.mktemp("proxied"), roomy_catalogue, **settings) as (base_url, _port, _process):
        yield base_url


def test_links_follow_the_configured_base_url_whatever_the_host(behind_proxy):
    for host in ("broker.example.org", "127.0.0.1"):
        answer = ask(behind_proxy, Host=host)
        assert answer.status_code == 303, answer.text
        assert answer.headers["Location"].startswith("https://broker.example.org/eb/offersets/")
        offers = requests.get(behind_proxy + answer.headers["Location"].split("/eb", 1)[1], timeout=30).json()
        assert all(o["href"].startswith("https://broker.example.org/eb/sessions/") for o in offers["offers"])
    assert ask(behind_proxy, Host="evil.example").status_code == 400


def test_forwarded_headers_are_honoured_from_a_trusted_proxy(trusting_loopback):
    answer = ask(trusting_loopback, **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("https://127.0.0.1:")


def test_an_ipv6_loopback_host_keeps_its_port_in_every_link(service, trusting_loopback):
    """`Host: [::1]:PORT` is an allowed loopback name: the Location, the offers' hrefs, and (behind a trusted proxy
    saying https) the forwarded links all keep the port."""
    answer = ask(service.base_url, Host=f"[::1]:{service.port}")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith(f"http://[::1]:{service.port}/offersets/")
    offers = requests.get(
        service.url(answer.headers["Location"].split(str(service.port), 1)[1]),
        timeout=30,
        headers={"Host": f"[::1]:{service.port}"},
    ).json()["offers"]
    assert offers and all(o["href"].startswith(f"http://[::1]:{service.port}/sessions/") for o in offers)
    port = trusting_loopback.rsplit(":", 1)[1]
    forwarded = ask(trusting_loopback, Host=f"[::1]:{port}", **{"X-Forwarded-Proto": "https"})
    assert forwarded.headers["Location"].startswith(f"https://[::1]:{port}/offersets/")
