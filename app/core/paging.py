"""Keyset paging: opaque cursors and the WHERE clause that continues after one.

Lists are ordered by (a nullable date, nulls last, then id) — nearest deadline first — or by id
alone. A cursor is the last row's key, base64-encoded; it is opaque to clients.
"""

from __future__ import annotations

import base64
import datetime as dt

from sqlalchemy import ColumnElement

from app.core.errors import BadRequest


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


def after(due_column, id_column, cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in (due ASC NULLS LAST, id ASC) order."""
    due, ident = decode_cursor(cursor)
    if due is None:
        return due_column.is_(None) & (id_column > ident)
    return (due_column > due) | ((due_column == due) & (id_column > ident)) | due_column.is_(None)


def page(rows: list, limit: int, key) -> tuple[list, str | None]:
    """The first `limit` rows of `limit + 1` fetched, and the cursor for the next page."""
    items = rows[:limit]
    if len(rows) <= limit:
        return items, None
    return items, encode_cursor(*key(items[-1]))
