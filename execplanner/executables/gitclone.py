"""Shallow clones of repositories named by URL. Only ordinary transports are allowed: git's `ext::` transport
runs commands, and a URL is user input."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from execplanner.errors import InvalidExecutable
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits

ALLOWED_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~-]+$")


def is_repository_url(text: str) -> bool:
    return text.startswith(ALLOWED_SCHEMES) or bool(_SCP_LIKE.match(text)) or "::" in text.split("/")[0]


def redacted(url: str) -> str:
    """The URL without any user:password@ part, for messages."""
    return re.sub(r"//[^/@]+@", "//", url)


def clone_repository(url: str, destination: Path, ref: str | None = None, limits: ParseLimits = DEFAULT_LIMITS) -> Path:
    """`git clone --depth 1` of `url` (at branch or tag `ref`) into `destination`; returns the checkout."""
    if not (url.startswith(ALLOWED_SCHEMES) or _SCP_LIKE.match(url)):
        raise InvalidExecutable(f"repository URL {redacted(url)!r} uses a transport we do not clone from")
    if ref is not None and (ref.startswith("-") or not re.fullmatch(r"[\w./-]+", ref)):
        raise InvalidExecutable(f"repository ref {ref!r} is not a branch or tag name")
    command = [
        "git",
        "-c",
        "protocol.ext.allow=never",
        "-c",
        "core.symlinks=false",
        "clone",
        "--depth",
        "1",
        "--quiet",
        "--no-tags",
    ]
    if ref:
        command += ["--branch", ref]
    checkout = destination / "checkout"
    command += ["--", url, str(checkout)]
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=limits.clone_timeout_seconds, env=environment, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise InvalidExecutable(f"cloning {redacted(url)} took longer than {limits.clone_timeout_seconds} s") from exc
    if result.returncode != 0:
        reason = redacted(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "unknown error")
        raise InvalidExecutable(f"cannot clone {redacted(url)}: {reason}")
    return checkout
