"""Write notifications in the caller's transaction (flush, never commit), and read the inbox.

`emit` is the one entry point: services call it beside the change that causes the event, so the
inbox row, any SMS to send and the job that will send it (procrastinate's queue is a table in
this database: app/notify/jobs.py) commit or roll back with that change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from app.accounts.models import User
from app.core import clock
from app.core import paging
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.extensions import db
from app.notify import jobs
from app.notify.models import DEFAULT_QUIET
from app.notify.models import DEFAULT_SMS_EVENTS
from app.notify.models import EVENTS
from app.notify.models import Notification
from app.notify.models import NotificationSetting
from app.notify.models import SmsMessage

SMS_PREFIX = "【网格通】"
SMS_MAX = 300  # characters: a long SMS is several parts; the provider splits it


@dataclass(frozen=True)
class Preferences:
    """One user's preferences, stored or the defaults."""

    sms_events: tuple[str, ...] = DEFAULT_SMS_EVENTS
    muted_events: tuple[str, ...] = ()
    quiet_from: dt.time | None = DEFAULT_QUIET[0]
    quiet_to: dt.time | None = DEFAULT_QUIET[1]

    @classmethod
    def of(cls, row: NotificationSetting | None) -> Preferences:
        """The preferences a settings row holds (the defaults without one)."""
        if row is None:
            return cls()
        return cls(tuple(row.sms_events), tuple(row.muted_events), row.quiet_from, row.quiet_to)


def _user_ids(recipients: Iterable) -> list[int]:
    ids = []
    for r in recipients:
        uid = r if isinstance(r, int) else getattr(r, "id", None)
        if uid is not None and uid not in ids:
            ids.append(uid)
    return ids


def quiet_until(prefs: Preferences, moment: dt.datetime) -> dt.datetime | None:
    """When the user's quiet hours end, if `moment` falls inside them (else None).

    Wall-clock times in Asia/Shanghai; a window whose start is after its end spans midnight.
    """
    start, end = prefs.quiet_from, prefs.quiet_to
    if start is None or end is None or start == end:
        return None
    local = moment.astimezone(clock.SHANGHAI)
    now, day = local.time(), local.date()
    if start < end:
        inside = start <= now < end
    else:
        inside = now >= start or now < end
        if now >= start:
            day += dt.timedelta(days=1)
    if not inside:
        return None
    return dt.datetime.combine(day, end, clock.SHANGHAI).astimezone(dt.UTC)


def sms_text(title: str, body: str | None) -> str:
    """The text message for a notification: the product's mark, the title, the body."""
    text = SMS_PREFIX + title + (f"：{body}" if body else "")
    return text if len(text) <= SMS_MAX else text[: SMS_MAX - 1] + "…"


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
    `dedup_key`, a user already told under that key is not told again. A user who muted the
    event is not told; one who takes it by SMS (and has a phone) also gets a text message,
    deferred to the end of their quiet hours when it falls inside them.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}: add it to app/notify/models.py")
    skip = exclude if isinstance(exclude, int) else getattr(exclude, "id", None)
    ids = [u for u in _user_ids(recipients) if u != skip]
    if not ids:
        return []
    people = {
        uid: (phone, active, Preferences.of(row))
        for uid, phone, active, row in db.session.execute(
            select(User.id, User.phone, User.active, NotificationSetting)
            .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
            .where(User.id.in_(ids))
        )
    }
    return emit_to(
        event,
        ids,
        people,
        title=title,
        body=body,
        case=case,
        dispatch=dispatch,
        link=link,
        dedup_key=dedup_key,
    )


# What `emit_to` needs of each recipient, for a caller that reads them in a statement of its own
# (`FROM users u LEFT JOIN notification_settings s ON s.user_id = u.id`): `person(*row)` of
# these columns is emit's (phone, active, preferences).
PERSON_COLUMNS = (
    "u.phone, u.active, s.user_id IS NOT NULL, s.sms_events, s.muted_events, s.quiet_from, "
    "s.quiet_to"
)


def person(phone, active, has_settings, sms_events, muted_events, quiet_from, quiet_to) -> tuple:
    """(phone, active, Preferences) of a row of PERSON_COLUMNS, as `emit` reads them."""
    if not has_settings:
        return phone, active, Preferences()
    return phone, active, Preferences(tuple(sms_events), tuple(muted_events), quiet_from, quiet_to)


