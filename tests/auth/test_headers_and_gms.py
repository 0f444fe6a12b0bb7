"""Reading `Authorization: Bearer`, and asking an IVOA GMS which groups the caller is in."""

from __future__ import annotations

import pytest
import requests

from execplanner.auth import GroupServiceError, bearer_token, gms_groups
from execplanner.errors import ExecPlannerError, Unauthorized

from .fake_idp import FakeIdP
from .tokens import assert_not_leaked

JWT_LIKE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (f"Bearer {JWT_LIKE}", JWT_LIKE),
        (f"bearer {JWT_LIKE}", JWT_LIKE),
        (f"BEARER {JWT_LIKE}", JWT_LIKE),
        (f"Bearer   {JWT_LIKE}  ", JWT_LIKE),
        ("Bearer abc-._~+/def==", "abc-._~+/def=="),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic dXNlcjpwYXNzd29yZA==", "only Bearer tokens"),
        ("Token abcdef", "only Bearer tokens"),
        ("Bearer", "carries no token"),
        ("Bearer    ", "carries no token"),
        ("Bearer abc def", "characters a token cannot have"),
        ("Bearer abc\tdef", "characters a token cannot have"),
        ("Bearer abc\x00def", "characters a token cannot have"),
        ("Bearer abc\ndef", "characters a token cannot have"),
        ("Bearer abc=def", "characters a token cannot have"),
        ("Bearer tökén", "characters a token cannot have"),
        ("Bearer " + "a" * 20000, "too long"),
        ("Bearerabc", "only Bearer tokens"),
    ],
)
def test_malformed_authorization(header: str, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason) as info:
        bearer_token(header)
    assert_not_leaked(header.partition(" ")[2], info.value.message)


def test_gms_answers_the_groups_asked_about(idp: FakeIdP) -> None:
    idp.memberships["alice"] = ["ivo://example.org/gms?escape", "ivo://example.org/gms?lofar", "ivo://other?x"]
    token = idp.mint("alice")
    asked = ["ivo://example.org/gms?escape", "ivo://example.org/gms?ska"]
    assert gms_groups(idp.base_url + "/gms", token, asked) == frozenset({"ivo://example.org/gms?escape"})


def test_gms_all_groups_when_none_asked(idp: FakeIdP) -> None:
    idp.memberships["alice"] = ["a", "b"]
    with requests.Session() as http:
        assert gms_groups(idp.base_url + "/gms", idp.mint("alice"), [], http=http) == frozenset({"a", "b"})


def test_gms_empty_answer_means_member_of_none(idp: FakeIdP) -> None:
    assert gms_groups(idp.base_url + "/gms", idp.mint("bob"), ["a"]) == frozenset()


def test_gms_refusing_the_token(idp: FakeIdP) -> None:
    token = idp.mint("carol")
    idp.revoke(token)
    with pytest.raises(Unauthorized, match="refused the token") as info:
        gms_groups(idp.base_url + "/gms", token, ["a"])
    assert_not_leaked(token, info.value.message)


@pytest.mark.parametrize("broken", [500, None])
def test_gms_failing(idp: FakeIdP, broken: int | None) -> None:
    idp.broken["gms"] = broken
    token = idp.mint("dave")
    with pytest.raises(GroupServiceError) as info:
        gms_groups(idp.base_url + "/gms", token, ["a"], timeout=2.0)
    assert isinstance(info.value, ExecPlannerError) and info.value.status == 502
    assert_not_leaked(token, info.value.message)


def test_gms_answering_json_is_not_believed(idp: FakeIdP) -> None:
    with pytest.raises(GroupServiceError, match="text/plain"):
        gms_groups(idp.base_url + "/userinfo", idp.mint("erin"), ["a"])
