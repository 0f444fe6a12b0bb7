"""A mixed load of many concurrent clients against one or more replicas, and the checks made afterwards from the
database (issue #16.4/#16.7, #10.4, #14.2): asks, accepts of a random offer, rejects, cancels, direct requests and
polls, bounded in clients and time, loopback only. `run` drives (asyncio + httpx, one connection pool per client);
`check` reads the database and says what did not hold. The standing 500-client test is
tests/e2e/test_load_500_clients.py. Run at size by hand:
`python tests/e2e/attack_driver.py --clients 400 --seconds 60 URL [URL ...] --database URL`."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import ssl
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy
import yaml

REQUESTS = Path(__file__).resolve().parents[2] / "examples" / "requests"
TYPES = {".json": "application/json", ".yaml": "application/yaml", ".xml": "application/xml"}
BODIES = [(p.read_bytes(), TYPES[p.suffix]) for p in sorted(REQUESTS.iterdir()) if p.suffix in TYPES]
Bodies = list[tuple[bytes, str]]
ACTIONS = ["ask"] * 30 + ["accept"] * 20 + ["reject"] * 10 + ["cancel"] * 8 + ["direct"] * 12 + ["poll"] * 20


def starting(start: str) -> Bodies:
    """The example requests, each asking to start within the interval `start` (e.g. tomorrow 09:00/PT6H): what
    is accepted then waits for its time instead of launching, so the driver's work is one WAITING each."""
    out: Bodies = []
    for path in sorted(REQUESTS.iterdir()):
        if path.suffix == ".xml":
            text = path.read_text().replace("</duration>", f"</duration><start>{start}</start>", 1)
            out.append((text.encode(), TYPES[path.suffix]))
        elif path.suffix in (".json", ".yaml"):
            document = (json.loads if path.suffix == ".json" else yaml.safe_load)(path.read_text())
            document["schedule"]["requested"]["start"] = [start]
            text = json.dumps(document) if path.suffix == ".json" else yaml.safe_dump(document)
            out.append((text.encode(), TYPES[path.suffix]))
    return out


def update(phase: str) -> dict:
    return {"update": {"type": "uri:enum-value-update", "path": "phase", "value": phase}}


@dataclass
class Outcome:
    action: str
    status: int
    uuid: str | None
    at: datetime
    text: str = ""
    seconds: float = 0.0  # from sending the request to its answer


@dataclass
class Load:
    """What the clients did and saw."""

    bodies: Bodies = field(default_factory=lambda: list(BODIES))
    outcomes: list[Outcome] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)  # session uuids of offers seen
    offersets: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # accepted or direct
    cancelled: list[str] = field(default_factory=list)  # cancels answered 200
    errors: Counter = field(default_factory=Counter)  # transport errors by kind

    def statuses(self) -> Counter:
        return Counter((o.action, o.status) for o in self.outcomes)

    def latencies(self) -> dict[str, dict[str, float]]:
        """Seconds per answer, by kind of request: n, p50, p99, max."""
        by_kind: dict[str, list[float]] = defaultdict(list)
        for outcome in self.outcomes:
            by_kind[outcome.action].append(outcome.seconds)
        by_kind["all"] = [o.seconds for o in self.outcomes]
        return {kind: _quantiles(sorted(values)) for kind, values in sorted(by_kind.items())}


# One TLS context for every client: httpx builds one per client otherwise (loading the CA bundle, ~20 ms of CPU
# each), which for 500 clients blocks the generator's loop for seconds before the first request is sent.
_TLS = ssl.create_default_context()


def _http() -> httpx.AsyncClient:
    """One client's own connections (plain HTTP on loopback; the TLS context is only there to be shared)."""
    return httpx.AsyncClient(timeout=120, verify=_TLS)


async def _client(urls: list[str], load: Load, deadline: float, rng: random.Random) -> None:
    own: list[str] = []  # the offers of this client's latest offer set
    async with _http() as http:
        while time.monotonic() < deadline:
            base = rng.choice(urls)
            action = rng.choice(ACTIONS)
            try:
                await _act(http, base, action, load, rng, own)
            except httpx.HTTPError as exc:
                load.errors[f"{action}:{type(exc).__name__}"] += 1


def _uuid_of(document: dict) -> str:
    return document.get("uuid") or document["meta"]["uuid"]  # the IVOA dialect, or the 2022 note's


async def _timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = await request
    return answer, time.monotonic() - started


