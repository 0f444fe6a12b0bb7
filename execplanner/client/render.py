"""How the client prints: a table for people, or the service's own document as JSON or YAML for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml

from execplanner.client.views import OfferSetView, SessionView

OUTPUTS = ("table", "json", "yaml")
SESSION_COLUMNS = ("UUID", "PHASE", "SITE", "FLAVOR", "CORES", "MEMORY", "START", "DURATION", "EXPIRES IN")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") + "Z" if value else "-"


def _memory(gib: float | None) -> str:
    return "-" if gib is None else f"{gib:g} GiB"


def session_row(session: SessionView, now: datetime | None = None) -> list[str]:
    return [
        session.uuid,
        session.phase,
        session.site or "-",
        session.flavor or "-",
        "-" if session.cores is None else str(session.cores),
        _memory(session.memory_gib),
        _when(session.start),
        session.duration or "-",
        session.expires_in(now),
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, the whole indented by two (under a heading line)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  " + "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip()
        for line in (header, *rows)
    ]
    return "\n".join(lines)


def sessions_table(sessions: Sequence[SessionView]) -> str:
    now = datetime.now(UTC)
    return table(SESSION_COLUMNS, [session_row(s, now) for s in sessions])


def document(value: dict[str, Any] | list[Any], output: str) -> str:
    if output == "yaml":
        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True).rstrip("\n")
    return json.dumps(value, indent=2)


def offerset(view: OfferSetView, output: str) -> None:
    if output != "table":
        click.echo(document(view.document, output))
        return
    click.echo(f"{view.result}  {view.url}")
    if view.offers:
        click.echo(sessions_table(view.offers))
    for message in view.messages:
        click.echo(message)


def session(view: SessionView, output: str) -> None:
    if output != "table":
        click.echo(document(view.document, output))
        return
    click.echo(sessions_table([view]))
    for url in view.access_urls:
        click.echo(f"access: {url}")
    for message in view.messages:
        click.echo(message)
