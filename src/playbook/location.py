"""Where a playbook lives: a SQLite file's path, or a PostgreSQL database's URL. Light on
purpose (the config reads it, and a config error must not load the database layer)."""

from __future__ import annotations

import os
from pathlib import Path

Location = Path | str
"""A SQLite file's path, or a PostgreSQL URL (a str)."""

URL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
DATABASE_URL_ENV = "PLAYBOOK_DATABASE_URL"


def is_url(location: object) -> bool:
    return isinstance(location, str) and "://" in location


def parse_location(value: str | os.PathLike[str]) -> Location:
    """A config value or flag: a PostgreSQL URL stays a string, anything else is a file path."""
    if isinstance(value, str) and "://" in value:
        if not value.startswith(URL_SCHEMES):
            scheme = value.split("://", 1)[0]
            raise ValueError(
                f"a playbook is a SQLite file path or a postgresql:// URL, not a {scheme}:// URL"
            )
        return value
    return Path(value)
