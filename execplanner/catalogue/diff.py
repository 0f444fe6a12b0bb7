"""What changed between two catalogues: sites, VOs, flavors, images and networks added, removed or changed.

Items are matched by name (ids change when a site re-uploads an image; names are what people read), falling
back to name+id where a site has several items of one name.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from execplanner.catalogue.model import Catalogue, Site, SiteVO


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    what: str  # site | vo | flavor | image | network | quota
    path: str  # e.g. "IFCA-LCG2/vo.access.egi.eu/flavor m1.small"
    fields: tuple[str, ...] = field(default=())  # for CHANGED: which fields differ

    def __str__(self) -> str:
        sign = {ChangeKind.ADDED: "+", ChangeKind.REMOVED: "-", ChangeKind.CHANGED: "~"}[self.kind]
        suffix = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{sign} {self.what} {self.path}{suffix}"


def _keyed(items: Sequence[Any]) -> dict[str, Any]:
    names = [item.name for item in items]
    return {(item.name if names.count(item.name) == 1 else f"{item.name} [{item.id}]"): item for item in items}


def _changed_fields(old: BaseModel, new: BaseModel, ignore: set[str]) -> tuple[str, ...]:
    a = old.model_dump(mode="json", exclude=ignore)
    b = new.model_dump(mode="json", exclude=ignore)
    return tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))


def _added_removed(what: str, prefix: str, old: AbstractSet[str], new: AbstractSet[str]) -> list[Change]:
    changes = [Change(ChangeKind.REMOVED, what, f"{prefix}{k}") for k in sorted(old - new)]
    return changes + [Change(ChangeKind.ADDED, what, f"{prefix}{k}") for k in sorted(new - old)]


def _compare(
    what: str, prefix: str, old: dict[str, Any], new: dict[str, Any], ignore: set[str] | None = None
) -> list[Change]:
    changes = _added_removed(what, prefix, old.keys(), new.keys())
    for key in sorted(old.keys() & new.keys()):
        fields = _changed_fields(old[key], new[key], ignore or set())
        if fields:
            changes.append(Change(ChangeKind.CHANGED, what, f"{prefix}{key}", fields))
    return changes


def _diff_vo(site: str, old: SiteVO, new: SiteVO) -> list[Change]:
    prefix = f"{site}/{old.vo}/"
    changes: list[Change] = []
    fields = _changed_fields(old, new, {"flavors", "images", "networks", "quota"})
    if fields:
        changes.append(Change(ChangeKind.CHANGED, "vo", f"{site}/{old.vo}", fields))
    changes += _compare("flavor", prefix, _keyed(old.flavors), _keyed(new.flavors))
    changes += _compare("image", prefix, _keyed(old.images), _keyed(new.images))
    changes += _compare("network", prefix, _keyed(old.networks), _keyed(new.networks))
    if old.quota != new.quota:
        if old.quota is None or new.quota is None:
            kind = ChangeKind.ADDED if old.quota is None else ChangeKind.REMOVED
            changes.append(Change(kind, "quota", f"{site}/{old.vo}"))
        else:
            changes.append(
                Change(
                    ChangeKind.CHANGED,
                    "quota",
                    f"{site}/{old.vo}",
                    _changed_fields(old.quota, new.quota, set()),
                )
            )
    return changes


def _diff_site(old: Site, new: Site) -> list[Change]:
    changes: list[Change] = []
    fields = _changed_fields(old, new, {"vos"})
    if fields:
        changes.append(Change(ChangeKind.CHANGED, "site", old.name, fields))
    old_vos = {v.vo: v for v in old.vos}
    new_vos = {v.vo: v for v in new.vos}
    changes += [Change(ChangeKind.REMOVED, "vo", f"{old.name}/{vo}") for vo in sorted(old_vos.keys() - new_vos.keys())]
    changes += [Change(ChangeKind.ADDED, "vo", f"{old.name}/{vo}") for vo in sorted(new_vos.keys() - old_vos.keys())]
    for vo in sorted(old_vos.keys() & new_vos.keys()):
        changes += _diff_vo(old.name, old_vos[vo], new_vos[vo])
    return changes


def diff_catalogues(old: Catalogue, new: Catalogue) -> list[Change]:
    """Every difference that matters to a user; generation time and source are not differences."""
    old_sites = {s.name: s for s in old.sites}
    new_sites = {s.name: s for s in new.sites}
    changes = _added_removed("site", "", old_sites.keys(), new_sites.keys())
    for name in sorted(old_sites.keys() & new_sites.keys()):
        changes += _diff_site(old_sites[name], new_sites[name])
    return changes
