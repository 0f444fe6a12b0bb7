"""Offers hold capacity: under 200 concurrent requests for a site with room for 10 VMs, never more than 10
are promised — on SQLite and on PostgreSQL — and capacity comes back when offers are rejected or expire."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy

from execplanner.catalogue import (
    Catalogue,
    Flavor,
    Image,
    Network,
    NetworkRole,
    PublicAccess,
    Quota,
    QuotaItem,
    Site,
    SiteVO,
)

REQUEST = {
    "vo": "vo.escape.eu",
    "executable": {
        "type": "https://www.purl.org/ivoa.net/EB/schema/types/executables/docker-container-1.0",
        "image": {"locations": ["ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"]},
        "network": {"ports": [{"internal": {"port": 3000}, "protocol": "HTTP", "access": True}]},
    },
    "resources": {"compute": [{"cores": {"requested": {"min": 2}}, "memory": {"requested": {"min": 4}}}]},
}
ACCEPT = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}
ROOM = 10


@pytest.fixture
def one_site_catalogue(tmp_path: Path) -> Path:
    catalogue = Catalogue(
        source="test: one small site",
        sites=[
            Site(
                name="TINY-CLOUD",
                endpoint="https://tiny.example.org:5000/v3",
                vos=[
                    SiteVO(
                        vo="vo.escape.eu",
                        project_id="p-tiny",
                        flavors=[Flavor(id="f2", name="m1.medium", vcpus=2, ram=4096, disk=40)],
                        images=[
                            Image(
                                id="i1",
                                name="Ubuntu 22.04 Docker",
                                os_family="linux",
                                os_distro="ubuntu",
                                os_version="22.04",
                                appliances=["docker"],
                            )
                        ],
                        networks=[
                            Network(id="n1", name="provider-1", role=NetworkRole.PUBLIC, access=PublicAccess.DIRECT)
                        ],
                        quota=Quota(
                            instances=QuotaItem(limit=ROOM),
                            cores=QuotaItem(limit=100),
                            ram=QuotaItem(limit=409600),
                            floating_ips=QuotaItem(limit=0),
                        ),
                    )
                ],
            )
        ],
    )
    path = tmp_path / "tiny.yaml"
    catalogue.save(path)
    return path


def held_instances(service) -> int:
    url = service.database or f"sqlite:///{service.data_dir / 'execplanner.sqlite'}"
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sqlalchemy.text(
                    "SELECT coalesce(sum(instances), 0) FROM sessions WHERE site = 'TINY-CLOUD' AND phase IN "
                    "('OFFERED','ACCEPTED','WAITING','PREPARING','AVAILABLE','RUNNING','RELEASING')"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def ask(url: str) -> dict:
    with requests.Session() as http:
        answer = http.post(
            url,
            data=json.dumps(REQUEST),
            headers={"Content-Type": "application/json"},
            timeout=120,
            allow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return answer.json()


def test_two_hundred_concurrent_requests_never_overcommit(service_factory, database_url, one_site_catalogue):
    server = service_factory(database=database_url, EXECPLANNER_CATALOGUE=str(one_site_catalogue))
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda _: ask(server.url("/offersets")), range(200)))
    promised = sum(len(a["offers"]) for a in answers)
    assert promised == ROOM  # every slot offered once, none twice
    assert held_instances(server) == ROOM
    refused = [a for a in answers if a["result"] == "NO"]
    assert len(refused) >= 200 - ROOM
    assert all("full" in a["messages"][0]["message"] and "TINY-CLOUD" in a["messages"][0]["message"] for a in refused)

    # accepting one offer of a set rejects its siblings, and their capacity is offered again
    with_siblings = next(a for a in answers if len(a["offers"]) > 1)
    requests.post(with_siblings["offers"][0]["href"], json=ACCEPT, timeout=30).raise_for_status()
    assert held_instances(server) == ROOM - (len(with_siblings["offers"]) - 1)
    again = ask(server.url("/offersets"))
    assert again["result"] == "YES"
    assert held_instances(server) == ROOM


def test_expired_offers_give_capacity_back(service_factory, one_site_catalogue, wait_for):
    server = service_factory(EXECPLANNER_CATALOGUE=str(one_site_catalogue), EXECPLANNER_OFFER_EXPIRY_SECONDS="1")
    first = [ask(server.url("/offersets")) for _ in range(4)]
    assert sum(len(a["offers"]) for a in first) == ROOM
    assert ask(server.url("/offersets"))["result"] == "NO"
    wait_for(lambda: held_instances(server) == 0, timeout=5)
    assert ask(server.url("/offersets"))["result"] == "YES"


def test_no_over_http_explains_in_plain_words(http, service):
    too_big = json.loads(json.dumps(REQUEST))
    too_big["resources"]["compute"][0]["memory"]["requested"]["min"] = 4096
    document = http.post(service.url("/offersets"), json=too_big).json()
    assert document["result"] == "NO"
    message = document["messages"][0]["message"]
    assert message.startswith("no site supporting vo.escape.eu offers a flavor with 4096 GiB RAM; largest is ")


def test_accepts_uses_the_same_planner(http, service):
    document = http.get(
        service.url("/accepts"), params={"tasktype": "uri://docker-container", "resources.minmemory": "4096"}
    ).json()
    assert document["reponseword"] == "NO"
    assert "4096 GiB RAM" in document["reponseinfo"]["reasons"][0]["text"]