async def _act(
    http: httpx.AsyncClient, base: str, action: str, load: Load, rng: random.Random, own: list[str] | None = None
) -> None:
    """One request (two for an ask: the POST, then reading the offer set). Half the accepts and rejects take one
    of the client's own latest offers, as a client does; the others race on anyone's recent offers."""
    own = [] if own is None else own
    uuid = None
    if action == "ask" or (action in ("accept", "reject") and not load.offers):
        action = "ask"
        body, kind = rng.choice(load.bodies)
        answer, took = await _timed(http.post(f"{base}/offersets", content=body, headers={"content-type": kind}))
        if answer.status_code == 303:  # the offer set is made: read it, as a client would
            load.outcomes.append(Outcome(action, 303, None, datetime.now(UTC), seconds=took))
            action = "read offerset"
            load.offersets.append(answer.headers["location"].rsplit("/", 1)[-1])
            location = answer.headers["location"]
            answer, took = await _timed(http.get(location, headers={"accept": "application/json"}))
        if answer.status_code == 200:
            document = answer.json()
            own[:] = [_uuid_of(o) for o in document.get("offers", [])]
            load.offers.extend(own)
    elif action in ("accept", "reject"):
        uuid = _pick_offer(load, rng, own)
        phase = "ACCEPTED" if action == "accept" else "REJECTED"
        answer, took = await _timed(http.post(f"{base}/sessions/{uuid}", json=update(phase)))
        if answer.status_code == 200 and action == "accept":
            load.sessions.append(uuid)
    elif action == "cancel" and load.sessions:
        uuid = rng.choice(load.sessions)
        answer, took = await _timed(http.post(f"{base}/sessions/{uuid}", json=update("CANCELLED")))
        if answer.status_code == 200:
            load.cancelled.append(uuid)
    elif action == "direct":
        body, kind = rng.choice([b for b in load.bodies if b[1] == "application/json"])
        answer, took = await _timed(http.post(f"{base}/direct", content=body, headers={"content-type": kind}))
        if answer.status_code == 303:
            uuid = answer.headers["location"].rsplit("/", 1)[-1]
            load.sessions.append(uuid)
    else:
        action, answer, took = "poll", *await _timed(_poll(http, base, load, rng))
    text = answer.text[:300] if answer.status_code >= 400 else ""
    load.outcomes.append(Outcome(action, answer.status_code, uuid, datetime.now(UTC), text, took))


def _pick_offer(load: Load, rng: random.Random, own: list[str]) -> str:
    if own and rng.random() < 0.5:
        return own.pop(rng.randrange(len(own)))
    return rng.choice(load.offers[-2000:])  # anyone's recent ones: many are still OFFERED


def _poll(http: httpx.AsyncClient, base: str, load: Load, rng: random.Random) -> Awaitable[httpx.Response]:
    """A client polling its offer set or one of its sessions (an offer, or an accepted or direct session)."""
    if load.offersets and rng.random() < 0.4:
        return http.get(f"{base}/offersets/{rng.choice(load.offersets)}")
    if load.sessions and rng.random() < 0.4:
        return http.get(f"{base}/sessions/{rng.choice(load.sessions)}")
    if load.offers:
        return http.get(f"{base}/sessions/{rng.choice(load.offers)}")
    return http.get(f"{base}/healthz")


async def _warm_up(urls: list[str], load: Load, offersets: int, rng: random.Random) -> None:
    """Offers to race on from the first instant: `offersets` asks, a few at a time."""
    async with _http() as http:
        while len(load.offersets) < offersets:
            await asyncio.gather(*(_act(http, rng.choice(urls), "ask", load, rng) for _ in range(8)))


async def _sampling(sample: Callable[[], None], deadline: float, every: float) -> None:
    """Call `sample` (e.g. a capacity audit of one database snapshot) in a thread, every `every` s, until the
    deadline: checks made while the load runs, not only after it."""
    while time.monotonic() < deadline:
        await asyncio.to_thread(sample)
        await asyncio.sleep(every)  # pacing a periodic check, not synchronising with anything


async def drive(
    urls: list[str],
    clients: int,
    seconds: float,
    seed: int = 0,
    warm_up: int = 0,
    bodies: Bodies | None = None,
    sample: Callable[[], None] | None = None,
) -> Load:
    load = Load(bodies=bodies or list(BODIES))
    await _warm_up(urls, load, warm_up, random.Random(seed))
    deadline = time.monotonic() + seconds
    work = [_client(urls, load, deadline, random.Random(seed * 100_000 + n)) for n in range(clients)]
    if sample is not None:
        work.append(_sampling(sample, deadline, every=0.5))
    await asyncio.gather(*work)
    return load


def run(
    urls: list[str],
    clients: int,
    seconds: float,
    seed: int = 0,
    warm_up: int = 0,
    bodies: Bodies | None = None,
    sample: Callable[[], None] | None = None,
) -> Load:
    return asyncio.run(drive(urls, clients, seconds, seed, warm_up, bodies, sample))


