"""How well the capacity calendar uses the bundled federation (issue #10.9). Not a test: it prints figures.

(a) polite clients — ask, accept the first offer, reject the rest: sessions admitted to start now before now is
    full, as a ratio of the most the quotas allow for that request shape (target ≥ 0.95);
(b) clients that never reject — offer sets answered YES before the first NO (target ≥ 30);
(c) when now is full (filled with direct requests), the share of requests with a start interval in the next
    24 h that still get a YES (target 100 % where the calendar has room).
Each part runs against a fresh `execplanner serve` with the bundled catalogue and its quotas.
Run: `python bench/capacity.py [--limit 400] [--later 24]`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from _load import start

from execplanner.booking.offersets import resolved
from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.formats import decode
from execplanner.formats.iso8601 import parse_duration, parse_instant
from execplanner.planner.match import Fit, static_fit
from execplanner.planner.needs import needs_of
from execplanner.planner.timing import need_of

ROOT = Path(__file__).resolve().parents[1]
REQUEST = {
    **json.loads((ROOT / "examples" / "requests" / "jupyter-notebook.json").read_text()),
    "vo": "vo.access.egi.eu",
}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
ACCEPT = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}
REJECT = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "REJECTED"}}
VO = "vo.access.egi.eu"


def most_at_once(catalogue: Catalogue, request: dict) -> int:
    """How many VMs of this request's shape the quotas allow at one instant, summed over the sites that fit."""
    asked = resolved(decode.read_offerset_request(request))
    needs = needs_of(asked)
    total = 0
    for site, site_vo in catalogue.sites_for_vo(VO):
        fit = static_fit(site, site_vo, needs)
        if isinstance(fit, Fit):
            total += _vms(site_vo.quota, need_of(fit, needs))
    return total


def _vms(quota, need) -> int:
    if quota is None:
        return 10**6
    items = {"instances": "instances", "cores": "cores", "memory_mib": "ram", "floating_ips": "floating_ips"}
    room = []
    for name, item_name in items.items():
        item, amount = getattr(quota, item_name), getattr(need, name)
        if amount and item.limit is not None:
            room.append(max(item.limit - item.in_use, 0) // amount)
    return min(room) if room else 10**6


class Server:
    def __init__(self, workdir: Path, name: str) -> None:
        env = {**os.environ, "EXECPLANNER_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "execplanner.cli", "serve", "--port", "0", "--data-dir", str(workdir / name)]
        self.process, self.url = start(command, env)
        self.http = requests.Session()

    def ask(self, request: dict) -> dict:
        answer = self.http.post(f"{self.url}/offersets", json=request, headers=HEADERS, allow_redirects=False)
        assert answer.status_code == 303, answer.text[:300]
        return answer.json()

    def steer(self, href: str, change: dict) -> None:
        self.http.post(href, json=change, headers=HEADERS).raise_for_status()

    def direct(self, request: dict) -> datetime | None:
        """Book a direct session; when its hold ends (None: refused)."""
        answer = self.http.post(f"{self.url}/direct", json=request, headers=HEADERS, allow_redirects=False)
        if answer.status_code != 303:
            return None
        releasing = answer.json()["schedule"]["releasing"]
        return parse_instant(releasing["start"].split("/")[0]) + parse_duration(releasing["duration"])

    def stop(self) -> None:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _starts_now(offerset: dict, asked_at: datetime) -> bool:
    preparing = offerset["offers"][0]["schedule"]["preparing"]
    start = (preparing.get("start") if isinstance(preparing, dict) else preparing).split("/")[0]
    return datetime.fromisoformat(start.replace("Z", "+00:00")) <= asked_at + timedelta(minutes=1)


def polite(server: Server, limit: int) -> int:
    """Sessions admitted to start now before an answer offers only later starts (or NO)."""
    admitted = 0
    for _ in range(limit):
        asked_at = datetime.now(UTC)
        answer = server.ask(REQUEST)
        if answer["result"] != "YES" or not _starts_now(answer, asked_at):
            break
        first, *rest = answer["offers"]
        for offer in rest:  # (accepting would reject them too; a polite client says so itself)
            server.steer(offer["href"], REJECT)
        server.steer(first["href"], ACCEPT)
        admitted += 1
    return admitted


def never_rejecting(server: Server, limit: int) -> int:
    for count in range(limit):
        if server.ask(REQUEST)["result"] != "YES":
            return count
    return limit


def later_share(server: Server, limit: int, hours: int) -> tuple[int, int, int, int]:
    """Fill now with direct sessions, then ask with one-hour start intervals at each of the next `hours`.
    Returns (sessions filling now, YES answers, requests whose interval ends after those sessions end — where
    the calendar has room — and of those, the YES answers)."""
    ends: list[datetime] = []
    while len(ends) < limit and (end := server.direct(REQUEST)) is not None:
        ends.append(end)
    full_until = max(ends, default=datetime.now(UTC))
    yes = roomy = roomy_yes = 0
    for hour in range(1, hours + 1):
        request = copy.deepcopy(REQUEST)
        start = datetime.now(UTC) + timedelta(hours=hour)
        request["schedule"]["requested"]["start"] = [f"{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/PT1H"]
        answered = server.ask(request)["result"] == "YES"
        yes += answered
        if start + timedelta(hours=1) >= full_until:
            roomy += 1
            roomy_yes += answered
    return len(ends), yes, roomy, roomy_yes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=400, help="most requests per part")
    parser.add_argument("--later", type=int, default=24, help="hours ahead for part (c), one request per hour")
    args = parser.parse_args()
    catalogue = Catalogue.load(default_catalogue_path())
    ceiling = most_at_once(catalogue, REQUEST)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = Server(workdir, "polite")
        try:
            admitted = polite(server, args.limit)
        finally:
            server.stop()
        server = Server(workdir, "never-rejecting")
        try:
            answered = never_rejecting(server, args.limit)
        finally:
            server.stop()
        server = Server(workdir, "later")
        try:
            filled, yes, roomy, roomy_yes = later_share(server, args.limit, args.later)
        finally:
            server.stop()
    print(f"request: examples/requests/jupyter-notebook.json for {VO}, bundled catalogue")
    print(
        f"(a) polite clients: {admitted} sessions admitted to start now; quotas allow {ceiling} at once: "
        f"ratio {admitted / ceiling if ceiling else 0:.2f} (target ≥ 0.95)"
    )
    limit_note = " (the --limit was reached)" if answered == args.limit else ""
    print(
        f"(b) never-rejecting clients: {answered} offer sets answered YES before the first NO{limit_note} (target ≥ 30)"
    )
    print(
        f"(c) now full after {filled} direct sessions: {yes} of {args.later} requests with a one-hour start interval "
        f"in the next {args.later} h got a YES; of the {roomy} whose interval reaches past the direct sessions' "
        f"holds (where the calendar has room), {roomy_yes}: {100 * roomy_yes / roomy if roomy else 0:.0f} % "
        "(target 100 %)"
    )


if __name__ == "__main__":
    main()
