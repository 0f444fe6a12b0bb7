"""JWT access tokens against a real (fake) OIDC provider on loopback: what is accepted, and every way to be refused."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from execplanner.auth import Identity, TokenVerifier, TrustedIssuer, vm_operator_entitlement
from execplanner.errors import Unauthorized

from .fake_idp import FakeIdP, ManualClock
from .tokens import assert_not_leaked, forge, hs256_with

ACCESS = "vo.access.egi.eu"
MEMBER = "urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu"
OPERATOR = vm_operator_entitlement(ACCESS)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def verifier_for(idp: FakeIdP, clock: ManualClock | None = None, **options: object) -> TokenVerifier:
    if clock is not None:
        idp.clock = clock
    return TokenVerifier([TrustedIssuer(idp.issuer, **options)], clock=clock or ManualClock())  # type: ignore[arg-type]


def refused(verifier: TokenVerifier, token: str, caplog: pytest.LogCaptureFixture) -> str:
    """Verify expecting a 401; check no part of the token shows in the error or the logs; return the reason."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unauthorized) as info:
        verifier.verify(token)
    error = info.value
    assert error.status == 401
    assert error.__cause__ is None and error.__suppress_context__
    assert_not_leaked(token, str(error), error.message, repr(error.details), caplog.text)
    return error.message


# --- accepted -----------------------------------------------------------------------------------------------


def test_checkin_token_gets_entitlements_from_userinfo_once(idp: FakeIdP, clock: ManualClock) -> None:
    idp.entitlements["alice@egi.eu"] = [MEMBER, OPERATOR]
    verifier = verifier_for(idp, clock)
    token = idp.mint("alice@egi.eu", aud="execplanner")

    first = verifier.verify(token)
    assert first == Identity(idp.issuer, "alice@egi.eu", frozenset(), frozenset({MEMBER, OPERATOR}))
    assert first.can_launch(ACCESS) is True
    assert first.vos() == [ACCESS]

    assert verifier.verify(token) == first
    assert idp.calls["userinfo"] == 1, "the second verify must use the cached userinfo answer"
    assert idp.calls["discovery"] == 1 and idp.calls["jwks"] == 1


def test_userinfo_cache_ends_with_the_token(idp: FakeIdP, clock: ManualClock) -> None:
    idp.entitlements["alice"] = [MEMBER]
    verifier = verifier_for(idp, clock)
    verifier.verify(idp.mint("alice", lifetime=60))
    another = idp.mint("alice", lifetime=600)
    verifier.verify(another)
    assert idp.calls["userinfo"] == 2, "a different token is a different cache entry"
    clock.advance(61)
    verifier.verify(another)
    assert idp.calls["userinfo"] == 2


def test_member_without_vm_operator_cannot_launch(idp: FakeIdP, clock: ManualClock) -> None:
    idp.entitlements["bob"] = [MEMBER]
    who = verifier_for(idp, clock).verify(idp.mint("bob"))
    assert who.is_member(ACCESS)
    assert who.can_launch(ACCESS) is False


def test_entitlements_in_the_token_skip_userinfo(idp: FakeIdP, clock: ManualClock) -> None:
    who = verifier_for(idp, clock).verify(idp.mint("carol", eduperson_entitlement=[OPERATOR]))
    assert who.entitlements == frozenset({OPERATOR})
    assert idp.calls["userinfo"] == 0


def test_userinfo_without_entitlements_means_unknown(idp: FakeIdP, clock: ManualClock) -> None:
    who = verifier_for(idp, clock).verify(idp.mint("dave"))
    assert idp.calls["userinfo"] == 1
    assert who.entitlements is None and who.can_launch(ACCESS) is None


def test_userinfo_switched_off(idp: FakeIdP, clock: ManualClock) -> None:
    idp.entitlements["erin"] = [OPERATOR]
    who = verifier_for(idp, clock, userinfo=False).verify(idp.mint("erin"))
    assert who.entitlements is None
    assert idp.calls["userinfo"] == 0


