"""hypothesis strategies for offer-set requests in the 2025 (`type`) and 2026 (`kind` + `meta`) dialects, and for
2022-note `/accepts` questions: well-formed skeletons whose every value may be replaced by something hostile
(huge or non-finite numbers, control characters, absurd durations and instants, nested junk)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

TYPES = "https://www.purl.org/ivoa.net/EB/schema/types"
KINDS = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"
EXECUTABLES = ["jupyter-notebook-1.0", "docker-container-1.0", "singularity-container-1.0", "quantum-annealer-1.0"]

NAME = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)

HOSTILE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["", " ", "\x00", "a\x01b", "\u0085", "\ufffe", "\t\n\r", "{value}", "&amp;", "<x/>", "]]>"]
)
HOSTILE_NUMBER = (
    st.integers()
    | st.integers(min_value=2**53 - 3, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 2**31, 2**63, 10**30, 1e308, -0.0])
)
DURATIONS = ["PT2H", "P1D", "PT0S", "-PT1H", "P3660D", "P3661D", "P99999999999D", "PT99999999999999S"]
DURATION = st.sampled_from(DURATIONS) | st.integers(min_value=0, max_value=10**15).map(lambda n: f"PT{n}S")
INSTANT = st.sampled_from(
    ["2030-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2199-12-31T23:59:59+14:00", "now"]
) | st.datetimes().map(lambda d: d.isoformat() + "Z")
NUMERAL = st.integers(min_value=0, max_value=10**40).map(str) | st.sampled_from(["9" * 5000, "2147483648", "1e400"])
SCALAR = HOSTILE_TEXT | HOSTILE_NUMBER | st.booleans() | st.none() | DURATION | INSTANT
JUNK = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAME, inner, max_size=3), max_leaves=8
)


def sometimes(good: Any) -> st.SearchStrategy[Any]:
    """Usually the good value, sometimes anything at all."""
    return st.one_of(st.just(good), st.just(good), st.just(good), JUNK)


@st.composite
def min_max(draw: st.DrawFn, low: int, high: int) -> dict[str, Any]:
    return {"requested": {"min": draw(sometimes(low)), "max": draw(sometimes(high))}}


@st.composite
def offerset_request(draw: st.DrawFn, dialect: str) -> dict[str, Any]:
    word, base = ("kind", KINDS) if dialect == "2026" else ("type", TYPES)
    executable = {
        word: draw(sometimes(f"{base}/executables/{draw(st.sampled_from(EXECUTABLES))}")),
        "location": draw(sometimes("https://example.org/a.ipynb")),
    }
    compute = {"cores": draw(min_max(1, 4)), "memory": draw(min_max(2, 8))}
    schedule = {"requested": {"duration": draw(sometimes("PT2H"))}}
    if draw(st.booleans()):
        schedule["requested"]["start"] = draw(sometimes("2030-01-01T10:00:00Z/PT4H") | INSTANT)
    document: dict[str, Any] = {"executable": executable, "schedule": schedule}
    if dialect == "2026":
        document["meta"] = {"name": draw(sometimes("fuzz"))}
        document["compute"] = [compute]
    else:
        document["name"] = draw(sometimes("fuzz"))
        document["resources"] = {"compute": [compute]}
    if draw(st.booleans()):
        document["vo"] = draw(sometimes("vo.access.egi.eu"))
    extra = draw(st.dictionaries(NAME, JUNK, max_size=2))
    return {**document, **{k: v for k, v in extra.items() if k not in document}}


@st.composite
def note_question(draw: st.DrawFn) -> dict[str, str]:
    """Query parameters of a 2022-note `/accepts` question."""
    params = {"tasktype": draw(sometimes("uri://jupyter-notebook"))}
    for name in ("mincores", "maxcores", "minmemory", "maxmemory", "minduration", "maxduration", "maxstartup"):
        if draw(st.booleans()):
            params[f"resources.{name}"] = draw(sometimes("2") | NUMERAL | DURATION)
    return {k: str(v) for k, v in params.items()}
