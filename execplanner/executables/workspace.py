"""Reading files of an inspected repository by relative path, without ever leaving its root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits


@dataclass(frozen=True)
class Workspace:
    """A repository checkout (or nothing, for a single uploaded document: every read then misses)."""

    root: Path | None
    limits: ParseLimits = DEFAULT_LIMITS

    def resolve(self, relative: str, base: str = "") -> Path | None:
        """The file `relative` to the repository-relative directory `base`, or None if absent or outside the root."""
        if self.root is None:
            return None
        root = self.root.resolve()
        candidate = (root / base / relative).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate

    def read(self, relative: str, base: str = "") -> bytes | None:
        path = self.resolve(relative, base)
        if path is None or path.stat().st_size > self.limits.max_document_bytes:
            return None
        return path.read_bytes()

    def relative_name(self, relative: str, base: str = "") -> str:
        """Repository-relative POSIX name of `relative` seen from `base` ("workflow/rules" + "../envs/a.yml")."""
        parts: list[str] = []
        for part in PurePosixPath(base, relative).parts:
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in (".", ""):
                parts.append(part)
        return "/".join(parts)


NO_WORKSPACE = Workspace(None)
