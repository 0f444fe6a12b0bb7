"""An independent audit of capacity, from the sessions table alone: what every site/VO has committed at each
instant (each session in a holding phase over its schedule, siblings of one offer set counted as their
componentwise maximum), compared with the quota and with the store's holds. Used by several tests."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy

HOLDING = ("OFFERED", "ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "RUNNING", "RELEASING")
AMOUNTS = ("instances", "cores", "memory_mib", "floating_ips", "gpus", "volumes", "gigabytes")
QUOTA_OF = {"instances": "instances", "cores": "cores", "memory_mib": "ram", "floating_ips": "floating_ips"}
QUOTA_OF |= {"volumes": "volumes", "gigabytes": "gigabytes"}


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", text)
    days, hours, minutes, seconds = (float(x) if x else 0.0 for x in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def document_hold(document: dict | str, group: str | None) -> tuple | None:
    """What a session document holds over its schedule: (site, vo, start, end, amounts, group); None when it has
    no placement or schedule."""
    document = json.loads(document) if isinstance(document, str) else document
    placement, schedule = document.get("placement"), document.get("schedule")
    if not placement or not schedule:
        return None
    releasing = schedule["releasing"]
    amounts = (
        1,
        placement["cores"],
        placement["memory_mib"],
        placement.get("floating_ips", 0),
        placement.get("gpus", 0),
        placement.get("volumes", 0),
        placement.get("volume_gib", 0),
    )
    start = _instant(schedule["preparing"]["start"])
    end = _instant(releasing["start"]) + _duration(releasing["duration"])
    return placement["site"], placement["vo"], start, end, amounts, group


def session_holds(conn: sqlalchemy.Connection, now: datetime) -> dict[str, tuple]:
    """uuid → (site, vo, start, end, amounts, group) for every session holding capacity after `now`."""
    rows = conn.execute(sqlalchemy.text("SELECT uuid, offerset_uuid, phase, document FROM sessions")).all()
    out = {}
    for uuid, offerset, phase, document in rows:
        if phase not in HOLDING:
            continue
        found = document_hold(document, offerset if phase == "OFFERED" else None)
        if found is not None and found[3] > now:  # one that is over: the scheduler ends such holds
            out[uuid] = found
    return out


def commitment_peaks(holds: dict[str, tuple], now: datetime) -> dict[tuple[str, str], tuple[int, ...]]:
    """Per (site, VO): the most committed at any instant from `now` on, dimension by dimension."""
    by_scope: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for site, vo, start, end, amounts, group in holds.values():
        by_scope[(site, vo)].append((start, end, amounts, group))
    peaks = {}
    for scope, pieces in by_scope.items():
        instants = sorted({max(p[0], now) for p in pieces})
        best = (0,) * len(AMOUNTS)
        for t in instants:
            groups: dict[object, tuple[int, ...]] = {}
            total = [0] * len(AMOUNTS)
            for start, end, amounts, group in pieces:
                if start <= t < end:
                    if group is None:
                        total = [a + b for a, b in zip(total, amounts, strict=True)]
                    else:
                        groups[group] = tuple(
                            max(a, b) for a, b in zip(groups.get(group, amounts), amounts, strict=True)
                        )
            for amounts in groups.values():
                total = [a + b for a, b in zip(total, amounts, strict=True)]
            best = tuple(max(a, b) for a, b in zip(best, total, strict=True))
        peaks[scope] = best
    return peaks


# Typed, so SQLite compares the instant as the store wrote it ('... 12:57:00.000000'), not as the driver would
# render a bare datetime ('... 12:57:00'): as text the hold ending at exactly `now` would still count as live.
_LIVE_HOLDS = sqlalchemy.text("SELECT * FROM holds WHERE ends > :now").bindparams(
    sqlalchemy.bindparam("now", type_=sqlalchemy.DateTime)
)


def audit(url: str, catalogue, now: datetime) -> dict[tuple[str, str], tuple[int, ...]]:
    """Assert that no site/VO is committed above its quota at any instant from `now`, and that every hold the
    store keeps is a holding session's and every holding session has its hold; returns the peaks."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            expected = session_holds(conn, now)
            kept = {row.session_uuid: row for row in conn.execute(_LIVE_HOLDS, {"now": _naive(now)})}
    finally:
        engine.dispose()
    assert set(kept) == set(expected), "holds and holding sessions differ"
    for uuid, row in kept.items():
        site, vo, _start, _end, amounts, group = expected[uuid]
        assert (row.site, row.vo, row.offerset_uuid) == (site, vo, group)
        assert tuple(getattr(row, name) for name in AMOUNTS) == amounts
    peaks = commitment_peaks(expected, now)
    for (site_name, vo), peak in peaks.items():
        site_vo = catalogue.site(site_name).vo(vo)
        quota = site_vo.quota
        for name, value in zip(AMOUNTS, peak, strict=True):
            if name in QUOTA_OF and quota is not None:
                item = getattr(quota, QUOTA_OF[name])
                if item.limit is not None:
                    assert item.in_use + value <= item.limit, f"{site_name}/{vo} over its {name} quota: {peak}"
    return peaks


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