def test_iam_token_with_wlcg_groups_and_no_audience(iam_idp: FakeIdP, clock: ManualClock) -> None:
    assert iam_idp.issuer.endswith("/")
    token = iam_idp.mint("0f3c-uuid", aud=None, **{"wlcg.groups": ["/escape", "/escape/cta"], "wlcg.ver": "1.0"})
    who = verifier_for(iam_idp, clock).verify(token)
    assert who.issuer == iam_idp.issuer
    assert who.groups == frozenset({"/escape", "/escape/cta"})
    assert who.vos() == ["escape"]
    assert who.entitlements is None and who.can_launch("escape") is None


def test_iam_groups_claim_is_read_too(iam_idp: FakeIdP, clock: ManualClock) -> None:
    who = verifier_for(iam_idp, clock).verify(iam_idp.mint("0f3c", groups=["escape", "escape/lofar"]))
    assert who.vos() == ["escape"]


def test_groups_from_userinfo_when_the_token_has_none(iam_idp: FakeIdP, clock: ManualClock) -> None:
    iam_idp.userinfo_claims["0f3c"] = {"groups": ["escape/cta"]}
    who = verifier_for(iam_idp, clock).verify(iam_idp.mint("0f3c"))
    assert who.vos() == ["escape"]


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"])
def test_every_allowed_algorithm(idp: FakeIdP, clock: ManualClock, alg: str) -> None:
    who = verifier_for(idp, clock).verify(idp.mint("frank", alg=alg, eduperson_entitlement=[]))
    assert who.subject == "frank"


def test_audience_configured_and_present(idp: FakeIdP, clock: ManualClock) -> None:
    verifier = verifier_for(idp, clock, audience="execplanner")
    assert verifier.verify(idp.mint("gina", aud="execplanner")).subject == "gina"
    assert verifier.verify(idp.mint("gina", aud=["other", "execplanner"])).subject == "gina"


def test_token_without_kid_uses_the_only_fitting_key(idp: FakeIdP, clock: ManualClock) -> None:
    assert verifier_for(idp, clock).verify(idp.mint("hal", kid=None)).subject == "hal"


def test_leeway_tolerates_small_clock_skew(idp: FakeIdP, clock: ManualClock) -> None:
    token = idp.mint("ivy", lifetime=60, eduperson_entitlement=[])
    clock.advance(60 + 20)
    assert verifier_for(idp, clock).verify(token).subject == "ivy"


def test_unknown_kid_after_rotation_is_accepted_after_one_refetch(idp: FakeIdP, clock: ManualClock) -> None:
    verifier = verifier_for(idp, clock)
    verifier.verify(idp.mint("jo"))
    assert idp.calls["jwks"] == 1
    idp.rotate_keys()
    clock.advance(30)
    assert verifier.verify(idp.mint("jo")).subject == "jo"
    assert idp.calls["jwks"] == 2
    verifier.verify(idp.mint("jo"))
    assert idp.calls["jwks"] == 2, "the new key is cached"


