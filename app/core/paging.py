"""Keyset paging: opaque cursors and the WHERE clause that continues after one.

Lists are ordered by (a nullable date, nulls last, then id) — nearest deadline first — or by id
alone. A cursor is the last row's key, base64-encoded; it is opaque to clients.
"""

from __future__ import annotations

import base64
import datetime as dt

from sqlalchemy import func
from sqlalchemy import literal_column
from sqlalchemy import tuple_

from app.core.errors import BadRequest

# A missing deadline sorts last: (coalesce(due, infinity), id) is one ascending key, so the
# continuation is a single row comparison that an index on that expression can seek.
NO_DUE = literal_column("DATE 'infinity'")


def encode_cursor(due: dt.date | None, ident: int) -> str:
    """An opaque cursor after the row with this (date, id) key."""
    raw = f"{due.isoformat() if due else ''}|{ident}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, name: str = "after") -> tuple[dt.date | None, int]:
    """The (date, id) a cursor points after; 400 naming the parameter when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, ident = raw.split("|")
        return (dt.date.fromisoformat(due) if due else None), int(ident)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(
            f"{name} 游标无效", errors={"query": {name: ["请使用上一页返回的 next"]}}
        ) from None


def due_key(due_column):
    """The ordering key of a nullable deadline: nearest first, none last."""
    return func.coalesce(due_column, NO_DUE)


def nearest_due_first(stmt, due_column, id_column, cursor: str | None, limit: int):
    """`stmt` ordered by (deadline, id) from after the cursor, `limit + 1` rows (to know if
    there are more)."""
    after = decode_cursor(cursor) if cursor else None
    return continue_after(stmt, due_column, id_column, after, limit)


def continue_after(stmt, due_column, id_column, after: tuple | None, limit: int):
    """`stmt` ordered by (deadline, id) from after the key `after` ((deadline or None, id),
    values or bound parameters; None: from the start), `limit + 1` rows."""
    key = due_key(due_column)
    if after is not None:
        due, ident = after
        stmt = stmt.where(tuple_(key, id_column) > tuple_(NO_DUE if due is None else due, ident))
    return stmt.order_by(key, id_column).limit(limit + 1)


def page(rows: list, limit: int, key) -> tuple[list, str | None]:
    """The first `limit` rows of `limit + 1` fetched, and the cursor for the next page."""
    items = rows[:limit]
    if len(rows) <= limit:
        return items, None
    return items, encode_cursor(*key(items[-1]))
