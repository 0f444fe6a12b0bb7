"""Each session's owner (who asked for it, as `subject@issuer`), so only they can read or steer it; sessions
of owned offer sets inherit the offer set's owner.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("owner", sa.String(256), nullable=True))
    op.execute(
        "UPDATE sessions SET owner = "
        "(SELECT offersets.owner FROM offersets WHERE offersets.uuid = sessions.offerset_uuid) "
        "WHERE offerset_uuid IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("owner")
