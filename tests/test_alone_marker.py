"""`@pytest.mark.alone` (tests/support/alone.py) under pytest-xdist: ordinary tests run side by side on two
workers, and no test runs while an `alone` one does. A small suite of its own, run in a subprocess, notes when
each of its tests starts and ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
pytest_plugins = ["support.alone"]

def pytest_configure(config):
    config.addinivalue_line("markers", "alone: beside no other test")
"""

SUITE = """
import time, pytest

def span(name):
    start = time.monotonic()
    time.sleep(0.2)  # the test's body: something that takes time, so that overlaps can happen
    with open("spans.log", "a") as log:
        log.write(f"{name} {start} {time.monotonic()}\\n")

@pytest.mark.parametrize("i", range(8))
def test_ordinary(i):
    span(f"ordinary{i}")

@pytest.mark.alone
@pytest.mark.parametrize("i", range(2))
def test_alone(i):
    span(f"alone{i}")
"""


@pytest.mark.slow
def test_alone_tests_overlap_nothing_and_ordinary_ones_overlap(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_spans.py").write_text(SUITE)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "test_spans.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    spans = [
        (name, float(start), float(end))
        for name, start, end in map(str.split, (tmp_path / "spans.log").read_text().splitlines())
    ]
    assert len(spans) == 10

    def overlap(a: tuple[str, float, float], b: tuple[str, float, float]) -> bool:
        return a is not b and b[1] < a[2] and a[1] < b[2]

    beside_alone = [(a[0], b[0]) for a in spans if a[0].startswith("alone") for b in spans if overlap(a, b)]
    assert beside_alone == []
    assert any(overlap(a, b) for a in spans for b in spans), "two workers never ran two tests at once"