# --- afterwards, from the database ---------------------------------------------------------------------------


LIVE = frozenset({"ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "RUNNING", "RELEASING"})
FINAL = frozenset({"REJECTED", "EXPIRED", "COMPLETED", "FAILED", "CANCELLED"})


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
    repeated: list[tuple[str, str]] = field(default_factory=list)  # (session, phase entered more than once)
    not_settled: list[tuple[str, str]] = field(default_factory=list)  # accepted, neither live nor final
    lost: list[tuple[str, str]] = field(default_factory=list)  # (session, what a 200 said that the store lacks)
    siblings: list[tuple[str, str]] = field(default_factory=list)  # (offer set, what is wrong with its offers)
    miscounted: dict[str, tuple[int, int]] = field(default_factory=dict)  # phase → (replicas counted, recorded)
    unexplained: list[tuple[str, int, str]] = field(default_factory=list)  # refusals of no kind the load expects

    def problems(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.server_errors:
            out["5xx"] = [(o.action, o.status, o.text) for o in self.server_errors[:5]] + [len(self.server_errors)]
        if self.wrong_409s:
            out["wrong 409"] = [(o.uuid, o.text, why) for o, why in self.wrong_409s[:5]] + [len(self.wrong_409s)]
        named = {
            "illegal transitions": self.illegal,
            "expired more than once": self.expired_twice,
            "overdue offers still OFFERED": self.not_expired,
            "a phase entered twice": self.repeated,
            "accepted, neither live nor final": self.not_settled,
            "answered 200, not in the store": self.lost,
            "offer sets with more than one taker": self.siblings,
            "refused, not for a conflict or a full federation": self.unexplained,
        }
        out |= {name: found[:5] + [len(found)] for name, found in named.items() if found}
        if self.miscounted:
            out["phase changes counted by the replicas != recorded"] = self.miscounted
        return out


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _read(database: str) -> tuple[dict, dict[str, list]]:
    """Every session (uuid, phase, expires, offer set) and every session's history, in the order written."""
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
    return sessions, history


def _illegal(uuid: str, steps: list) -> list[tuple[str, str | None, str]]:
    """Each step allowed by the one transition table, and each starting where the one before it ended."""
    from execplanner.lifecycle.transitions import TRANSITIONS
    from execplanner.model.phase import Phase

    found = []
    for n, step in enumerate(steps):
        if step.from_phase is None:  # the record of the session's making
            legal = n == 0 and (step.to_phase == "INITIAL" or Phase(step.to_phase) in TRANSITIONS[Phase.INITIAL])
        else:
            legal = Phase(step.to_phase) in TRANSITIONS[Phase(step.from_phase)]
        if not legal:
            found.append((uuid, step.from_phase, step.to_phase))
    for a, b in zip(steps, steps[1:], strict=False):
        if (a.to_phase or "") != (b.from_phase or ""):
            found.append((uuid, f"chain {a.to_phase}", f"then from {b.from_phase}"))
    return found


def _wrong_409s(load: Load, sessions: dict, history: dict[str, list]) -> list[tuple[Outcome, str]]:
    """A 409 is right only if what it refused was already impossible when the answer came: an accept or reject
    of an offer that had left OFFERED (or whose `expires` had passed), a cancel of a session already final."""
    wrong = []
    for outcome in load.outcomes:
        if outcome.status != 409 or outcome.action not in ("accept", "reject", "cancel"):
            continue
        steps = history.get(outcome.uuid, [])
        if outcome.action == "cancel":
            left = next((s for s in steps if s.to_phase in FINAL), None)
            was = "live"
        else:
            expires = sessions[outcome.uuid].expires if outcome.uuid in sessions else None
            if expires is not None and outcome.at >= _aware(expires):
                continue  # past its expiry: refused rightly even before the scheduler marks it EXPIRED
            left = next((s for s in steps if s.from_phase == "OFFERED"), None)
            was = "OFFERED"
        if left is None:
            wrong.append((outcome, f"still {was}"))
        elif _aware(left.at) > outcome.at:
            wrong.append((outcome, f"left {was} at {left.at}, after the 409 at {outcome.at}"))
    return wrong


def _unexplained(load: Load) -> list[tuple[str, int, str]]:
    """Every 4xx the load can rightly meet: a 409 to a phase change (judged by `_wrong_409s`), and a 400 to a
    direct request the federation has no room for. Anything else (a valid document refused, a 404 for a session
    a client was given) is a finding."""
    return [
        (o.action, o.status, o.text[:200])
        for o in load.outcomes
        if 400 <= o.status < 500
        and not (o.status == 409 and o.action in ("accept", "reject", "cancel"))
        and not (o.status == 400 and o.action == "direct" and "cannot be planned" in o.text)
    ]


def _lost(load: Load, sessions: dict, history: dict[str, list]) -> list[tuple[str, str]]:
    """What a client was told (accepted, made directly, cancelled) is what the store says happened."""
    lost = []
    for uuid in load.sessions:
        if uuid not in sessions or "ACCEPTED" not in {s.to_phase for s in history.get(uuid, [])}:
            lost.append((uuid, "accepted"))
    for uuid in load.cancelled:
        if uuid not in sessions or sessions[uuid].phase != "CANCELLED":
            lost.append((uuid, f"cancelled, now {sessions[uuid].phase if uuid in sessions else 'missing'}"))
    return lost


def _siblings(sessions: dict, history: dict[str, list]) -> list[tuple[str, str]]:
    """At most one offer of a set is ever accepted, and once it is, none of its siblings still holds."""
    by_set: dict[str, list[str]] = defaultdict(list)
    for uuid, row in sessions.items():
        if row.offerset_uuid:
            by_set[row.offerset_uuid].append(uuid)
    found = []
    for offerset, offers in by_set.items():
        taken = [u for u in offers if "ACCEPTED" in {s.to_phase for s in history.get(u, [])}]
        holding = [u for u in offers if u not in taken and sessions[u].phase == "OFFERED"]
        if len(taken) > 1 or (taken and holding):
            found.append((offerset, f"{len(taken)} accepted, {len(holding)} still OFFERED"))
    return found


def _miscounted(counted: Counter | None, history: dict[str, list]) -> dict[str, tuple[int, int]]:
    """Each phase change counted once by the replica that made it (their counters summed) and recorded once."""
    if counted is None:
        return {}
    recorded = Counter(s.to_phase for steps in history.values() for s in steps if s.from_phase is not None)
    return {p: (counted[p], recorded[p]) for p in set(counted) | set(recorded) if counted[p] != recorded[p]}


def check(
    database: str,
    load: Load,
    grace_seconds: float = 1.0,
    settled: frozenset[str] = LIVE | FINAL,
    counted: Counter | None = None,
    at: datetime | None = None,
) -> Findings:
    """Read sessions and transitions: legal histories, each phase entered once, expiry once and on time, each
    409 to an accept justified (the offer had left OFFERED before the refusal was received), what clients were
    told is stored, every accepted session in a phase of `settled`, one taker per offer set, and (given the
    replicas' `counted` phase changes) each change counted once. Offers overdue are judged `at` (default now:
    give the instant the servers stopped when checking afterwards)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sessions, history = _read(database)
    now = at or datetime.now(UTC)
    illegal, twice, lags, not_expired, repeated = [], [], [], [], []
    for uuid, steps in history.items():
        illegal += _illegal(uuid, steps)
        entered = Counter(s.to_phase for s in steps)
        repeated += [(uuid, phase) for phase, n in entered.items() if n > 1]
        expiries = [s for s in steps if s.to_phase == "EXPIRED"]
        if len(expiries) > 1:
            twice.append(uuid)
        if expiries and sessions[uuid].expires is not None:
            lags.append((_aware(expiries[0].at) - _aware(sessions[uuid].expires)).total_seconds())
    for uuid, row in sessions.items():
        overdue = row.expires is not None and (now - _aware(row.expires)).total_seconds() > grace_seconds + 2
        if row.phase == "OFFERED" and overdue:
            not_expired.append(uuid)
    accepted = set(load.sessions)
    return Findings(
        server_errors=[o for o in load.outcomes if o.status >= 500],
        wrong_409s=_wrong_409s(load, sessions, history),
        illegal=illegal,
        expired_twice=twice,
        not_expired=not_expired,
        expiry_lags=sorted(lags),
        accepted_phases=Counter(sessions[u].phase for u in accepted if u in sessions),
        phases=Counter(r.phase for r in sessions.values()),
        repeated=repeated,
        not_settled=[(u, sessions[u].phase) for u in accepted if u in sessions and sessions[u].phase not in settled],
        lost=_lost(load, sessions, history),
        siblings=_siblings(sessions, history),
        miscounted=_miscounted(counted, history),
        unexplained=_unexplained(load),
    )


def counted_phase_changes(urls: list[str]) -> Counter:
    """The replicas' own counts of the phase changes they made (`execplanner_phase_changes_total`), summed."""
    counted: Counter = Counter()
    for base in urls:
        for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
            if line.startswith('execplanner_phase_changes_total{phase="'):
                phase, value = line.split('"')[1], line.rsplit(" ", 1)[1]
                counted[phase] += int(float(value))
    return counted


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
        "seconds per answer": load.latencies(),
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
