"""Capacity as a calendar: one hold per offer or live session, over an interval, replacing the running-sum
`holdings` ledger (which could go negative). Live sessions are given their holds from their stored schedule.

Revision ID: 0005
Revises: 0004
"""

import json
import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from execplanner.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HOLDING = ("OFFERED", "ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "RUNNING", "RELEASING")
AMOUNTS = ("instances", "cores", "memory_mib", "floating_ips", "gpus", "volumes", "gigabytes")


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("session_uuid", sa.String(36), sa.ForeignKey("sessions.uuid"), primary_key=True),
        sa.Column("offerset_uuid", sa.String(36)),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("vo", sa.String(128), nullable=False),
        sa.Column("starts", UTCDateTime, nullable=False),
        sa.Column("ends", UTCDateTime, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in AMOUNTS),
    )
    op.create_index("ix_holds_ends", "holds", ["ends"])
    op.create_index("ix_holds_site_vo", "holds", ["site", "vo"])
    _backfill()
    op.drop_table("holdings")


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _block_end(block: dict) -> datetime:
    start = _instant(block["start"])
    duration = block.get("duration")
    return start + (timedelta(seconds=float(duration)) if isinstance(duration, int | float) else _duration(duration))


def _duration(text: str | None) -> timedelta:
    """Pydantic writes timedeltas as ISO 8601 durations (PT1H2M3S, P1DT…); the migration reads them alone."""
    if not text:
        return timedelta(0)
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", text)
    if not match:
        return timedelta(0)
    days, hours, minutes, seconds = (float(x) if x else 0.0 for x in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _backfill() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT uuid, offerset_uuid, phase, site, vo, cores, memory_mib, instances, floating_ips, document "
            "FROM sessions WHERE site IS NOT NULL AND vo IS NOT NULL AND phase IN ("
            + ",".join(f"'{p}'" for p in HOLDING)
            + ")"
        )
    ).mappings()
    holds = []
    for row in rows:
        document = row["document"]
        if isinstance(document, str):
            document = json.loads(document)
        schedule = (document or {}).get("schedule")
        if not schedule:
            continue
        placement = (document or {}).get("placement") or {}
        holds.append(
            {
                "session_uuid": row["uuid"],
                "offerset_uuid": row["offerset_uuid"] if row["phase"] == "OFFERED" else None,
                "site": row["site"],
                "vo": row["vo"],
                "starts": _instant(schedule["preparing"]["start"]),
                "ends": _block_end(schedule["releasing"]),
                "instances": row["instances"],
                "cores": row["cores"],
                "memory_mib": row["memory_mib"],
                "floating_ips": row["floating_ips"],
                "gpus": placement.get("gpus") or 0,
                "volumes": placement.get("volumes") or 0,
                "gigabytes": placement.get("volume_gib") or 0,
            }
        )
    if holds:
        table = sa.table(
            "holds",
            *(sa.column(n) for n in ("session_uuid", "offerset_uuid", "site", "vo")),
            sa.column("starts", UTCDateTime),
            sa.column("ends", UTCDateTime),
            *(sa.column(n) for n in AMOUNTS),
        )
        op.bulk_insert(table, holds)


def downgrade() -> None:
    op.create_table(
        "holdings",
        sa.Column("site", sa.String(128), primary_key=True),
        sa.Column("vo", sa.String(128), primary_key=True),
        sa.Column("instances", sa.Integer, nullable=False),
        sa.Column("cores", sa.Integer, nullable=False),
        sa.Column("memory_mib", sa.Integer, nullable=False),
        sa.Column("floating_ips", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO holdings (site, vo, instances, cores, memory_mib, floating_ips) "
        "SELECT site, vo, sum(instances), sum(cores), sum(memory_mib), sum(floating_ips) FROM holds GROUP BY site, vo"
    )
    op.drop_table("holds")
