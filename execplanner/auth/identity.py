"""Who the caller is once a token checks out, and what their VO memberships let them do.

Pure data: nothing here talks to the network. The verifier builds an `Identity`; the API and the planner ask it
questions (`vos()`, `can_launch(vo)`). EGI entitlements are compared as exact strings, never by prefix, because
a near miss (another role, another authority) is a different grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_EGI_GROUP = "urn:mace:egi.eu:group:"
_CHECKIN_AUTHORITY = "aai.egi.eu"


def vm_operator_entitlement(vo: str) -> str:
    """The one entitlement EGI FedCloud sites require before they let a VO member launch VMs."""
    return f"{_EGI_GROUP}{vo}:role=vm_operator#{_CHECKIN_AUTHORITY}"


def vo_of_entitlement(entitlement: str) -> str | None:
    """`urn:mace:egi.eu:group:<vo>[:<subgroup>...][:role=<r>]#<authority>` -> `<vo>`; anything else -> None."""
    if not entitlement.startswith(_EGI_GROUP):
        return None
    body, sep, authority = entitlement[len(_EGI_GROUP) :].partition("#")
    if not sep or not authority:
        return None
    vo = body.split(":", 1)[0]
    if not vo or vo.startswith("role="):
        return None
    return vo


def vo_of_group(group: str) -> str | None:
    """IAM group path -> its VO: `/escape/cta` -> `escape` (a leading slash is optional, as IAM is inconsistent)."""
    first = group.strip().lstrip("/").split("/", 1)[0]
    return first or None


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: issuer and subject, plus the group claims found for them.

    `entitlements` is None when the issuer gives none (ESCAPE IAM, say): then the launch rule cannot be judged,
    which is different from "judged and refused" (an empty set).
    """

    issuer: str
    subject: str
    groups: frozenset[str] = frozenset()
    entitlements: frozenset[str] | None = None

    def __post_init__(self) -> None:
        # Accept any iterable from callers; store frozensets so an Identity stays hashable and immutable.
        object.__setattr__(self, "groups", _frozen(self.groups))
        if self.entitlements is not None:
            object.__setattr__(self, "entitlements", _frozen(self.entitlements))

    @property
    def owner(self) -> str:
        """Stable key recorded against what this caller creates; subjects are unique only within an issuer."""
        return f"{self.subject}@{self.issuer}"

    def vos(self) -> list[str]:
        """Every VO the caller belongs to, from entitlements and group paths alike, sorted."""
        found = {vo_of_entitlement(e) for e in self.entitlements or ()}
        found |= {vo_of_group(g) for g in self.groups}
        return sorted(vo for vo in found if vo)

    def is_member(self, vo: str) -> bool:
        return vo in self.vos()

    def can_launch(self, vo: str) -> bool | None:
        """True iff EGI would let this caller start VMs for `vo`; None when the issuer told us nothing."""
        if self.entitlements is None:
            return None
        return vm_operator_entitlement(vo) in self.entitlements


def _frozen(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        return frozenset({values})
    return frozenset(values)
