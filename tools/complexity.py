"""Fail when a function's cyclomatic complexity, as radon counts it (boolean operators included), is over 15.

    python tools/complexity.py [PATH ...]      # default: execplanner

`make test` runs it in its lint step. A function over the limit wants splitting or a table, not an exception
here; the few listed in KNOWN are being rewritten elsewhere and each says by what.
"""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Function

LIMIT = 15

# "path:qualified name" -> why it is over the limit for now (delete the line when it is not)
KNOWN: dict[str, str] = {}


def _qualified(block: Function) -> str:
    return f"{block.classname}.{block.name}" if getattr(block, "classname", None) else block.name


def over_limit(paths: list[Path]) -> list[tuple[str, int, int]]:
    """(path:name, line, complexity) of every function or method above LIMIT."""
    found = []
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for file in files:
            for block in cc_visit(file.read_text(encoding="utf-8")):
                blocks = [block, *getattr(block, "closures", [])]
                if hasattr(block, "methods"):
                    blocks += block.methods
                for item in blocks:
                    if isinstance(item, Function) and item.complexity > LIMIT:
                        found.append((f"{file.as_posix()}:{_qualified(item)}", item.lineno, item.complexity))
    return found


def main(argv: list[str]) -> int:
    found = over_limit([Path(a) for a in argv] or [Path("execplanner")])
    new = [(name, line, cc) for name, line, cc in found if name not in KNOWN]
    for name, line, cc in new:
        path, function = name.split(":", 1)
        print(f"{path}:{line}: {function} has cyclomatic complexity {cc} (limit {LIMIT}): split it or make it a table")
    stale = sorted(set(KNOWN) - {name for name, _, _ in found})
    for name in stale:
        print(f"tools/complexity.py: {name} is no longer over {LIMIT}: delete it from KNOWN", file=sys.stderr)
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
