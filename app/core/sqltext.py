"""Text statements as the driver takes them, for paths that skip SQLAlchemy's execution layer."""

from __future__ import annotations

import functools

from sqlalchemy import text
from sqlalchemy.dialects import postgresql as pg


@functools.lru_cache(maxsize=128)
def driver_sql(sql: str) -> str:
    """A `text()` statement as psycopg2 takes it (`%(name)s` parameters, `%` doubled), compiled
    once per text by SQLAlchemy's own rules (the callers' statements are a few templates, their
    parameters bound)."""
    return text(sql).compile(dialect=pg.psycopg2.dialect()).string
