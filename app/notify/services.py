"""Write notifications in the caller's transaction (flush, never commit).

`emit` is the one entry point: services call it beside the change that causes the event, so the
inbox row (and any SMS to send) commits or rolls back with that change.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.notify.models import EVENTS
from app.notify.models import Notification


def _user_ids(recipients: Iterable) -> list[int]:
    ids = []
    for r in recipients:
        uid = r if isinstance(r, int) else getattr(r, "id", None)
        if uid is not None and uid not in ids:
            ids.append(uid)
    return ids


def emit(
    event: str,
    recipients: Iterable,
    *,
    title: str,
    body: str | None = None,
    case=None,
    dispatch=None,
    link: str | None = None,
    dedup_key: str | None = None,
    exclude=None,
) -> list[int]:
    """Tell `recipients` (users or ids) about `event`; answer the new notifications' ids.

    `exclude` (a user or id) is left out: nobody is told of what they did themselves. With a
    `dedup_key`, a user already told under that key is not told again.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}: add it to app/notify/models.py")
    skip = exclude if isinstance(exclude, int) else getattr(exclude, "id", None)
    ids = [u for u in _user_ids(recipients) if u != skip]
    if not ids:
        return []
    if link is None and case is not None:
        link = f"/cases/{case.number}"
    rows = [
        {
            "user_id": uid,
            "event": event,
            "case_id": getattr(case, "id", None),
            "dispatch_id": getattr(dispatch, "id", None),
            "title": title[:200],
            "body": body,
            "link": link,
            "dedup_key": dedup_key,
        }
        for uid in ids
    ]
    stmt = insert(Notification).values(rows)
    if dedup_key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["user_id", "dedup_key"],
            index_where=Notification.dedup_key.isnot(None),
        )
    new_ids = list(db.session.scalars(stmt.returning(Notification.id)))
    return new_ids


def unread_count(user_id: int) -> int:
    """How many notifications the user has not read."""
    return db.session.scalar(
        select(db.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
