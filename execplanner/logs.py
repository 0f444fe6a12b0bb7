"""Logs as events: one JSON object per line on stderr, with the request id of the request being served.

Existing log calls read `log.info("phase_changed session=%s from=%s …", …)`: the first word becomes `event` and
each `key=value` pair a field, so every module's lines are structured without changing how they log. Anything
that looks like a bearer token or a JWT is blanked before a line is written, wherever it came from.
This module is bottom-layer (standard library only) so that any layer may log through it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("execplanner_request_id", default=None)

_EVENT = re.compile(r"[a-z][a-z0-9_.]*\Z")
_FIELD = re.compile(r"""(?:^|\s)([a-z_][a-z0-9_]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S*)""")
_SECRETS = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)\b(token|secret|password|authorization)(['\"]?\s*[=:]\s*['\"]?)[^\s'\",}]+"), r"\1\2[redacted]"),
)
_RESERVED = {"time", "level", "logger", "event", "message", "request_id", "error"}


def scrub(text: str) -> str:
    """The text with anything token-like blanked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")


def _value(value: str) -> str | int | float:
    """A field's value: quotes dropped, numbers as numbers (so `status` and `duration_ms` can be compared)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if _NUMBER.match(value) and len(value) < 16:
        return float(value) if "." in value else int(value)
    return value


def event_fields(message: str) -> tuple[str, dict[str, str | int | float]]:
    """Split `event key=value …` into the event name and its fields; prose becomes the event `message`."""
    head, _, rest = message.partition(" ")
    if not _EVENT.match(head):
        return "message", {}
    fields = {key: _value(value) for key, value in _FIELD.findall(rest) if key not in _RESERVED}
    return head, fields


class JsonFormatter(logging.Formatter):
    """One line of JSON per record: time, level, logger, event, its fields, the request id, the message."""

    def format(self, record: logging.LogRecord) -> str:
        message = scrub(record.getMessage())
        event, fields = event_fields(message)
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            **fields,
            **{k: v for k, v in getattr(record, "fields", {}).items() if k not in _RESERVED},
        }
        request_id = REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        line["message"] = message
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """Send every logger's records, uvicorn's included, to stderr as JSON lines at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


class FailureStreak:
    """The failures of a loop that goes on after one (the scheduler's and the launch driver's passes), logged for an
    operator: the first with its traceback, then while they go on one line every `every` seconds with their count
    and the last error, and the recovery once. During a database outage a pass fails every 0.25 s in each replica:
    a traceback each time buried every other line. Call `failed` inside the `except`, `succeeded` after a pass
    that worked; one loop's thread only."""

    def __init__(
        self, log: logging.Logger, event: str, every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log, self._event, self._every, self._clock = log, event, every, clock
        self._failures = 0
        self._began = self._told = 0.0

    @property
    def failures(self) -> int:
        """Failures in a row so far (0 after a success)."""
        return self._failures

    def failed(self) -> None:
        now = self._clock()
        self._failures += 1
        if self._failures == 1:
            self._began = self._told = now
            self._log.exception(self._event)
            return
        if now - self._told >= self._every:
            self._told = now
            error = sys.exc_info()[1]
            self._log.error(
                "%s failures=%d since_seconds=%.1f last_error=%r",
                self._event,
                self._failures,
                now - self._began,
                f"{type(error).__name__}: {first_line(error)[:300]}" if error else "",
            )

    def succeeded(self) -> None:
        if self._failures:
            event = self._event.removesuffix("_failed")
            self._log.warning(
                "%s_recovered failures=%d after_seconds=%.1f", event, self._failures, self._clock() - self._began
            )
        self._failures = 0


def first_line(error: BaseException) -> str:
    """The first line of an exception's message that is not blank ('' if none): a log field's or an answer's
    summary, without a driver's statement echo or a traceback-like tail."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else ""
