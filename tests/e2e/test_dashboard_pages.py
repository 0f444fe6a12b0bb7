"""The dashboard's pages without a browser: whose things a page shows, forms from elsewhere refused, mistakes
answered with the form and a sentence, nothing fetched from another host."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json"
VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
ADMIN = "operator-admin-token-0123456789"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
NOTEBOOK = "https://github.com/ivoa/example-notebooks/raw/main/galaxy-colours.ipynb"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_pages_are_owner_scoped_like_the_api(http, app_factory, idp):
    idp.entitlements.update({"alice": [OPERATOR], "bob": [OPERATOR]})
    alice, bob = idp.mint("alice"), idp.mint("bob")
    server = app_factory(EXECPLANNER_ISSUERS=idp.issuer, EXECPLANNER_ADMIN_TOKEN=ADMIN)
    created = http.post(
        server.url("/offersets"), data=EXAMPLE.read_bytes(), headers={**JSON, **bearer(alice)}, allow_redirects=False
    )
    offerset = http.get(created.headers["Location"], headers={**JSON, **bearer(alice)}).json()
    session = offerset["offers"][0]["uuid"]

    mine = http.get(server.url("/"), headers=bearer(alice)).text
    assert f"/ui/offersets/{offerset['uuid']}" in mine and "Your offer sets" in mine
    assert f"/ui/offersets/{offerset['uuid']}" not in http.get(server.url("/"), headers=bearer(bob)).text
    everyone = http.get(server.url("/"), headers=bearer(ADMIN)).text
    assert f"/ui/offersets/{offerset['uuid']}" in everyone and "All offer sets" in everyone

    refused = http.get(server.url(f"/ui/sessions/{session}"), headers=bearer(bob))
    assert refused.status_code == 403 and "Not yours to see" in refused.text
    assert "belongs to another user" in refused.text
    assert http.get(server.url(f"/ui/sessions/{session}"), headers=bearer(ADMIN)).status_code == 200
    steal = http.post(
        server.url(f"/ui/sessions/{session}"), data={"phase": "ACCEPTED"}, headers=bearer(bob), allow_redirects=False
    )
    assert steal.status_code == 403
    accepted = http.post(
        server.url(f"/ui/sessions/{session}"), data={"phase": "ACCEPTED"}, headers=bearer(alice), allow_redirects=False
    )
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(f"/ui/sessions/{session}")


def test_forms_from_elsewhere_are_refused_and_mistakes_explained(http, app_factory):
    server = app_factory()
    elsewhere = http.post(
        server.url("/ui/ask"),
        data={"kind": "notebook", "location": NOTEBOOK},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert elsewhere.status_code == 403 and "own pages" in elsewhere.text

    mistaken = http.post(
        server.url("/ui/ask"),
        data={"kind": "container", "location": "not an image!", "cores": "lots", "memory": "4", "hours": "2"},
    )
    assert mistaken.status_code == 400
    assert "container image reference" in mistaken.text and "Give a number of cores" in mistaken.text
    assert 'value="not an image!"' in mistaken.text  # what was typed is kept

    asked = http.post(
        server.url("/ui/ask"),
        data={
            "kind": "container",
            "location": "docker.io/library/nginx:1.27",
            "cores": "1",
            "memory": "2",
            "hours": "1",
        },
        headers={"Origin": server.base_url},
        allow_redirects=False,
    )
    assert asked.status_code == 303 and "/ui/offersets/" in asked.headers["Location"]
    page = http.get(asked.headers["Location"])
    assert page.status_code == 200 and "Accept this offer" in page.text

    wrong = http.post(server.url("/ui/sessions/00000000-0000-0000-0000-000000000000"), data={"phase": "ACCEPTED"})
    assert wrong.status_code == 404 and "text/html" in wrong.headers["content-type"]


def test_every_page_loads_only_from_this_service(http, app_factory):
    server = app_factory()
    for path in ("/", "/ui/catalogue", "/docs"):
        page = http.get(server.url(path))
        assert page.status_code == 200, path
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        foreign = [
            s for s in sources if s.startswith(("http://", "https://", "//")) and not s.startswith(server.base_url)
        ]
        assert not foreign, (path, foreign)
        for source in sources:
            if source.endswith((".css", ".js")):
                url = source if source.startswith("http") else server.url("/" + source.lstrip("/"))
                assert http.get(url).status_code == 200, source
