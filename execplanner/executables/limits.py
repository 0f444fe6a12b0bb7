"""How much untrusted input we are willing to read: sizes, YAML aliases, repository files, clone time."""

from __future__ import annotations

from dataclasses import dataclass

from execplanner.errors import InvalidExecutable

MIB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """Limits on what a parser reads; the service passes its own, tests pass small ones."""

    max_document_bytes: int = 20 * MIB
    max_yaml_aliases: int = 100
    max_yaml_nodes: int = 100_000
    max_repository_files: int = 5_000
    max_scan_depth: int = 6
    clone_timeout_seconds: float = 120.0


DEFAULT_LIMITS = ParseLimits()


def check_size(data: bytes, what: str, limits: ParseLimits) -> None:
    if len(data) > limits.max_document_bytes:
        raise InvalidExecutable(
            f"{what} is {len(data)} bytes, more than the {limits.max_document_bytes} bytes we read; "
            "strip notebook outputs or large embedded data and try again"
        )


def decode_text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidExecutable(f"{what} is not UTF-8 text (byte {exc.start})") from exc