# One inbox row per user id, in the order given (the ids are handed out in it); with a dedup key,
# a user already told under it is skipped (uq_notifications_dedup). A text statement made once:
# building and compiling an INSERT of as many VALUES rows on every call cost more than running it.
INSERT_SQL = """
INSERT INTO notifications (user_id, event, case_id, dispatch_id, title, body, link, dedup_key)
SELECT t.user_id, :event, CAST(:case_id AS bigint), CAST(:dispatch_id AS bigint), :title, :body,
       :link, :dedup_key
  FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS t(user_id, n)
 ORDER BY t.n
{conflict}
RETURNING id, user_id
"""
INSERT = text(INSERT_SQL.format(conflict=""))
INSERT_DEDUP = text(
    INSERT_SQL.format(
        conflict="ON CONFLICT (user_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING"
    )
)


def emit_to(
    event: str,
    ids: list[int],
    people: dict,
    *,
    title: str,
    body: str | None = None,
    case=None,
    dispatch=None,
    link: str | None = None,
    dedup_key: str | None = None,
) -> list[int]:
    """`emit` to these user ids, their (phone, active, Preferences) already read (`people`:
    those of `ids` that exist); the same rows, dedup and SMS as `emit`."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}: add it to app/notify/models.py")
    ids = [u for u in ids if u in people and event not in people[u][2].muted_events]
    if not ids:
        return []
    if link is None and case is not None:
        link = f"/cases/{case.number}"
    created = db.session.execute(
        INSERT_DEDUP if dedup_key is not None else INSERT,
        {
            "ids": ids,
            "event": event,
            "case_id": getattr(case, "id", None),
            "dispatch_id": getattr(dispatch, "id", None),
            "title": title[:200],
            "body": body,
            "link": link,
            "dedup_key": dedup_key,
        },
    ).all()
    _queue_sms(event, created, people, sms_text(title, body))
    return [nid for nid, _uid in created]


def _queue_sms(event: str, created, people: dict, text: str) -> None:
    """An SmsMessage and its delivery job for each new notification that goes by SMS."""
    moment = clock.now()
    messages = []
    for nid, uid in created:
        phone, active, prefs = people[uid]
        if not phone or not active or event not in prefs.sms_events:
            continue
        at = quiet_until(prefs, moment)
        messages.append(
            {
                "notification_id": nid,
                "user_id": uid,
                "phone": phone,
                "text": text,
                "scheduled_at": at,
            }
        )
    if not messages:
        return
    stmt = insert(SmsMessage).values(messages).returning(SmsMessage.id, SmsMessage.scheduled_at)
    for message_id, at in db.session.execute(stmt).all():
        jobs.defer_sms(message_id, at)


def unread_count(user_id: int) -> int:
    """How many notifications the user has not read (one index-only count)."""
    return db.session.scalar(
        select(db.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


# --- the inbox -----------------------------------------------------------------------------------


def inbox_page(
    user_id: int, *, unread: bool = False, after: str | None = None, limit: int = 50
) -> tuple[list[Notification], str | None]:
    """The user's notifications, newest first, by keyset pages (`after` = the last page's next)."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if after:
        _none, last_id = paging.decode_cursor(after)
        stmt = stmt.where(Notification.id < last_id)
    rows = db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1)).all()
    return paging.page(rows, limit, lambda n: (None, n.id))


def own_notification(user_id: int, notification_id: int) -> Notification:
    """One of the user's notifications; anyone else's answers like a missing one (404)."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(_("通知不存在"))
    return row


def mark_read(row: Notification) -> Notification:
    """Mark one notification read (reading it again keeps the first time)."""
    if row.read_at is None:
        row.read_at = clock.now()
        db.session.flush()
    return row


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; answer how many."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- preferences ---------------------------------------------------------------------------------


def preferences(user_id: int) -> Preferences:
    """The user's notification preferences (the defaults until they save some)."""
    return Preferences.of(db.session.get(NotificationSetting, user_id))


def save_preferences(user_id: int, data: dict) -> Preferences:
    """Store the user's preferences (validated by NotificationSettingsSchema)."""
    if (data.get("quiet_from") is None) != (data.get("quiet_to") is None):
        missing = "quiet_to" if data.get("quiet_to") is None else "quiet_from"
        raise Invalid(
            _("免打扰时段须同时填写开始和结束时间"),
            {"json": {missing: [_("须与另一端同时填写（HH:MM）")]}},
        )
    row = db.session.get(NotificationSetting, user_id) or NotificationSetting(user_id=user_id)
    row.sms_events = sorted(set(data["sms_events"]))
    row.muted_events = sorted(set(data["muted_events"]))
    row.quiet_from, row.quiet_to = data.get("quiet_from"), data.get("quiet_to")
    row.updated_at = clock.now()
    db.session.add(row)
    db.session.flush()
    return Preferences.of(row)
