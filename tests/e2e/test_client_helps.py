"""`execplanner ask` and `execplanner sessions` as an astronomer uses them, against a real server: bring a request
or the executable itself, read the offers as a table, get a non-zero exit on NO, follow a session, and read one
clear line whenever the service cannot be asked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from support.servers import Service

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REQUEST = ROOT / "examples" / "requests" / "oligia-webtop.yaml"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HEADER = ["UUID", "PHASE", "SITE", "FLAVOR", "CORES", "MEMORY", "START", "DURATION", "EXPIRES", "IN"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, roomy_catalogue: Path) -> Iterator[object]:
    """One SQLite server for this module: the client does not care which database is behind it."""
    started = Service(
        data_dir=tmp_path_factory.mktemp("client"), env={"EXECPLANNER_CATALOGUE": str(roomy_catalogue)}
    ).start()
    yield started
    started.stop()


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in its own process: what a user's shell sees, stdout and stderr apart."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("EXECPLANNER_", "OIDC_"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "execplanner.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def offers_of(output: str) -> list[list[str]]:
    """The rows of the offers table under the YES line."""
    lines = output.splitlines()
    assert lines[1].split() == HEADER, output
    return [line.split() for line in lines[2:] if re.match(rf"^  {UUID}  ", line)]


def test_ask_prints_the_offers_as_a_table(server):
    result = run("ask", str(REQUEST), "--url", server.base_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("YES  " + server.base_url + "/offersets/")
    rows = offers_of(result.stdout)
    assert len(rows) >= 2
    for _uuid, phase, site, flavor, cores, memory, gib, day, time, duration, *expires in rows:
        assert phase == "OFFERED" and site and flavor
        assert int(cores) >= 2 and int(memory) >= 4 and gib == "GiB"
        assert datetime.fromisoformat(f"{day}T{time.rstrip('Z')}+00:00") >= datetime.now(UTC) - timedelta(minutes=2)
        assert duration == "PT4H"
        assert re.fullmatch(r"\d+m \d\ds", " ".join(expires)), expires


def test_a_no_exits_3_and_says_why(server):
    result = run("ask", str(REQUEST), "--url", server.base_url, "--cores", "1000")
    assert result.returncode == 3
    assert result.stdout.startswith("NO  ")
    assert "offers a flavor with 1000 cores" in result.stdout
    assert result.stderr.strip() == "Error: the answer is NO"


def test_describe_request_pipes_into_ask(server):
    described = run("describe", "--request", str(FIXTURES / "compose" / "oligia-webtop-desktop.yml"))
    assert described.returncode == 0, described.stderr
    result = run("ask", "-", "--url", server.base_url, stdin=described.stdout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("YES") and offers_of(result.stdout)


@pytest.mark.parametrize(
    ("executable", "location"),
    [
        ("notebooks/astropy-gaia-v4-with-kernelspec.ipynb", "https://example.org/gaia.ipynb"),
        ("compose/oligia-webtop-desktop.yml", None),  # one image: asked for as that container
        ("containers/oligia-webtop", None),  # a directory with a Dockerfile
        ("repositories/hcg16-casa-udocker", None),
    ],
)
def test_ask_takes_the_executable_itself(server, executable, location):
    where = ["--location", location] if location else []
    result = run("ask", str(FIXTURES / executable), "--url", server.base_url, *where)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("YES") and offers_of(result.stdout)


def test_a_local_notebook_needs_its_location(server):
    notebook = FIXTURES / "notebooks" / "astropy-gaia-v4-with-kernelspec.ipynb"
    result = run("ask", str(notebook), "--url", server.base_url)
    assert result.returncode == 1
    assert _one_line(result) == (
        f"Error: {notebook} is a jupyter-notebook: give --location URL, where the service can fetch it from"
    )


def test_ask_reads_a_notebook_from_standard_input(server):
    notebook = (FIXTURES / "notebooks" / "astropy-gaia-v4-with-kernelspec.ipynb").read_text()
    result = run("ask", "-", "--url", server.base_url, "--location", "https://example.org/gaia.ipynb", stdin=notebook)
    assert result.returncode == 0, result.stderr
    assert offers_of(result.stdout)


def test_the_command_line_figures_win(server):
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    result = run(
        "ask", str(REQUEST), "--url", server.base_url, "--output", "json",
        "--cores", "4", "--memory", "8GiB", "--duration", "90m", "--start", f"{start:%Y-%m-%dT%H:%MZ}/PT2H",
        "--vo", "vo.access.egi.eu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    offerset = json.loads(result.stdout)
    assert offerset["result"] == "YES"
    for offer in offerset["offers"]:
        assert offer["placement"]["cores"] >= 4 and offer["placement"]["memory"] >= 8
        assert offer["placement"]["vo"] == "vo.access.egi.eu"
        assert offer["schedule"]["available"]["duration"] == "PT1H30M"
        begins = datetime.fromisoformat(offer["schedule"]["available"]["start"].split("/")[0].replace("Z", "+00:00"))
        assert start <= begins <= start + timedelta(hours=2)


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_documents_for_programs(server, output):
    result = run("ask", str(REQUEST), "--url", server.base_url, "--output", output)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout) if output == "json" else yaml.safe_load(result.stdout)
    assert document["result"] == "YES" and document["offers"]
    uuid = document["offers"][0]["meta"]["uuid"]
    shown = run("sessions", "show", uuid, "--url", server.base_url, "-o", output)
    session = json.loads(shown.stdout) if output == "json" else yaml.safe_load(shown.stdout)
    assert session["meta"]["uuid"] == uuid and session["phase"] == "OFFERED"


def test_accept_first_then_show_and_cancel(server):
    asked = run("ask", str(REQUEST), "--url", server.base_url, "--accept-first")
    assert asked.returncode == 0, asked.stderr
    accepted = re.search(rf"^accepted:\n.*\n  ({UUID})  ACCEPTED", asked.stdout, re.MULTILINE)
    assert accepted, asked.stdout
    uuid = accepted.group(1)
    cancelled = run("sessions", "cancel", uuid, "--url", server.base_url)
    assert cancelled.returncode == 0 and re.search(rf"^  {uuid}  CANCELLED", cancelled.stdout, re.MULTILINE)
    again = run("sessions", "accept", uuid, "--url", server.base_url)
    assert again.returncode == 4
    assert again.stderr.startswith(f"Error: POST {server.base_url}/sessions/{uuid}: 409 Conflict: ")
    assert len(again.stderr.splitlines()) == 1


# --- one clear line for every failure --------------------------------------------------------------------------


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and "urllib3" not in result.stderr, result.stderr
    assert "HTTPConnectionPool" not in result.stderr and "Max retries" not in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_a_refused_connection_is_one_line(unused_port):
    result = run("ask", str(REQUEST), "--url", f"http://127.0.0.1:{unused_port}")
    assert result.returncode == 5
    assert _one_line(result) == f"Error: cannot reach http://127.0.0.1:{unused_port}: connection refused"


def test_an_unknown_host_is_one_line():
    result = run("sessions", "show", "x", "--url", "http://no-such-host.invalid")
    assert result.returncode == 5
    assert _one_line(result) == "Error: cannot reach http://no-such-host.invalid: unknown host name"


def test_tls_to_a_plain_http_server_is_one_line(server):
    result = run("sessions", "show", "x", "--url", server.base_url.replace("http://", "https://"))
    assert result.returncode == 5
    assert _one_line(result).startswith("Error: cannot reach https://127.0.0.1:")
    assert "TLS failed" in result.stderr


def test_an_unknown_session_is_one_line(server):
    result = run("sessions", "show", "00000000-0000-4000-8000-000000000000", "--url", server.base_url)
    assert result.returncode == 4
    assert _one_line(result).endswith("404 Not Found: no session 00000000-0000-4000-8000-000000000000")


def test_a_url_without_a_scheme_is_understood(server):
    bare = server.base_url.removeprefix("http://")
    result = run("ask", str(REQUEST), "--url", bare)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("YES  " + server.base_url)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://127.0.0.1/", "only http:// and https:// are understood"),
        ("http://", "names no host"),
        ("127.0.0.1:eighty", "the port is not a number"),
    ],
)
def test_a_url_we_cannot_use_is_refused_clearly(url, said):
    result = run("sessions", "show", "x", "--url", url)
    assert result.returncode == 1
    assert said in _one_line(result)


def test_a_missing_file_is_one_line(server, tmp_path):
    result = run("ask", str(tmp_path / "nothing.yaml"), "--url", server.base_url)
    assert result.returncode == 1
    assert _one_line(result) == f"Error: {tmp_path / 'nothing.yaml'}: no such file or directory"


def test_something_that_is_not_an_executable_is_one_line(server, tmp_path):
    (tmp_path / "notes.txt").write_text("just some words\n")
    result = run("ask", str(tmp_path / "notes.txt"), "--url", server.base_url)
    assert result.returncode == 1
    assert "cannot tell what notes.txt is" in _one_line(result)


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- tokens --------------------------------------------------------------------------------------------------


def test_oidc_agent_not_installed_is_one_line(server, tmp_path):
    result = run("ask", str(REQUEST), "--url", server.base_url, "--oidc-agent", "egi", env={"PATH": str(tmp_path)})
    assert result.returncode == 6
    assert _one_line(result).startswith("Error: --oidc-agent egi: oidc-token is not installed")


def _fake_oidc_token(directory: Path, script: str) -> dict[str, str]:
    """An `oidc-token` on PATH (the edge of the world: oidc-agent itself is not installed here)."""
    program = directory / "oidc-token"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    return {"PATH": f"{directory}{os.pathsep}{os.environ['PATH']}"}


def test_oidc_agent_failing_is_one_line(server, tmp_path):
    env = _fake_oidc_token(tmp_path, 'echo "Error: No account configured with that short name" >&2; exit 1')
    result = run("ask", str(REQUEST), "--url", server.base_url, "--oidc-agent", "egi", env=env)
    assert result.returncode == 6
    assert _one_line(result) == (
        "Error: --oidc-agent egi: oidc-token failed: Error: No account configured with that short name"
    )


VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"


def test_the_token_comes_from_oidc_agent(service_factory, idp, tmp_path):
    idp.entitlements.update({"alice": [OPERATOR], "bob": [OPERATOR]})
    alice, bob = idp.mint("alice"), idp.mint("bob")
    trusting = service_factory(EXECPLANNER_ISSUERS=idp.issuer)
    env = _fake_oidc_token(tmp_path, f'[ "$1" = egi ] && echo {alice} || exit 1')
    asked = run("ask", str(REQUEST), "--url", trusting.base_url, "--oidc-agent", "egi", env=env)
    assert asked.returncode == 0, asked.stderr
    uuid = offers_of(asked.stdout)[0][0]
    as_bob = run("sessions", "show", uuid, "--url", trusting.base_url, env={"OIDC_ACCESS_TOKEN": bob})
    assert as_bob.returncode == 4 and ": 403 Forbidden" in _one_line(as_bob)
    as_alice = run("sessions", "show", uuid, "--url", trusting.base_url, "--token", alice)
    assert as_alice.returncode == 0 and "OFFERED" in as_alice.stdout
    assert alice not in asked.stdout + asked.stderr + as_alice.stdout


# --- following sessions --------------------------------------------------------------------------------------


def test_watch_follows_an_offer_until_it_is_rejected(server):
    asked = json.loads(run("ask", str(REQUEST), "--url", server.base_url, "-o", "json").stdout)
    first, second = (offer["meta"]["uuid"] for offer in asked["offers"][:2])
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("EXECPLANNER_", "OIDC_"))}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "execplanner.cli", "sessions", "show", second, "--watch", "--interval", "0.2",
         "--url", server.base_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )  # fmt: skip
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split() == HEADER  # it has looked once: the offer is OFFERED
        assert re.match(rf"^  {second}  OFFERED  ", watcher.stdout.readline())
        accepted = run("sessions", "accept", first, "--url", server.base_url)  # rejects its sibling
        assert accepted.returncode == 0, accepted.stderr
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 3
    assert re.search(rf"^\d\d:\d\d:\d\dZ  {second}  OFFERED -> REJECTED  ", out, re.MULTILINE), out
    assert err.startswith(f"Error: session {second} ended REJECTED") and len(err.splitlines()) == 1


class _ScriptedSession:
    """A service whose one session moves on one phase per look: ACCEPTED … AVAILABLE with an access URL. The
    real lifecycle does not launch yet, so this stands in for the far side of the HTTP edge."""

    PHASES = ["ACCEPTED", "WAITING", "PREPARING", "AVAILABLE"]

    def __init__(self) -> None:
        import http.server
        import threading

        self.looks = 0
        script = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the stdlib's name
                phase = script.PHASES[min(script.looks, len(script.PHASES) - 1)]
                script.looks += 1
                body = json.dumps(script.session(phase)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def session(self, phase: str) -> dict:
        access = [{"protocol": "HTTP", "status": "AVAILABLE", "locations": ["http://127.0.0.9:3000/"]}]
        return {
            "meta": {"uuid": "5e551011-0000-4000-8000-000000000001", "url": f"{self.url}/sessions/5e551011"},
            "phase": phase,
            "placement": {"site": "IFCA-LCG2", "flavor": "cm4.medium", "cores": 2, "memory": 4},
            "executable": {"kind": "docker-container", "access": access if phase == "AVAILABLE" else []},
        }


def test_watch_prints_the_access_url_when_available():
    scripted = _ScriptedSession()
    try:
        uuid = "5e551011-0000-4000-8000-000000000001"
        watched = run("sessions", "show", uuid, "--watch", "--interval", "0.1", "--url", scripted.url)
    finally:
        scripted.httpd.shutdown()
    assert watched.returncode == 0, watched.stderr
    moves = re.findall(rf"^\d\d:\d\d:\d\dZ  {uuid}  (\w+) -> (\w+)", watched.stdout, re.MULTILINE)
    assert moves == [("ACCEPTED", "WAITING"), ("WAITING", "PREPARING"), ("PREPARING", "AVAILABLE")]
    assert watched.stdout.rstrip().endswith("access: http://127.0.0.9:3000/")


def test_sessions_list_filters_by_phase(server):
    probe = run("sessions", "list", "--url", server.base_url, "--limit", "1")
    if probe.returncode == 4 and "405" in probe.stderr:
        pytest.skip("this server has no GET /sessions yet (issue 13, point 1)")
    asked = run("ask", str(REQUEST), "--url", server.base_url, "--accept-first", "-o", "json")
    assert asked.returncode == 0, asked.stderr
    listed = run("sessions", "list", "--phase", "ACCEPTED", "--url", server.base_url)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert listed.stdout.splitlines()[0].split() == HEADER
    assert rows and all(row[1] == "ACCEPTED" for row in rows)
    as_json = json.loads(run("sessions", "list", "--phase", "REJECTED", "--url", server.base_url, "-o", "json").stdout)
    assert as_json["sessions"] and {s["phase"] for s in as_json["sessions"]} == {"REJECTED"}
