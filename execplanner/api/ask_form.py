"""The dashboard's "ask" form, turned into the same offer-set request a client would POST (2026 dialect).

People type into this form, so every problem is reported as a sentence about the field they filled in, and the
values they typed are kept to show the form again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from execplanner.formats import uris
from execplanner.model.documents import Dialect, ExecutableKind

_IMAGE = re.compile(r"[a-z0-9][a-z0-9._\-/:@]*\Z", re.IGNORECASE)
_VO = re.compile(r"[a-z0-9][a-z0-9.\-]{0,127}\Z", re.IGNORECASE)
KINDS = ("notebook", "container")


@dataclass
class AskForm:
    """What was typed, and what is wrong with it (field name → sentence)."""

    kind: str = "notebook"
    location: str = ""
    cores: str = "2"
    memory: str = "4"
    hours: str = "2"
    vo: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Any) -> AskForm:
        def text(name: str, default: str = "") -> str:
            value = form.get(name, default)
            return value.strip()[:2048] if isinstance(value, str) else default

        return cls(
            text("kind", "notebook"),
            text("location"),
            text("cores", "2"),
            text("memory", "4"),
            text("hours", "2"),
            text("vo"),
        )

    def _number(self, name: str, value: str, low: float, high: float, unit: str) -> float | None:
        try:
            number = float(value)
        except ValueError:
            self.errors[name] = f"Give a number of {unit}, e.g. {int(low) if low >= 1 else 1}."
            return None
        if not low <= number <= high:
            self.errors[name] = f"Give between {low:g} and {high:g} {unit}."
            return None
        return number

    def _check_location(self) -> None:
        if self.kind == "notebook":
            parsed = urlparse(self.location)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                self.errors["location"] = "Give the notebook's web address, starting with https://"
            elif len(self.location) > 2048 or any(c.isspace() or not c.isprintable() for c in self.location):
                self.errors["location"] = "A web address has no spaces or control characters (at most 2048 of them)."
        elif not self.location or not _IMAGE.match(self.location) or len(self.location) > 512:
            self.errors["location"] = "Give a container image reference, e.g. docker.io/jupyter/base-notebook:latest"

    def request_tree(self) -> dict[str, Any] | None:
        """The offer-set request document, or None when `errors` says what to fix."""
        self.errors.clear()
        if self.kind not in KINDS:
            self.errors["kind"] = "Choose a notebook or a container image."
            return None
        self._check_location()
        cores = self._number("cores", self.cores, 1, 256, "cores")
        memory = self._number("memory", self.memory, 0.5, 4096, "GiB")
        hours = self._number("hours", self.hours, 0.25, 24 * 30, "hours")
        if self.vo and not _VO.match(self.vo):
            self.errors["vo"] = "A VO name is letters, digits, dots and dashes, e.g. vo.access.egi.eu."
        if self.errors or cores is None or memory is None or hours is None:
            return None
        return self._tree(int(cores), max(int(round(memory)), 1), int(hours * 60))

    def _tree(self, cores: int, memory: int, minutes: int) -> dict[str, Any]:
        kind = ExecutableKind.JUPYTER_NOTEBOOK if self.kind == "notebook" else ExecutableKind.DOCKER_CONTAINER
        executable: dict[str, Any] = {"kind": uris.executable_uri(kind, Dialect.CALYCOPIS_2026)}
        if self.kind == "notebook":
            executable["location"] = self.location
        else:
            executable["image"] = {"locations": [self.location]}
        tree: dict[str, Any] = {
            "meta": {"name": f"dashboard {self.kind}"},
            "executable": executable,
            "compute": {"cores": {"min": cores}, "memory": {"min": memory}},
            "schedule": {"requested": {"duration": f"PT{minutes // 60}H{minutes % 60}M"}},
        }
        if self.vo:
            tree["vo"] = self.vo
        return tree
