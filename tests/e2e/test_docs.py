"""The docs tell the truth: every file they `@`-reference or link to exists, none names a path of a development
machine, and every command in docs/quickstart.md runs against a real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md"])
QUICKSTART = ROOT / "docs" / "quickstart.md"
# curl's --data-binary @FILE and -F 'name=@FILE;type=…'
AT_REFERENCE = re.compile(r"""(?<=[\s='"])@([\w][\w./-]*\.\w+)""")
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)")
DEVELOPMENT_PATHS = re.compile(r"/work/|/home/\w|/root/|/Users/|/tmp/pytest|\.venv/lib/")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_referenced_file_exists(doc: Path):
    text = doc.read_text()
    written = set(re.findall(r"(?:> ?|-o )([\w./-]+)", text))  # files an earlier command of the doc writes
    for reference in set(AT_REFERENCE.findall(text)) - written:
        assert (ROOT / reference).is_file(), f"{doc.name} sends @{reference}, which does not exist"
    for link in LINK.findall(text):
        assert (doc.parent / link).exists(), f"{doc.name} links to {link}, which does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_no_path_of_a_development_machine(doc: Path):
    found = [line for line in doc.read_text().splitlines() if DEVELOPMENT_PATHS.search(line)]
    assert not found, f"{doc.name}: " + " | ".join(found)


def quickstart_commands() -> list[str]:
    """Each shell command of the quick start's ```sh blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", QUICKSTART.read_text(), re.DOTALL):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("  # ")[0].strip()
            if command and not command.startswith("#") and not command.startswith("make "):
                commands.append(command)
    return commands


def _fresh_offer(base_url: str) -> tuple[str, str]:
    body = (ROOT / "examples" / "requests" / "oligia-webtop.json").read_bytes()
    answer = requests.post(f"{base_url}/offersets", data=body, headers={"Content-Type": "application/json"})
    offerset = answer.json()
    return offerset["uuid"], offerset["offers"][0]["uuid"]


def _failure_in(output: str) -> str | None:
    """An HTTP error the command's output shows: a status line, or an error document."""
    for status in re.findall(r"^HTTP/1\.1 (\d{3})", output, re.MULTILINE):
        if int(status) >= 400:
            return f"HTTP {status}"
    try:
        document = json.loads(output)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("status"), int) and document["status"] >= 400:
        return f"error document {document['status']}: {document.get('messages')}"
    return None


def test_every_quickstart_command_runs(service_factory, tmp_path):
    server = service_factory()
    offerset, offer = _fresh_offer(server.base_url)
    (tmp_path / "oidc-token").write_text("#!/bin/sh\necho not-a-real-token\n")  # oidc-agent is not installed here
    (tmp_path / "oidc-token").chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EXECPLANNER_")}
    environment.update(
        EXECPLANNER_URL=server.base_url,
        PATH=os.pathsep.join([str(tmp_path), str(Path(sys.executable).parent), environment.get("PATH", "")]),
    )
    commands = quickstart_commands()
    assert len(commands) >= 12 and any(c.startswith("execplanner ask") for c in commands)
    for command in commands:
        runnable = (
            command.replace("http://127.0.0.1:8080", server.base_url)
            .replace("<offerset-uuid>", offerset)
            .replace("<offer-uuid>", offer)
        )
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", runnable],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
            timeout=120,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        failure = _failure_in(done.stdout)
        assert failure is None, f"{command}: {failure}\n{done.stdout[:2000]}"
