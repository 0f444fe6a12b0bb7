"""Trusted issuers: exact issuer strings, discovery checked against them, failures remembered briefly."""

from __future__ import annotations

import logging

import pytest

from execplanner.auth import TokenVerifier, TrustedIssuer
from execplanner.errors import Unauthorized

from .fake_idp import FakeIdP, ManualClock
from .tokens import assert_not_leaked


def verify_fails(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthorized) as info:
        verifier.verify(token)
    assert_not_leaked(token, info.value.message)
    return info.value.message


def test_discovery_url_strips_one_trailing_slash() -> None:
    assert TrustedIssuer("https://aai.egi.eu/auth/realms/egi").discovery_url == (
        "https://aai.egi.eu/auth/realms/egi/.well-known/openid-configuration"
    )
    assert TrustedIssuer("https://iam-escape.cloud.cnaf.infn.it/").discovery_url == (
        "https://iam-escape.cloud.cnaf.infn.it/.well-known/openid-configuration"
    )


@pytest.mark.parametrize(
    "bad",
    ["aai.egi.eu", "ftp://aai.egi.eu/", "http://aai.egi.eu/auth/realms/egi", "https://x/?q=1", "https://x/#f", ""],
)
def test_issuer_must_be_an_https_url(bad: str) -> None:
    with pytest.raises(ValueError):
        TrustedIssuer(bad)


def test_plain_http_only_on_loopback() -> None:
    assert TrustedIssuer("http://127.0.0.1:8080/realm").issuer == "http://127.0.0.1:8080/realm"


def test_client_secret_is_never_shown() -> None:
    issuer = TrustedIssuer("https://aai.egi.eu/auth/realms/egi", client_id="ep", client_secret="hunter2-secret")
    assert issuer.client_secret is not None
    assert issuer.client_secret.get_secret_value() == "hunter2-secret"
    assert "hunter2" not in repr(issuer) and "hunter2" not in str(issuer)
    assert issuer.can_introspect
    assert not TrustedIssuer("https://aai.egi.eu/auth/realms/egi", client_id="ep").can_introspect


def test_an_issuer_configured_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        TokenVerifier([TrustedIssuer("https://a.example/"), TrustedIssuer("https://a.example/")])


def test_configured_with_a_slash_the_issuer_without_is_refused(idp: FakeIdP) -> None:
    """Check-in has no trailing slash: configuring one makes a different issuer, and its tokens do not match."""
    verifier = TokenVerifier([TrustedIssuer(idp.issuer + "/")])
    assert verify_fails(verifier, idp.mint("alice")) == f"issuer {idp.issuer} is not trusted here"


def test_configured_without_the_slash_iam_is_refused(iam_idp: FakeIdP) -> None:
    """IAM has a trailing slash: configuring it without one is another issuer."""
    verifier = TokenVerifier([TrustedIssuer(iam_idp.issuer.rstrip("/"))])
    assert verify_fails(verifier, iam_idp.mint("bob")) == f"issuer {iam_idp.issuer} is not trusted here"


def test_token_issuer_with_a_slash_added_is_refused(idp: FakeIdP) -> None:
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    assert verify_fails(verifier, idp.mint("carol", iss=idp.issuer + "/")) == (
        f"issuer {idp.issuer}/ is not trusted here"
    )


def test_discovery_naming_another_issuer_is_refused(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="execplanner.auth")
    idp.discovery_issuer = idp.issuer + "/"  # differs by the slash only
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    reason = verify_fails(verifier, idp.mint("dave"))
    assert reason == f"issuer {idp.issuer} is misconfigured: its discovery document names another issuer"
    assert "discovery_failed" in caplog.text and "issuer_mismatch" in caplog.text
    assert idp.calls["jwks"] == 0, "no key is fetched from an issuer whose discovery does not match"


def test_discovery_is_cached(idp: FakeIdP) -> None:
    clock = ManualClock()
    idp.clock = clock
    verifier = TokenVerifier([TrustedIssuer(idp.issuer, userinfo=False)], clock=clock)
    for _ in range(3):
        verifier.verify(idp.mint("erin"))
    assert idp.calls["discovery"] == 1
    clock.advance(3601)
    verifier.verify(idp.mint("erin"))
    assert idp.calls["discovery"] == 2 and idp.calls["jwks"] == 2


def test_issuer_down_is_a_401_then_retried_after_a_few_seconds(idp: FakeIdP, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    idp.clock = clock
    verifier = TokenVerifier([TrustedIssuer(idp.issuer, userinfo=False)], clock=clock, timeout=2.0)
    token = idp.mint("frank")
    idp.down = True
    assert verify_fails(verifier, token) == f"issuer {idp.issuer} could not be reached"
    assert verify_fails(verifier, token) == f"issuer {idp.issuer} could not be reached"
    assert idp.calls["discovery"] == 1, "a failure is remembered for a few seconds"
    idp.down = False
    clock.advance(6)
    assert verifier.verify(token).subject == "frank"
    assert_not_leaked(token, caplog.text)


def test_issuer_answering_500_is_a_401(idp: FakeIdP) -> None:
    idp.fail_status = 500
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    assert verify_fails(verifier, idp.mint("gina")) == f"issuer {idp.issuer} could not be reached"


def test_nothing_listening_is_a_401() -> None:
    idp = FakeIdP.start()
    token, issuer = idp.mint("hal"), idp.issuer
    idp.stop()
    assert verify_fails(TokenVerifier([TrustedIssuer(issuer)]), token) == f"issuer {issuer} could not be reached"


@pytest.mark.parametrize("broken", [503, None])
def test_keys_unavailable_is_a_401(idp: FakeIdP, broken: int | None) -> None:
    idp.broken["jwks"] = broken
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    assert verify_fails(verifier, idp.mint("ivy")) == f"issuer {idp.issuer} could not be reached for its signing keys"


def test_known_keys_survive_a_failed_refresh(idp: FakeIdP) -> None:
    clock = ManualClock()
    idp.clock = clock
    verifier = TokenVerifier([TrustedIssuer(idp.issuer, userinfo=False)], clock=clock)
    verifier.verify(idp.mint("ivy"))
    idp.broken["jwks"] = 500
    clock.advance(3601)  # discovery and keys both due; discovery answers, keys fail: keep the old keys
    assert verifier.verify(idp.mint("ivy")).subject == "ivy"
    assert idp.calls["jwks"] == 2


@pytest.mark.parametrize("broken", [500, None])
def test_userinfo_unavailable_is_a_401(idp: FakeIdP, broken: int | None) -> None:
    idp.broken["userinfo"] = broken
    verifier = TokenVerifier([TrustedIssuer(idp.issuer)])
    assert verify_fails(verifier, idp.mint("jo")) == f"issuer {idp.issuer} could not be reached (userinfo)"


def test_challenges_name_every_trusted_issuer() -> None:
    verifier = TokenVerifier(
        [TrustedIssuer("https://aai.egi.eu/auth/realms/egi"), TrustedIssuer("https://iam-escape.cloud.cnaf.infn.it/")]
    )
    assert verifier.challenges() == [
        "Bearer",
        'ivoa_bearer standard_id="ivo://ivoa.net/sso#OpenID", access_url="https://aai.egi.eu/auth/realms/egi"',
        'ivoa_bearer standard_id="ivo://ivoa.net/sso#OpenID", access_url="https://iam-escape.cloud.cnaf.infn.it/"',
    ]


def test_no_issuers_no_ivoa_challenge() -> None:
    assert TokenVerifier([]).challenges() == ["Bearer"]
