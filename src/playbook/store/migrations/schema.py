"""The current schema, mirrored for the store's queries (SQLAlchemy Core tables).

The migrations in versions/ build it and are the truth; a test checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes, stored naive because SQLite has no time zones."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSON = sa.JSON().with_variant(JSONB(), "postgresql")
"""JSON text on SQLite, jsonb on PostgreSQL (migration 0009)."""

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("kind", sa.String),
    sa.Column("status", sa.String),
    sa.Column("config", JSON),
    sa.Column("models", JSON),
    sa.Column("summary", JSON),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String),
    sa.Column("role", sa.String),
    sa.Column("model", sa.String),
    sa.Column("cache_key", sa.String),
    sa.Column("request", JSON),
    sa.Column("output", sa.Text),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("latency_ms", sa.Float),
    sa.Column("cost", sa.Float),
    sa.Column("cached", sa.Boolean),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime),
    sa.Column("extras", JSON),  # the answer's fields beyond its text (Completion.extras)
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String),
    sa.Column("round", sa.Integer),
    sa.Column("scenario", JSON),
    sa.Column("scenario_text", sa.Text),
    sa.Column("guidance", JSON),
    sa.Column("provenance", JSON),
    sa.Column("embedding", sa.LargeBinary),
    sa.Column("embedding_model", sa.String),
    sa.Column("status", sa.String),
    sa.Column("content_key", sa.String, unique=True),
    sa.Column("created_at", UTCDateTime),
    sa.Column("goal", sa.Text),  # the scenario's persona's goal, read without the JSON (0011)
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entry_id", sa.Integer),
    sa.Column("status", sa.String),
    sa.Column("reviewer", sa.String),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UTCDateTime),
    sa.Column("action", sa.String),  # "status" (a status set) or "edited" (a new version)
)

failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String),
    sa.Column("role", sa.String),
    sa.Column("model", sa.String),
    sa.Column("reason", sa.Text),
    sa.Column("scenario_text", sa.Text),
    sa.Column("created_at", UTCDateTime),
    sa.Column("cause", sa.String),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String),
    sa.Column("student", sa.String),
    sa.Column("condition", sa.String),
    sa.Column("persona", JSON),
    sa.Column("sample", sa.Integer),
    sa.Column("transcript", JSON),
    sa.Column("left", sa.Boolean),
    sa.Column("satisfaction", sa.Integer),
    sa.Column("satisfaction_explanation", sa.Text),
    sa.Column("compliance", sa.Integer),
    sa.Column("compliance_explanation", sa.Text),
    sa.Column("entry_ids", JSON),
    sa.Column("created_at", UTCDateTime),
)

served = sa.Table(
    "served",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime),
    sa.Column("model", sa.String),
    sa.Column("stream", sa.Boolean),
    sa.Column("entry_ids", JSON),
    sa.Column("latency_ms", sa.Float),
    sa.Column("upstream_status", sa.Integer),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column(
        "request", sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    ),
    sa.Column("response", sa.Text),
)

entry_versions = sa.Table(
    "entry_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entry_id", sa.Integer),
    sa.Column("version", sa.Integer),
    sa.Column("guidance", JSON),
    sa.Column("reviewer", sa.String),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UTCDateTime),
    sa.Column("checks", sa.JSON),  # the check the version passed; None: saved unchecked
)

drafts = sa.Table(
    "drafts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entry_id", sa.Integer),
    sa.Column("guidance", sa.JSON),
    sa.Column("reviewer", sa.String),
    sa.Column("reason", sa.Text),
    sa.Column("problem", sa.Text),  # why it was not served
    sa.Column("checks", sa.JSON),
    sa.Column("created_at", UTCDateTime),
)

guideline_changes = sa.Table(
    "guideline_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action", sa.String),  # edited, approved or rejected
    sa.Column("text", sa.Text),
    sa.Column("new_text", sa.Text),
    sa.Column("reviewer", sa.String),
    sa.Column("reason", sa.Text),
    sa.Column("entry_ids", sa.JSON),  # the entries changed
    sa.Column("draft_ids", sa.JSON),  # the entries whose edit failed its check (drafts)
    sa.Column("created_at", UTCDateTime),
)

calls_in_flight = sa.Table(
    "calls_in_flight",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String),
    sa.Column("role", sa.String),
    sa.Column("model", sa.String),
    sa.Column("cache_key", sa.String),
    sa.Column("idempotency_key", sa.String),
    sa.Column("created_at", UTCDateTime),
    sa.UniqueConstraint("run_id", "cache_key"),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("token", sa.String),
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("since", UTCDateTime),
    sa.Column("heartbeat", UTCDateTime),
)
