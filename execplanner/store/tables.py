"""The tables. Only `store/` knows they exist; everything else speaks model classes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no zones), always handed back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, one step to the text SQLAlchemy's DATETIME stores (`YYYY-MM-DD HH:MM:SS.ffffff`, naive UTC),
        instead of `process_bind_param` and then DATETIME's own formatting: every offer writes several instants,
        and the two-step path was a tenth of an offer set's insert. Same text, so stored rows and comparisons with
        them are unchanged."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process


metadata = MetaData()

offersets = Table(
    "offersets",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("created", UTCDateTime, nullable=False),
    Column("dialect", String(8), nullable=False),
    Column("name", String(256)),
    Column("result", String(3), nullable=False),
    Column("expires", UTCDateTime),
    Column("owner", Text),
    Column("messages", JSON, nullable=False),
    Column("request", JSON, nullable=False),
    Index("ix_offersets_created_uuid", "created", "uuid"),  # lists: newest first (migration 0007)
    Index("ix_offersets_owner_created", "owner", "created", "uuid"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("offerset_uuid", String(36), ForeignKey("offersets.uuid"), index=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("expires", UTCDateTime),
    Column("dialect", String(8), nullable=False),
    Column("site", String(128), index=True),
    Column("vo", String(128)),
    Column("cores", Integer, nullable=False, default=0),
    Column("memory_mib", Integer, nullable=False, default=0),
    Column("instances", Integer, nullable=False, default=0),
    Column("floating_ips", Integer, nullable=False, default=0),
    Column("document", JSON, nullable=False),
    Column("position", Integer, doc="Rank within its offer set (null for direct sessions and older rows)."),
    Column("owner", Text, doc="subject@issuer of whoever asked; null when they sent no token."),
    Index("ix_sessions_phase_expires", "phase", "expires"),
    Index("ix_sessions_created_uuid", "created", "uuid"),  # lists: newest first (migration 0007)
    Index("ix_sessions_owner_created", "owner", "created", "uuid"),
)

transitions = Table(
    "transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_uuid", String(36), ForeignKey("sessions.uuid"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("from_phase", String(16)),
    Column("to_phase", String(16), nullable=False),
    Column("reason", String(2000), nullable=False),
)

# Capacity as a calendar: what each offer or live session holds of one site's quota for one VO, over the interval
# from the start of its preparing block to the end of its releasing block. One row per holding session, written
# in the transaction that books it and deleted in the one that ends it (or by the scheduler once `ends` has
# passed). `offerset_uuid` is set while the row is one of an offer set's mutually exclusive offers, which count
# together only as their largest at each instant; accepting one clears it (the session's own hold).
holds = Table(
    "holds",
    metadata,
    Column("session_uuid", String(36), ForeignKey("sessions.uuid"), primary_key=True),
    Column("offerset_uuid", String(36)),
    Column("site", String(128), nullable=False),
    Column("vo", String(128), nullable=False),
    Column("starts", UTCDateTime, nullable=False),
    Column("ends", UTCDateTime, nullable=False),
    Column("instances", Integer, nullable=False, default=0),
    Column("cores", Integer, nullable=False, default=0),
    Column("memory_mib", Integer, nullable=False, default=0),
    Column("floating_ips", Integer, nullable=False, default=0),
    Column("gpus", Integer, nullable=False, default=0),
    Column("volumes", Integer, nullable=False, default=0),
    Column("gigabytes", Integer, nullable=False, default=0),
    Index("ix_holds_ends", "ends"),
    Index("ix_holds_site_vo", "site", "vo"),
)

# One row per session the lifecycle driver has taken on: where its cloud objects are, which identity launched
# it (never a secret in clear: an application credential's secret only Fernet-sealed), and which replica is
# working on it until when (claims across replicas).
launches = Table(
    "launches",
    metadata,
    Column("session_uuid", String(36), ForeignKey("sessions.uuid"), primary_key=True),
    Column("site", String(128), nullable=False, index=True),
    Column("vo", String(128), nullable=False),
    Column("state", String(16), nullable=False, doc="new | launched | cleaned"),
    Column("claimed_by", String(64)),
    Column("claimed_until", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", UTCDateTime),
    Column("server_id", String(64)),
    Column("address", String(64)),
    Column("objects", JSON, nullable=False, doc="What exists at the site: kind -> id."),
    Column("identity", Text, doc="Who launched it, e.g. 'robot credential for vo.x' or 'alice@issuer (app cred)'."),
    Column("credential_id", String(64)),
    Column("credential_sealed", Text, doc="Fernet token of the application credential's secret."),
    Column("credential_expires", UTCDateTime),
    Column("token", String(128), doc="The Jupyter token the VM was given (shown to the owner only)."),
    Column("updated", UTCDateTime, nullable=False),
)

# One row: a counter that every transaction changing `holds` increments (in `records`). A process that keeps the
# live holds in memory between transactions (the offer-set writer) reads it to know whether anyone else —
# another thread, replica or command — changed them since: same number, same holds.
capacity_version = Table(
    "capacity_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

# One row per Idempotency-Key a client sent with a request that made something (an offer set, a direct session),
# written in the transaction that made it: a retry of the same request, by the same owner ('' for anonymous
# callers) with the same key, finds it and is answered with what was made, not given a second one. `digest` is
# the SHA-256 of the request body, so the same key with another body is refused. Kept as long as what it names.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", Text, primary_key=True),
    Column("route", String(16), primary_key=True, doc="offersets | direct"),
    Column("key", String(128), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("made_uuid", String(36), nullable=False),
    Column("created", UTCDateTime, nullable=False),
)
