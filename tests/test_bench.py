"""`make bench` is not part of the suite; this only checks that its runner's pieces import and read what they
must read (wrk's report), and that a table is printed and saved in the common result shape."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import _wrk  # noqa: E402
import run  # noqa: E402
from _common import Row, missing, save, table  # noqa: E402

WRK_REPORT = """Running 10s test @ http://127.0.0.1:8080/offersets
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.26ms  843.51us  22.91ms   87.61%
    Req/Sec     3.56k   318.52     4.10k    71.50%
  Latency Distribution
     50%    2.08ms
     75%    2.44ms
     90%    3.02ms
     99%    1.20s
  70891 requests in 10.01s, 480.14MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   7082.39
Transfer/sec:     47.97MB
"""


def test_wrk_report_is_read():
    result = _wrk.parse(WRK_REPORT)
    assert result.requests_per_second == 7082.39
    assert abs(result.p50 - 0.00208) < 1e-9 and result.p99 == 1.2
    assert (result.requests, result.errors, result.non_2xx_3xx) == (70891, 2, 3)


def test_every_part_is_known_and_a_table_is_saved(tmp_path):
    assert set(run.PARTS) == {"offersets", "catalogue_build", "catalogue", "capacity", "launch"}
    rows = [
        Row("offersets", "POST /offersets YES req/s", 1000.0, "req/s", 4000.0, "bare starlette", "wrk", ">= 0.25x"),
        missing("launch", "ACCEPTED→AVAILABLE overhead", "not yet"),
    ]
    printed = table(rows)
    assert "0.25x" in printed and "not yet" in printed
    saved = json.loads(save(rows, {"quick": True}, tmp_path).read_text())
    assert saved["rows"][0]["ratio"] == 0.25 and saved["rows"][1]["value"] is None
    assert (tmp_path / "latest.json").exists()
