"""Identity: VOs from both claim styles, and the exact vm_operator rule EGI FedCloud sites apply."""

from __future__ import annotations

import pytest

from execplanner.auth import Identity, vm_operator_entitlement

CHECKIN = "https://aai.egi.eu/auth/realms/egi"
IAM = "https://iam-escape.cloud.cnaf.infn.it/"
ACCESS = "vo.access.egi.eu"


def checkin(*entitlements: str) -> Identity:
    return Identity(CHECKIN, "abc123@egi.eu", entitlements=frozenset(entitlements))


def test_vm_operator_entitlement_is_the_exact_egi_string() -> None:
    assert vm_operator_entitlement(ACCESS) == "urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"


def test_owner_is_subject_at_issuer() -> None:
    assert checkin().owner == f"abc123@egi.eu@{CHECKIN}"
    assert Identity(IAM, "0f3c").owner == f"0f3c@{IAM}"


def test_can_launch_with_exactly_the_vm_operator_entitlement() -> None:
    assert checkin(vm_operator_entitlement(ACCESS)).can_launch(ACCESS) is True


@pytest.mark.parametrize(
    "entitlement",
    [
        "urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu",  # member can read, not launch
        "urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.example.org",  # another authority
        "urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator",  # no authority at all
        "urn:mace:egi.eu:group:vo.access.egi.eu:sub:role=vm_operator#aai.egi.eu",  # a subgroup's role
        "urn:mace:egi.eu:group:vo.access.egi.eu.evil:role=vm_operator#aai.egi.eu",  # a VO with a longer name
        "URN:MACE:EGI.EU:GROUP:vo.access.egi.eu:role=vm_operator#aai.egi.eu",  # case differs
        "urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu ",  # trailing space
    ],
)
def test_near_misses_cannot_launch(entitlement: str) -> None:
    assert checkin(entitlement).can_launch(ACCESS) is False


def test_launch_rule_is_per_vo() -> None:
    who = checkin(vm_operator_entitlement("vo.escape.eu"))
    assert who.can_launch("vo.escape.eu") is True
    assert who.can_launch(ACCESS) is False


def test_unknown_entitlements_cannot_be_judged() -> None:
    who = Identity(IAM, "0f3c", groups=frozenset({"/escape"}))
    assert who.entitlements is None
    assert who.can_launch("escape") is None


def test_empty_entitlements_are_known_and_refused() -> None:
    assert checkin().can_launch(ACCESS) is False


def test_vos_from_entitlements() -> None:
    who = checkin(
        "urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu",
        "urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu",
        "urn:mace:egi.eu:group:eosc-synergy.eu:AAI:role=member#aai.egi.eu",
        "urn:mace:egi.eu:group:vo.notebooks.egi.eu#aai.egi.eu",
        "urn:mace:egi.eu:aai.egi.eu:member@vo.example",  # not a group entitlement
        "urn:mace:egi.eu:group:#aai.egi.eu",  # no VO
        "urn:mace:egi.eu:group:vo.noauthority.eu:role=member",  # no authority
        "urn:geant:example.org:group:other#example.org",
    )
    assert who.vos() == ["eosc-synergy.eu", "vo.access.egi.eu", "vo.notebooks.egi.eu"]
    assert who.is_member("eosc-synergy.eu")
    assert not who.is_member("vo.noauthority.eu")


def test_vos_from_iam_groups() -> None:
    who = Identity(IAM, "0f3c", groups=frozenset({"/escape/cta", "/escape", "/escape/lofar", "/ska/ops", "datalake"}))
    assert who.vos() == ["datalake", "escape", "ska"]
    assert who.is_member("escape")
    assert not who.is_member("cta")


def test_vos_from_both_kinds_together() -> None:
    who = Identity(
        CHECKIN,
        "abc",
        groups=frozenset({"/escape/cta"}),
        entitlements=frozenset({"urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu"}),
    )
    assert who.vos() == ["escape", "vo.access.egi.eu"]


def test_identity_is_immutable_hashable_and_takes_any_iterable() -> None:
    who = Identity(IAM, "0f3c", groups=["/escape"], entitlements=["x"])  # type: ignore[arg-type]
    assert who.groups == frozenset({"/escape"}) and who.entitlements == frozenset({"x"})
    assert hash(who) == hash(Identity(IAM, "0f3c", frozenset({"/escape"}), frozenset({"x"})))
    with pytest.raises(AttributeError):
        who.subject = "someone else"  # type: ignore[misc]
