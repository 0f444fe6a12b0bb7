"""The migrations build the schema `store/tables.py` declares: a table, column or index added to one and not the
other (the code would then run against a database the migrations never made) fails here, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from execplanner.store import tables


def test_the_migrated_database_is_what_the_tables_declare(database_url: str) -> None:
    engine = create_engine(database_url)  # a copy of a database migrated by Store.open, as a server's
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    finally:
        engine.dispose()
    if engine.dialect.name == "sqlite":  # SQLite keeps no declared lengths: VARCHAR(256) and TEXT are one there
        differences = [d for d in differences if not (isinstance(d, list) and d[0][0] == "modify_type")]
    assert differences == []
