"""`make fuzz`, second half: schemathesis against the service's own /openapi.yaml on a real server (SQLite,
the roomy catalogue), checking only that no answer is a server error. Not collected by pytest (a script).

    .venv/bin/python tests/fuzz/openapi_run.py [EXAMPLES_PER_OPERATION]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from hostile import serving  # noqa: E402

from execplanner.catalogue import Catalogue, QuotaItem, default_catalogue_path  # noqa: E402


def roomy_catalogue(directory: Path) -> Path:
    catalogue = Catalogue.load(default_catalogue_path())
    for site in catalogue.sites:
        for site_vo in site.vos:
            if site_vo.quota is not None:
                for name in ("instances", "cores", "ram", "floating_ips"):
                    setattr(site_vo.quota, name, QuotaItem(limit=None, in_use=0))
    path = directory / "roomy.yaml"
    catalogue.save(path)
    return path


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "200"
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "data").mkdir()
        with serving(directory / "data", roomy_catalogue(directory)) as (base_url, _port, _process):
            command = [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{base_url}/openapi.yaml",
                "--url",
                base_url,
                "--checks",
                "not_a_server_error",
                "--max-examples",
                examples,
                # One worker: with two threads, CPython 3.11.7's ast.parse (hypothesis describing a lambda while
                # schemathesis generates cases) can fail with "AST constructor recursion depth mismatch", a
                # generator crash that is no finding about the server (CPython gh-106905).
                "--workers",
                "1",
                "--suppress-health-check",
                "all",
            ]
            return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
