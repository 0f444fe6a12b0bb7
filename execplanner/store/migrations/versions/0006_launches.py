"""Launch records: the cloud objects of each session the lifecycle driver launched, the identity it used, and
which replica holds it (claims).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from execplanner.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launches",
        sa.Column("session_uuid", sa.String(36), sa.ForeignKey("sessions.uuid"), primary_key=True),
        sa.Column("site", sa.String(128), nullable=False, index=True),
        sa.Column("vo", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt", UTCDateTime),
        sa.Column("server_id", sa.String(64)),
        sa.Column("address", sa.String(64)),
        sa.Column("objects", sa.JSON, nullable=False),
        sa.Column("identity", sa.Text),
        sa.Column("credential_id", sa.String(64)),
        sa.Column("credential_sealed", sa.Text),
        sa.Column("credential_expires", UTCDateTime),
        sa.Column("token", sa.String(128)),
        sa.Column("updated", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("launches")
