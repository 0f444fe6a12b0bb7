"""Idempotency-Key: what each keyed request made, so that a client's retry is answered, not made again.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from execplanner.store.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("route", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("made_uuid", sa.String(36), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
