"""Offer sets, sessions and their phase history.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from execplanner.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offersets",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("dialect", sa.String(8), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("result", sa.String(3), nullable=False),
        sa.Column("expires", UTCDateTime),
        sa.Column("owner", sa.String(256)),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("offerset_uuid", sa.String(36), sa.ForeignKey("offersets.uuid")),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("expires", UTCDateTime),
        sa.Column("dialect", sa.String(8), nullable=False),
        sa.Column("site", sa.String(128)),
        sa.Column("vo", sa.String(128)),
        sa.Column("cores", sa.Integer, nullable=False),
        sa.Column("memory_mib", sa.Integer, nullable=False),
        sa.Column("instances", sa.Integer, nullable=False),
        sa.Column("floating_ips", sa.Integer, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
    )
    op.create_index("ix_sessions_offerset_uuid", "sessions", ["offerset_uuid"])
    op.create_index("ix_sessions_site", "sessions", ["site"])
    op.create_index("ix_sessions_phase_expires", "sessions", ["phase", "expires"])
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_uuid", sa.String(36), sa.ForeignKey("sessions.uuid"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("from_phase", sa.String(16)),
        sa.Column("to_phase", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
    )
    op.create_index("ix_transitions_session_uuid", "transitions", ["session_uuid"])


def downgrade() -> None:
    op.drop_table("transitions")
    op.drop_table("sessions")
    op.drop_table("offersets")
