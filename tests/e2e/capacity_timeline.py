"""Capacity over the whole run, from the database alone (issue #14.2): not only at rest afterwards
(tests/capacity_audit.py) but at every instant something was booked, and in snapshots taken while the load runs.

- `replay` walks the history (the `transitions` rows, in the order the database numbered them) and, at each
  session's making, checks that what was then held at its site and VO never exceeds the quota anywhere in the new
  session's interval. Bookings take the capacity lock before they write, so their numbers follow the order in
  which they decided; a hold given back before a booking read the holds has a smaller number than the booking's.
  Siblings of one offer set count as their componentwise maximum throughout, which is what is held as long as
  accepting one rejects the others in the same transaction (attack_driver checks that it does). So the replay
  never sees more than was really held: whatever it finds over quota was over quota.
- `Sampler`, called now and then during the run, reads the holding sessions in one query (one snapshot) and
  checks their peaks, with the service's own rule for siblings.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy
from capacity_audit import AMOUNTS, HOLDING, QUOTA_OF, commitment_peaks, document_hold

Piece = tuple[str, str, datetime, datetime, tuple[int, ...], str | None]  # site, vo, start, end, amounts, group


def excess(catalogue, site: str, vo: str, amounts: tuple[int, ...]) -> str | None:
    """Which quota `amounts` (plus the site's own usage) exceeds at site/VO, or None."""
    site_vo = catalogue.site(site).vo(vo)
    quota = site_vo.quota
    if quota is None:
        return None
    for name, value in zip(AMOUNTS, amounts, strict=True):
        item = getattr(quota, QUOTA_OF[name]) if name in QUOTA_OF else None
        if item is not None and item.limit is not None and item.in_use + value > item.limit:
            return f"{site}/{vo} {name}: {item.in_use} + {value} > {item.limit}"
    return None


def _committed_at(pieces: dict[str, Piece], t: datetime) -> tuple[int, ...]:
    """What `pieces` commit at instant `t`: offers of one set as their maximum, the rest summed."""
    total = [0] * len(AMOUNTS)
    groups: dict[str, tuple[int, ...]] = {}
    for uuid, (_site, _vo, start, end, amounts, group) in pieces.items():
        if start <= t < end:
            key = group or uuid
            groups[key] = tuple(max(a, b) for a, b in zip(groups.get(key, amounts), amounts, strict=True))
    for amounts in groups.values():
        total = [a + b for a, b in zip(total, amounts, strict=True)]
    return tuple(total)


def _over_within(catalogue, pieces: dict[str, Piece], new: Piece) -> str | None:
    """Over quota anywhere in `new`'s interval, with `pieces` (its scope's holds, `new` among them)?"""
    site, vo, start, end = new[:4]
    instants = {start} | {p[2] for p in pieces.values() if start < p[2] < end}
    for t in sorted(instants):
        found = excess(catalogue, site, vo, _committed_at(pieces, t))
        if found:
            return f"at {t.isoformat()}: {found}"
    return None


def replay(database: str, catalogue) -> tuple[int, list[str]]:
    """(bookings checked, what was over quota) over the whole recorded history."""
    engine = sqlalchemy.create_engine(database)
    try:
        with engine.connect() as conn:
            made = {
                row.uuid: document_hold(row.document, row.offerset_uuid)
                for row in conn.execute(sqlalchemy.text("SELECT uuid, offerset_uuid, document FROM sessions"))
            }
            steps = conn.execute(
                sqlalchemy.text("SELECT id, session_uuid, from_phase, to_phase FROM transitions ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    held: dict[tuple[str, str], dict[str, Piece]] = defaultdict(dict)
    checked, over = 0, []
    for step in steps:
        new = made.get(step.session_uuid)
        if new is None:
            continue
        scope = held[(new[0], new[1])]
        if step.from_phase is None and step.to_phase in (*HOLDING, "INITIAL"):
            scope[step.session_uuid] = new
            checked += 1
            found = _over_within(catalogue, scope, new)
            if found:
                over.append(f"transition {step.id} (session {step.session_uuid} made) {found}")
        elif step.to_phase not in HOLDING:
            scope.pop(step.session_uuid, None)
    return checked, over


class Sampler:
    """Called from a thread now and then during a run: one snapshot of the holding sessions, peaks vs quota."""

    def __init__(self, database: str, catalogue) -> None:
        self.catalogue = catalogue
        self.samples = 0
        self.over: list[str] = []
        self._engine = sqlalchemy.create_engine(database, pool_size=1, max_overflow=0)
        self._lock = threading.Lock()
        phases = ", ".join(f"'{p}'" for p in HOLDING)
        self._query = sqlalchemy.text(
            f"SELECT uuid, offerset_uuid, phase, document FROM sessions WHERE phase IN ({phases})"
        )

    def __call__(self) -> None:
        now = datetime.now(UTC)
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(self._query).all()
        holds = {}
        for row in rows:
            found = document_hold(row.document, row.offerset_uuid if row.phase == "OFFERED" else None)
            if found is not None and found[3] > now:
                holds[row.uuid] = found
        for (site, vo), peak in commitment_peaks(holds, now).items():
            found = excess(self.catalogue, site, vo, peak)
            if found:
                self.over.append(f"snapshot at {now.isoformat()} of {len(rows)} holding sessions: {found}")
        self.samples += 1

    def close(self) -> None:
        self._engine.dispose()
