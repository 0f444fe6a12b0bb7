"""The `execplanner ask` and `execplanner sessions` commands against a real server."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from execplanner.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requests" / "oligia-webtop.yaml"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_ask_lists_offers_and_sessions_accepts_one(service):
    runner = CliRunner()
    asked = runner.invoke(main, ["ask", str(EXAMPLE), "--url", service.base_url])
    assert asked.exit_code == 0, asked.output
    assert asked.output.startswith("YES")
    offers = re.findall(rf"^  ({UUID})  OFFERED", asked.output, re.MULTILINE)
    assert len(offers) >= 2
    accepted = runner.invoke(main, ["sessions", "accept", offers[0], "--url", service.base_url])
    assert accepted.exit_code == 0 and "ACCEPTED" in accepted.output
    shown = runner.invoke(main, ["sessions", "show", offers[1]], env={"EXECPLANNER_URL": service.base_url})
    assert "REJECTED" in shown.output
    again = runner.invoke(main, ["sessions", "accept", offers[1], "--url", service.base_url])
    assert again.exit_code != 0 and "409" in again.output


def test_ask_reports_an_unreachable_service(tmp_path):
    result = CliRunner().invoke(main, ["ask", str(EXAMPLE), "--url", "http://127.0.0.1:9"])
    assert result.exit_code != 0 and "cannot reach" in result.output
