"""Each session's owner (who asked for it, as `subject@issuer`), so only they can read or steer it; sessions
of owned offer sets inherit the offer set's owner. Owners are text, not 256 characters: an OIDC subject alone
may be 255, and the issuer's URL comes on top.

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
    if op.get_bind().dialect.name != "sqlite":  # SQLite never enforced the length (and would rebuild the table)
        op.alter_column("offersets", "owner", type_=sa.Text, existing_type=sa.String(256), existing_nullable=True)
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("owner", sa.Text, nullable=True))
    op.execute(
        "UPDATE sessions SET owner = "
        "(SELECT offersets.owner FROM offersets WHERE offersets.uuid = sessions.offerset_uuid) "
        "WHERE offerset_uuid IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("owner")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("offersets", "owner", type_=sa.String(256), existing_type=sa.Text, existing_nullable=True)
