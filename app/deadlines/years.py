"""The holiday calendar in use: the bundled official years merged with those an admin entered."""

from __future__ import annotations

from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy import select

from app.audit import services as audit
from app.core import clock
from app.core.errors import Invalid
from app.deadlines import snapshot
from app.deadlines.calendar import HolidayCalendar
from app.deadlines.calendar import YearCheck
from app.deadlines.calendar import validate_year
from app.deadlines.holidays_cn import bundled_data
from app.deadlines.models import HolidayYear
from app.extensions import db

# Sent (year, actor=...) after a year's schedule is entered, flushed: the case clocks connect to
# it (app/cases/services.py) and recount every running clock on the new calendar, so this module
# needs no import of the cases.
year_saved = Namespace().signal("holiday-year-saved")


def calendar() -> HolidayCalendar:
    """The bundled official calendar, with any years an admin has entered (these win); built
    once per data version (app/deadlines/snapshot.py)."""
    return snapshot.current().calendar


def holiday_years() -> list[dict]:
    """The years the calendar covers: bundled ones and those an admin entered (which win)."""
    entered = {row.year: row for row in db.session.scalars(select(HolidayYear))}
    years = [
        {
            "year": year,
            "source": "bundled",
            "holidays": sorted(data["holidays"]),
            "workdays": sorted(data["workdays"]),
            "notice": None,
            "warnings": [],
        }
        for year, data in bundled_data().items()
        if year not in entered
    ]
    years += [
        {
            "year": year,
            "source": "entered",
            "holidays": sorted(row.holidays),
            "workdays": sorted(row.workdays),
            "notice": row.notice,
            "warnings": [],
        }
        for year, row in entered.items()
    ]
    return sorted(years, key=lambda y: y["year"])


def save_holiday_year(
    year: int, holidays, workdays, notice: str | None, actor
) -> tuple[HolidayYear, YearCheck]:
    """Enter (or correct) a year's official schedule, audited; it replaces the bundled one.

    Raises Invalid (422) naming every problem (and writes nothing) when the schedule is wrong.
    Used by PUT /api/v1/holiday-years/<year> and the admin page alike.
    """
    if not 2000 <= year <= 2100:
        raise Invalid(_("年份应在 2000–2100 之间"), errors={"path": {"year": ["2000–2100"]}})
    check = validate_year(year, holidays, workdays)
    if not check.ok:
        # The per-date reasons come from app/deadlines (Chinese, like the command line's).
        raise Invalid(_("节假日安排有误"), errors={"json": {"holidays": list(check.errors)}})
    row = db.session.get(HolidayYear, year) or HolidayYear(year=year)
    row.holidays = sorted(check.holidays)
    row.workdays = sorted(check.workdays)
    row.notice = notice
    row.entered_by_id = actor.id
    row.entered_at = clock.now()
    db.session.add(row)
    audit.record(
        "deadlines.holidays",
        actor=actor,
        object_type="holiday_year",
        object_id=year,
        detail={"holidays": len(row.holidays), "workdays": len(row.workdays)},
    )
    db.session.flush()
    year_saved.send(year, actor=actor)
    return row, check