def test_unknown_kids_do_not_hammer_the_issuer(
    idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = verifier_for(idp, clock)
    verifier.verify(idp.mint("kim"))
    clock.advance(30)
    for n in range(5):
        reason = refused(verifier, idp.mint("kim", kid=f"made-up-{n}"), caplog)
        assert reason == f"token was signed with a key issuer {idp.issuer} does not publish"
    assert idp.calls["jwks"] == 2, "one refetch for the first unknown kid, then none within the interval"


# --- refused --------------------------------------------------------------------------------------------------


def test_expired(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    token = idp.mint("kay", lifetime=60)
    clock.advance(60 + 31)
    assert refused(verifier_for(idp, clock), token, caplog) == "token expired"
    assert "token_rejected" in caplog.text and "reason=token expired" in caplog.text


def test_no_expiry(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    assert refused(verifier_for(idp, clock), idp.mint("kay", exp=None), caplog) == "token has no valid expiry time"


def test_not_yet_valid(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    token = idp.mint("lee", nbf=int(clock()) + 120)
    assert refused(verifier_for(idp, clock), token, caplog) == "token is not yet valid"


def test_issued_in_the_future(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    token = idp.mint("lee", iat=int(clock()) + 120)
    assert refused(verifier_for(idp, clock), token, caplog).startswith("token is not yet valid")


@pytest.mark.parametrize("aud", ["someone-else", ["a", "b"], None])
def test_wrong_or_missing_audience(
    idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture, aud: object
) -> None:
    verifier = verifier_for(idp, clock, audience="execplanner")
    assert refused(verifier, idp.mint("max", aud=aud), caplog) == "token is not meant for this service (wrong audience)"


def test_bad_signature(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    header, claims, signature = idp.mint("ned").split(".")
    other = idp.mint("eve").split(".")[2]
    assert refused(verifier_for(idp, clock), f"{header}.{claims}.{other}", caplog) == "signature does not verify"


def test_tampered_claims(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    header, _, signature = idp.mint("ned").split(".")
    claims = idp.mint("root").split(".")[1]
    assert refused(verifier_for(idp, clock), f"{header}.{claims}.{signature}", caplog) == "signature does not verify"


def test_signed_by_a_stranger_with_a_known_kid(
    idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    token = idp.mint("oz", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert refused(verifier_for(idp, clock), token, caplog) == "signature does not verify"


def test_alg_none(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    claims = {"iss": idp.issuer, "sub": "mallory", "exp": int(clock()) + 300, "iat": int(clock())}
    for alg in ("none", "None", "NONE"):
        token = forge({"alg": alg, "typ": "JWT"}, claims)
        assert "is not accepted" in refused(verifier_for(idp, clock), token, caplog)
    assert idp.calls["jwks"] == 0


def test_hs256_keyed_with_the_public_key(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    claims = {"iss": idp.issuer, "sub": "mallory", "exp": int(clock()) + 300, "iat": int(clock())}
    for kid in (idp.rsa_kid, None):
        header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
        token = hs256_with(idp.public_pem(), header, claims)
        assert refused(verifier_for(idp, clock), token, caplog) == "token signing algorithm HS256 is not accepted"


def test_rsa_alg_with_an_ec_kid_finds_no_key(
    idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    token = idp.mint("pam", alg="RS256", kid=idp.ec_kid)
    assert "does not publish" in refused(verifier_for(idp, clock), token, caplog)


def test_untrusted_issuer(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    token = idp.mint("quinn", iss="https://evil.example.org/realm")
    assert (
        refused(verifier_for(idp, clock), token, caplog) == "issuer https://evil.example.org/realm is not trusted here"
    )
    assert idp.calls.total() == 0, "an untrusted issuer is not even asked"


def test_no_issuer(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    assert refused(verifier_for(idp, clock), idp.mint("quinn", iss=None), caplog) == "token names no issuer"


def test_no_subject(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    assert refused(verifier_for(idp, clock), idp.mint("ignored", sub=None), caplog) == "token names no subject"


def test_issuer_in_log_line_cannot_forge_lines(
    idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    token = idp.mint("x", iss="https://a.example\ntoken_accepted issuer=https://trusted")
    refused(verifier_for(idp, clock), token, caplog)
    assert not any("\n" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("garbage", ["a.b.c", "e30.e30.", "not-a-jwt-and-no-introspection", "x" * 20000, ""])
def test_garbage(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture, garbage: str) -> None:
    refused(verifier_for(idp, clock), garbage, caplog)


def test_userinfo_for_another_subject(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    idp.userinfo_claims["rob"] = {"sub": "someone-else"}
    assert "another subject" in refused(verifier_for(idp, clock), idp.mint("rob"), caplog)


def test_userinfo_refusing_the_token(idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    token = idp.mint("sam")
    idp.revoke(token)
    reason = refused(verifier_for(idp, clock), token, caplog)
    assert reason == f"issuer {idp.issuer} refused the token at its userinfo endpoint"


# --- no leaks, even when all goes well; many threads at once -------------------------------------------------


def test_accepted_tokens_leave_no_trace_in_logs(
    idp: FakeIdP, iam_idp: FakeIdP, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    idp.entitlements["alice"] = [OPERATOR]
    verifier = TokenVerifier(
        [
            TrustedIssuer(idp.issuer),
            TrustedIssuer(iam_idp.issuer, client_id=iam_idp.client_id, client_secret=iam_idp.client_secret),  # type: ignore[arg-type]
        ],
        clock=clock,
    )
    idp.clock = iam_idp.clock = clock
    tokens = [idp.mint("alice"), iam_idp.mint("bob", **{"wlcg.groups": ["/escape"]}), iam_idp.opaque("carol")]
    for token in tokens:
        verifier.verify(token)
    assert "token_accepted" in caplog.text
    for token in tokens:
        assert_not_leaked(token, caplog.text)
    assert iam_idp.client_secret not in caplog.text


def test_many_threads_at_once(idp: FakeIdP, clock: ManualClock) -> None:
    idp.entitlements.update({f"user{n}": [MEMBER] for n in range(8)})
    verifier = verifier_for(idp, clock)
    tokens = [idp.mint(f"user{n % 8}") for n in range(64)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        subjects = list(pool.map(lambda t: verifier.verify(t).subject, tokens))
    assert subjects == [f"user{n % 8}" for n in range(64)]
    assert idp.calls["discovery"] == 1 and idp.calls["jwks"] == 1
    assert idp.calls["userinfo"] == 64  # one per distinct token
    for token in tokens:
        verifier.verify(token)
    assert idp.calls["userinfo"] == 64


def test_a_verified_token_is_remembered_until_it_expires(idp: FakeIdP, clock: ManualClock, caplog) -> None:
    idp.entitlements["alice"] = [OPERATOR]
    verifier = verifier_for(idp, clock)
    token = idp.mint("alice", lifetime=120)
    assert verifier.cached(token) is None
    first = verifier.verify(token)
    calls = dict(idp.calls)
    assert verifier.cached(token) == first
    assert verifier.verify(token) == first
    assert dict(idp.calls) == calls  # nothing asked of the issuer the second time
    clock.advance(121 + 30)  # past expiry and leeway
    assert verifier.cached(token) is None
    assert refused(verifier, token, caplog) == "token expired"


def test_a_refused_token_is_not_remembered(idp: FakeIdP, clock: ManualClock, caplog) -> None:
    verifier = verifier_for(idp, clock)
    token = idp.mint("alice", exp=1)
    refused(verifier, token, caplog)
    assert verifier.cached(token) is None


def test_a_burst_with_one_new_token_asks_the_issuer_once(idp: FakeIdP) -> None:
    """A client's first requests arrive together: Check-in (which rate-limits) sees one userinfo call."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    idp.entitlements["alice"] = [OPERATOR]
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    token = idp.mint("alice")
    start = threading.Barrier(16)

    def verify() -> Identity:
        start.wait()
        return verifier.verify(token)

    with ThreadPoolExecutor(16) as pool:
        identities = list(pool.map(lambda _: verify(), range(16)))
    assert len(set(identities)) == 1 and identities[0].can_launch(ACCESS)
    assert idp.calls["userinfo"] == 1


def test_token_locks_are_dropped_when_free() -> None:
    from execplanner.auth._cache import TokenLocks

    locks = TokenLocks()
    with locks.hold("tok-a"), locks.hold("tok-b"):
        assert len(locks) == 2
    assert len(locks) == 0
