"""A mixed load of many concurrent clients against one or more replicas, and the checks made afterwards from the
database (issue #16.4/#16.7, #10.4): asks, accepts of a random offer, rejects, cancels, direct requests and polls,
bounded in clients and time, loopback only. `run` drives; `check` reads the database and says what did not hold.
Run at size by hand: `python tests/e2e/attack_driver.py --clients 400 --seconds 60 URL [URL ...] --database URL`."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy

REQUESTS = Path(__file__).resolve().parents[2] / "examples" / "requests"
TYPES = {".json": "application/json", ".yaml": "application/yaml", ".xml": "application/xml"}
BODIES = [(p.read_bytes(), TYPES[p.suffix]) for p in sorted(REQUESTS.iterdir()) if p.suffix in TYPES]
ACTIONS = ["ask"] * 30 + ["accept"] * 20 + ["reject"] * 10 + ["cancel"] * 8 + ["direct"] * 12 + ["poll"] * 20


def update(phase: str) -> dict:
    return {"update": {"type": "uri:enum-value-update", "path": "phase", "value": phase}}


@dataclass
class Outcome:
    action: str
    status: int
    uuid: str | None
    at: datetime
    text: str = ""


@dataclass
class Load:
    """What the clients did and saw."""

    outcomes: list[Outcome] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)  # session uuids of offers seen
    offersets: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # accepted or direct
    errors: Counter = field(default_factory=Counter)  # transport errors by kind

    def statuses(self) -> Counter:
        return Counter((o.action, o.status) for o in self.outcomes)


async def _client(urls: list[str], load: Load, deadline: float, rng: random.Random) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        while time.monotonic() < deadline:
            base = rng.choice(urls)
            action = rng.choice(ACTIONS)
            try:
                await _act(http, base, action, load, rng)
            except httpx.HTTPError as exc:
                load.errors[f"{action}:{type(exc).__name__}"] += 1


def _uuid_of(document: dict) -> str:
    return document.get("uuid") or document["meta"]["uuid"]  # the IVOA dialect, or the 2022 note's


async def _act(http: httpx.AsyncClient, base: str, action: str, load: Load, rng: random.Random) -> None:
    uuid = None
    if action == "ask" or (action in ("accept", "reject") and not load.offers):
        action = "ask"
        body, kind = rng.choice(BODIES)
        answer = await http.post(f"{base}/offersets", content=body, headers={"content-type": kind})
        if answer.status_code == 303:  # the offer set is made: read it, as a client would
            load.outcomes.append(Outcome(action, 303, None, datetime.now(UTC)))
            action = "read offerset"
            load.offersets.append(answer.headers["location"].rsplit("/", 1)[-1])
            answer = await http.get(answer.headers["location"], headers={"accept": "application/json"})
        if answer.status_code == 200:
            document = answer.json()
            load.offers.extend(_uuid_of(o) for o in document.get("offers", []))
    elif action in ("accept", "reject"):
        uuid = rng.choice(load.offers[-2000:])  # recent ones: most are still OFFERED
        phase = "ACCEPTED" if action == "accept" else "REJECTED"
        answer = await http.post(f"{base}/sessions/{uuid}", json=update(phase))
        if answer.status_code == 200 and action == "accept":
            load.sessions.append(uuid)
    elif action == "cancel" and load.sessions:
        uuid = rng.choice(load.sessions)
        answer = await http.post(f"{base}/sessions/{uuid}", json=update("CANCELLED"))
    elif action == "direct":
        body, kind = rng.choice([b for b in BODIES if b[1] == "application/json"])
        answer = await http.post(f"{base}/direct", content=body, headers={"content-type": kind})
        if answer.status_code == 303:
            uuid = answer.headers["location"].rsplit("/", 1)[-1]
            load.sessions.append(uuid)
    else:
        action = "poll"
        if load.offersets and rng.random() < 0.5:
            answer = await http.get(f"{base}/offersets/{rng.choice(load.offersets)}")
        elif load.offers:
            answer = await http.get(f"{base}/sessions/{rng.choice(load.offers)}")
        else:
            answer = await http.get(f"{base}/healthz")
    text = answer.text[:300] if answer.status_code >= 400 else ""
    load.outcomes.append(Outcome(action, answer.status_code, uuid, datetime.now(UTC), text))


async def _warm_up(urls: list[str], load: Load, offersets: int, rng: random.Random) -> None:
    """Offers to race on from the first instant: `offersets` asks, a few at a time."""
    async with httpx.AsyncClient(timeout=120) as http:
        while len(load.offersets) < offersets:
            await asyncio.gather(*(_act(http, rng.choice(urls), "ask", load, rng) for _ in range(8)))


async def drive(urls: list[str], clients: int, seconds: float, seed: int = 0, warm_up: int = 0) -> Load:
    load = Load()
    await _warm_up(urls, load, warm_up, random.Random(seed))
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_client(urls, load, deadline, random.Random(seed * 100_000 + n)) for n in range(clients)))
    return load


def run(urls: list[str], clients: int, seconds: float, seed: int = 0, warm_up: int = 0) -> Load:
    return asyncio.run(drive(urls, clients, seconds, seed, warm_up))


# --- afterwards, from the database ---------------------------------------------------------------------------


@dataclass
class Findings:
    server_errors: list[Outcome]
    wrong_409s: list[tuple[Outcome, str]]
    illegal: list[tuple[str, str | None, str]]
    expired_twice: list[str]
    not_expired: list[str]
    expiry_lags: list[float]
    accepted_phases: Counter
    phases: Counter

    def problems(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.server_errors:
            out["5xx"] = [(o.action, o.status, o.text) for o in self.server_errors[:5]] + [len(self.server_errors)]
        if self.wrong_409s:
            out["wrong 409"] = [(o.uuid, o.text, why) for o, why in self.wrong_409s[:5]] + [len(self.wrong_409s)]
        if self.illegal:
            out["illegal transitions"] = self.illegal[:5] + [len(self.illegal)]
        if self.expired_twice:
            out["expired more than once"] = self.expired_twice[:5]
        if self.not_expired:
            out["overdue offers still OFFERED"] = self.not_expired[:5] + [len(self.not_expired)]
        return out


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check(database: str, load: Load, grace_seconds: float = 1.0) -> Findings:
    """Read sessions and transitions: legal histories, expiry once and on time, and each 409 to an accept
    justified (the offer had left OFFERED before the refusal was received)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from execplanner.lifecycle.transitions import TRANSITIONS
    from execplanner.model.phase import Phase

    engine = sqlalchemy.create_engine(database)
    try:
        with engine.connect() as conn:
            query = "SELECT uuid, phase, expires, offerset_uuid FROM sessions"
            sessions = {r.uuid: r for r in conn.execute(sqlalchemy.text(query))}
            history: dict[str, list] = defaultdict(list)
            query = "SELECT session_uuid, at, from_phase, to_phase FROM transitions ORDER BY id"
            for row in conn.execute(sqlalchemy.text(query)):
                history[row.session_uuid].append(row)
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    illegal, twice, lags, not_expired = [], [], [], []
    for uuid, steps in history.items():
        for n, step in enumerate(steps):
            if step.from_phase is None:  # the record of the session's making
                legal = n == 0 and (step.to_phase == "INITIAL" or Phase(step.to_phase) in TRANSITIONS[Phase.INITIAL])
            else:
                legal = Phase(step.to_phase) in TRANSITIONS[Phase(step.from_phase)]
            if not legal:
                illegal.append((uuid, step.from_phase, step.to_phase))
        for a, b in zip(steps, steps[1:], strict=False):
            if (a.to_phase or "") != (b.from_phase or ""):
                illegal.append((uuid, f"chain {a.to_phase}", f"then from {b.from_phase}"))
        expiries = [s for s in steps if s.to_phase == "EXPIRED"]
        if len(expiries) > 1:
            twice.append(uuid)
        if expiries and sessions[uuid].expires is not None:
            lags.append((_aware(expiries[0].at) - _aware(sessions[uuid].expires)).total_seconds())
    for uuid, row in sessions.items():
        overdue = row.expires is not None and (now - _aware(row.expires)).total_seconds() > grace_seconds + 2
        if row.phase == "OFFERED" and overdue:
            not_expired.append(uuid)
    wrong = []
    for outcome in load.outcomes:
        if outcome.action != "accept" or outcome.status != 409:
            continue
        expires = sessions[outcome.uuid].expires if outcome.uuid in sessions else None
        if expires is not None and outcome.at >= _aware(expires):
            continue  # past its expiry: refused rightly even before the scheduler marks it EXPIRED
        left = next((s for s in history.get(outcome.uuid, []) if s.from_phase == "OFFERED"), None)
        if left is None:
            wrong.append((outcome, "still OFFERED"))
        elif _aware(left.at) > outcome.at:
            wrong.append((outcome, f"left OFFERED at {left.at}, after the 409 at {outcome.at}"))
    accepted = set(load.sessions)
    return Findings(
        server_errors=[o for o in load.outcomes if o.status >= 500],
        wrong_409s=wrong,
        illegal=illegal,
        expired_twice=twice,
        not_expired=not_expired,
        expiry_lags=sorted(lags),
        accepted_phases=Counter(sessions[u].phase for u in accepted if u in sessions),
        phases=Counter(r.phase for r in sessions.values()),
    )


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 3)  # noqa: E731
    return {"n": len(values), "min": pick(0), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": pick(1)}


def summary(load: Load, findings: Findings) -> dict:
    return {
        "requests": len(load.outcomes),
        "statuses": {f"{a} {s}": n for (a, s), n in sorted(load.statuses().items())},
        "transport errors": dict(load.errors),
        "phases": dict(findings.phases),
        "accepted/direct now": dict(findings.accepted_phases),
        "expiry lag s": _quantiles(findings.expiry_lags),
        "samples": {f"{a} {s}": t for a, s, t in {(o.action, o.status, o.text[:160]) for o in load.outcomes if o.text}},
        "problems": findings.problems(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--database", required=True)
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait before checking")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm-up", type=int, default=0, help="offer sets asked for before the clients start")
    args = parser.parse_args()
    started = time.monotonic()
    load = run(args.urls, args.clients, args.seconds, args.seed, args.warm_up)
    took = time.monotonic() - started
    time.sleep(args.settle)
    findings = check(args.database, load)
    out = summary(load, findings) | {"seconds": round(took, 1), "rate/s": round(len(load.outcomes) / took, 1)}
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
