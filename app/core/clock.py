"""The one clock: the current instant and today's date in Asia/Shanghai.

Every service reads the time here (`clock.now()`, `clock.today()`, called through the module so
that tests freeze it in one place: `monkeypatch.setattr(clock, "today", ...)`).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    """The current instant (UTC, aware)."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in Asia/Shanghai (the legal day of every deadline)."""
    return now().astimezone(SHANGHAI).date()


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of an instant."""
    return moment.astimezone(SHANGHAI).date()


def start_of(day: dt.date) -> dt.datetime:
    """The instant an Asia/Shanghai day begins."""
    return dt.datetime.combine(day, dt.time(), SHANGHAI)
