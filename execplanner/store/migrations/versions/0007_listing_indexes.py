"""Indexes for the lists (`GET /sessions`, `GET /offersets`): newest first, per owner, a page at a time.

A page is read in (created, uuid) order from a position, so both tables get that index, and one led by the
owner for the common case of a user listing their own.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_sessions_created_uuid": ("sessions", ["created", "uuid"]),
    "ix_sessions_owner_created": ("sessions", ["owner", "created", "uuid"]),
    "ix_offersets_created_uuid": ("offersets", ["created", "uuid"]),
    "ix_offersets_owner_created": ("offersets", ["owner", "created", "uuid"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
