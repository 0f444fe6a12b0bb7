"""Opaque (non-JWT) access tokens: RFC 7662 introspection with the issuer's client credentials."""

from __future__ import annotations

import logging

import pytest

from execplanner.auth import TokenVerifier, TrustedIssuer, vm_operator_entitlement
from execplanner.errors import Unauthorized

from .fake_idp import FakeIdP, ManualClock
from .tokens import assert_not_leaked

OPERATOR = vm_operator_entitlement("vo.access.egi.eu")


def introspecting(idp: FakeIdP, clock: ManualClock | None = None, **options: object) -> TrustedIssuer:
    if clock is not None:
        idp.clock = clock
    return TrustedIssuer(idp.issuer, client_id=idp.client_id, client_secret=idp.client_secret, **options)  # type: ignore[arg-type]


def refused(verifier: TokenVerifier, token: str, caplog: pytest.LogCaptureFixture) -> str:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unauthorized) as info:
        verifier.verify(token)
    assert_not_leaked(token, str(info.value), caplog.text)
    return info.value.message


def test_active_opaque_token(idp: FakeIdP) -> None:
    clock = ManualClock()
    verifier = TokenVerifier([introspecting(idp, clock)], clock=clock)
    token = idp.opaque("alice", eduperson_entitlement=[OPERATOR])
    who = verifier.verify(token)
    assert (who.issuer, who.subject) == (idp.issuer, "alice")
    assert who.can_launch("vo.access.egi.eu") is True
    assert idp.calls["introspection"] == 1 and idp.calls["userinfo"] == 0


def test_introspection_result_is_cached_until_expiry(idp: FakeIdP) -> None:
    clock = ManualClock()
    verifier = TokenVerifier([introspecting(idp, clock)], clock=clock)
    token = idp.opaque("alice", lifetime=120, eduperson_entitlement=[])
    verifier.verify(token)
    verifier.verify(token)
    assert idp.calls["introspection"] == 1
    clock.advance(121)
    with pytest.raises(Unauthorized, match="^token is not active$"):
        verifier.verify(token)
    assert idp.calls["introspection"] == 2


def test_entitlements_from_userinfo_when_introspection_has_none(idp: FakeIdP) -> None:
    idp.entitlements["bob"] = [OPERATOR]
    verifier = TokenVerifier([introspecting(idp)])
    who = verifier.verify(idp.opaque("bob"))
    assert who.entitlements == frozenset({OPERATOR})
    assert idp.calls["userinfo"] == 1


def test_iam_groups_from_introspection(iam_idp: FakeIdP) -> None:
    verifier = TokenVerifier([introspecting(iam_idp, userinfo=False)])
    who = verifier.verify(iam_idp.opaque("0f3c", **{"wlcg.groups": ["/escape/cta"]}))
    assert who.vos() == ["escape"] and who.entitlements is None


def test_inactive_opaque_token(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    verifier = TokenVerifier([introspecting(idp)])
    assert refused(verifier, idp.opaque("carol", active=False), caplog) == "token is not active"
    assert refused(verifier, "an-opaque-token-nobody-issued", caplog) == "token is not active"


def test_revoked_opaque_token(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    verifier = TokenVerifier([introspecting(idp)])
    token = idp.opaque("dave")
    idp.revoke(token)
    assert refused(verifier, token, caplog) == "token is not active"


def test_opaque_token_without_introspection_credentials(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    reason = refused(verifier, idp.opaque("erin"), caplog)
    assert reason == "token is not a JWT, and no trusted issuer is set up to introspect it"
    assert idp.calls.total() == 0


def test_wrong_client_secret(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    issuer = TrustedIssuer(idp.issuer, client_id=idp.client_id, client_secret="wrong")  # type: ignore[arg-type]
    reason = refused(TokenVerifier([issuer]), idp.opaque("frank"), caplog)
    assert reason == f"issuer {idp.issuer} refused the token at its introspection endpoint"
    assert "introspection_refused" in caplog.text and "wrong" not in caplog.text


def test_introspection_down(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    idp.broken["introspection"] = None
    reason = refused(TokenVerifier([introspecting(idp)]), idp.opaque("gina"), caplog)
    assert reason == f"issuer {idp.issuer} could not be reached (introspection)"


def test_introspection_answer_from_another_issuer(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    token = idp.opaque("hal", iss="https://elsewhere.example/")
    assert "another issuer" in refused(TokenVerifier([introspecting(idp)]), token, caplog)


def test_second_issuer_knows_the_token(idp: FakeIdP, iam_idp: FakeIdP) -> None:
    verifier = TokenVerifier([introspecting(idp), introspecting(iam_idp, userinfo=False)])
    who = verifier.verify(iam_idp.opaque("ivy"))
    assert who.issuer == iam_idp.issuer
    assert idp.calls["introspection"] == 1 and iam_idp.calls["introspection"] == 1


def test_one_issuer_down_another_answers_inactive(
    idp: FakeIdP, iam_idp: FakeIdP, caplog: pytest.LogCaptureFixture
) -> None:
    idp.down = True
    verifier = TokenVerifier([introspecting(idp), introspecting(iam_idp)])
    assert refused(verifier, "some-unknown-opaque-token", caplog) == "token is not active"


def test_opaque_token_expired_by_its_exp(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    verifier = TokenVerifier([introspecting(idp)], clock=clock)
    # the issuer still says active (its clock is behind ours by an hour), but exp is long past for us
    idp.clock = ManualClock(clock() - 3600)
    assert refused(verifier, idp.opaque("jo", lifetime=60), caplog) == "token expired"
