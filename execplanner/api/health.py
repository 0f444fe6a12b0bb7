"""What `/availability` reports: whether this service can do its job now, and notes that say why (not).

Three things are checked: the database answers (without it nothing can be offered or followed: unavailable),
the catalogue's age and source, and how many sites were reachable when the catalogue was built (with none, no
offer can be made: unavailable). Site reachability is as the catalogue recorded it: the API never calls a cloud.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from execplanner.catalogue import Catalogue
from execplanner.catalogue.model import SiteStatus
from execplanner.errors import ExecPlannerError
from execplanner.store.database import Store


def _age(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def database_notes(store: Store | None) -> tuple[bool, list[str]]:
    if store is None:
        return False, ["database: not opened yet (the service is starting)"]
    try:
        store.ping()
    except ExecPlannerError as exc:
        return False, [f"database unreachable: {exc.message}"]
    return True, ["database: reachable"]


def catalogue_notes(catalogue: Catalogue, now: datetime) -> tuple[bool, list[str]]:
    generated = catalogue.generated_at.isoformat().replace("+00:00", "Z")
    notes = [f"catalogue: generated {generated} ({_age(now - catalogue.generated_at)} ago) from {catalogue.source}"]
    usable = 0
    for site in catalogue.sites:
        vos_ok = [v.vo for v in site.vos if v.status is SiteStatus.OK]
        if site.status is SiteStatus.OK and vos_ok:
            usable += 1
            continue
        why = site.error or next((v.error for v in site.vos if v.error), None) or "no VO can use it"
        notes.append(f"site {site.name}: {site.status.value}: {why}")
    notes.insert(1, f"sites: {usable} of {len(catalogue.sites)} reachable when the catalogue was built")
    if not usable:
        notes.append("no site can be offered: rebuild or fix the catalogue")
    return usable > 0, notes


def service_health(
    store: Callable[[], Store | None], catalogue: Callable[[], Catalogue], now: datetime
) -> tuple[bool, list[str]]:
    """Available only when the database answers and at least one site can be offered; notes for all of it."""
    database_ok, notes = database_notes(store())
    sites_ok, more = catalogue_notes(catalogue(), now)
    return database_ok and sites_ok, notes + more
