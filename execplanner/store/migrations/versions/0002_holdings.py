"""Holdings: capacity held per site and VO, backfilled from the live sessions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HOLDING = "('OFFERED','ACCEPTED','WAITING','PREPARING','AVAILABLE','RUNNING','RELEASING')"


def upgrade() -> None:
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
        "SELECT site, vo, sum(instances), sum(cores), sum(memory_mib), sum(floating_ips) FROM sessions "
        f"WHERE site IS NOT NULL AND vo IS NOT NULL AND phase IN {HOLDING} GROUP BY site, vo"
    )


def downgrade() -> None:
    op.drop_table("holdings")
