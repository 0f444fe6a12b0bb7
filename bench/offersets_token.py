"""What checking bearer tokens costs: POST /offersets with an EGI Check-in style token (verified against a fake
issuer on loopback, entitlements from its userinfo) against the same server's anonymous requests, measured in
the same run, rounds alternating.

Every client sends the same token, so after the first request the issuer is not asked again (JWKS and userinfo
answers are cached): this measures the per-request cost an operator pays for turning tokens on — parsing the
header, verifying the JWT signature, the cache lookups — not the issuer's latency.
Run: `python bench/offersets_token.py [--clients 8] [--requests 120] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

from _load import drive, start

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from auth.fake_idp import FakeIdP  # noqa: E402 — the test suite's fake OIDC provider, reused as it is

from execplanner.catalogue import Catalogue, QuotaItem, default_catalogue_path  # noqa: E402

REQUEST = (ROOT / "examples" / "requests" / "oligia-webtop.json").read_bytes()
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
OPERATOR = "urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"


def roomy_catalogue(path: Path) -> None:
    catalogue = Catalogue.load(default_catalogue_path())
    for site in catalogue.sites:
        for site_vo in site.vos:
            if site_vo.quota:
                for name in ("instances", "cores", "ram", "floating_ips"):
                    setattr(site_vo.quota, name, QuotaItem(limit=None))
    catalogue.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=120, help="per client and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeIdP.start() as idp:
        workdir = Path(tmp)
        roomy_catalogue(workdir / "roomy.json")
        idp.entitlements["alice"] = [OPERATOR]
        token = idp.mint("alice", lifetime=3600)
        env = {
            **os.environ,
            "EXECPLANNER_CATALOGUE": str(workdir / "roomy.json"),
            "EXECPLANNER_ISSUERS": idp.issuer,
            "EXECPLANNER_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "execplanner.cli", "serve", "--port", "0", "--data-dir", str(workdir / "d")]
        process, url = start(command, env)
        try:

            def call_with(headers):
                def call(session):
                    answer = session.post(f"{url}/offersets", data=REQUEST, headers=headers, allow_redirects=False)
                    assert answer.status_code == 303 and b'"YES"' in answer.content, answer.text[:300]

                return call

            anonymous = call_with(HEADERS)
            authenticated = call_with({**HEADERS, "Authorization": f"Bearer {token}"})
            throughput, p99 = [], []
            for round_ in range(args.rounds):
                base = drive(f"POST /offersets, anonymous #{round_ + 1}", anonymous, args.clients, args.requests)
                ours = drive(
                    f"POST /offersets, Check-in token #{round_ + 1}", authenticated, args.clients, args.requests
                )
                print(base.line())
                print(ours.line())
                throughput.append(ours.throughput / base.throughput)
                p99.append(ours.percentile(0.99) / base.percentile(0.99))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        ratio, tail = statistics.median(throughput), statistics.median(p99)
        print(
            f"  with a token: median throughput {ratio:.0%} of anonymous, median p99 {tail:.2f}x anonymous; "
            f"the issuer was asked {idp.calls['userinfo']} time(s) for userinfo, {idp.calls['jwks']} for keys"
        )
        print(
            json.dumps(
                {
                    "bench": "offersets_token",
                    "rounds": args.rounds,
                    "throughput_ratio": round(ratio, 3),
                    "p99_ratio": round(tail, 3),
                    "userinfo_calls": idp.calls["userinfo"],
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
