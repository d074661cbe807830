"""Counting legal periods on China's official holiday calendar (DOMAIN.md §4 "Counting").

民法典 第二百零一至二百零三条: the start day is not counted; a period of N days ends at 24:00 of
the Nth day after it; if that last day is a 法定休假日 (statutory day off), the period ends at 24:00
of the first following day that is not. A 法定休假日 is a weekend day or an official holiday, but
not a weekend day made a working day by 调休 — the reading courts apply (the older 民通意见 第一百
九十八条 speaks of "the actual days off" when holidays are shifted). Rules written in 工作日 count
working days on the same calendar. Every date is a date in Asia/Shanghai.

The calendar only knows the 调休 of the years whose schedule has been entered. A count that
examines a day in any other year still answers, counting that year with weekends plus the
statutory holidays computed from the law (app/deadlines/statutory.py: 全国年节及纪念日放假办法),
but never silently: the result carries the years in `Due.uncovered_years`, a warning is logged,
and `coverage_warning` words it for the user
("2027 年节假日安排尚未录入，期限按周末和法定节日推算").
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from app.deadlines.holidays_cn import bundled_data
from app.deadlines.statutory import statutory_holidays

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")

Unit = Literal["days", "working_days"]
UNITS: tuple[Unit, ...] = ("days", "working_days")

DateLike = dt.date | str
YearEntry = Mapping[str, Iterable[DateLike]]

_ONE_DAY = dt.timedelta(days=1)
_WEEKDAY_ZH = "一二三四五六日"


class HolidayCalendar:
    """Official holidays and 调休 make-up workdays, and the years whose schedule they cover."""

    __slots__ = ("holidays", "workdays", "years")

    def __init__(
        self,
        holidays: Iterable[dt.date],
        workdays: Iterable[dt.date],
        years: Iterable[int],
    ) -> None:
        self.holidays: frozenset[dt.date] = frozenset(holidays)
        self.workdays: frozenset[dt.date] = frozenset(workdays)
        self.years: frozenset[int] = frozenset(years)
        clash = self.holidays & self.workdays
        if clash:
            listed = ", ".join(d.isoformat() for d in sorted(clash))
            raise ValueError(f"dates listed both as holiday and as workday: {listed}")

    def __repr__(self) -> str:
        years = ", ".join(str(y) for y in sorted(self.years))
        return f"<HolidayCalendar years=[{years}] holidays={len(self.holidays)}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HolidayCalendar):
            return NotImplemented
        return (self.holidays, self.workdays, self.years) == (
            other.holidays,
            other.workdays,
            other.years,
        )

    def __hash__(self) -> int:
        return hash((self.holidays, self.workdays, self.years))

    @classmethod
    def from_data(
        cls,
        bundled: Mapping[int | str, YearEntry],
        extra: Mapping[int | str, YearEntry] | None = None,
    ) -> HolidayCalendar:
        """Merge bundled years with admin-entered ones (year → {"holidays", "workdays"}).

        An admin entry replaces the bundled entry of the same year as a whole, so a correction can
        remove dates as well as add them (as 2020's extended Spring Festival cancelled a make-up
        workday). Every year is validated and errors raise ValueError; the warnings of admin
        entries are logged (the bundled years' known deviations, such as 2020's, are pinned by
        the tests instead of being logged at every start).
        """
        entries: dict[int, YearEntry] = {int(y): e for y, e in bundled.items()}
        admin_years = {int(y) for y in (extra or {})}
        entries.update({int(y): e for y, e in (extra or {}).items()})
        holidays: set[dt.date] = set()
        workdays: set[dt.date] = set()
        errors: list[str] = []
        for year, entry in sorted(entries.items()):
            check = validate_year(year, entry.get("holidays", ()), entry.get("workdays", ()))
            errors.extend(check.errors)
            if year in admin_years:
                for warning in check.warnings:
                    logger.warning("holiday calendar %s: %s", year, warning)
            holidays.update(check.holidays)
            workdays.update(check.workdays)
        if errors:
            raise ValueError("invalid holiday calendar data:\n" + "\n".join(errors))
        return cls(holidays, workdays, entries)

    def covers(self, year: int) -> bool:
        """Whether the official schedule of this year has been entered."""
        return year in self.years

    def is_day_off(self, day: dt.date) -> bool:
        """Whether the day is a 法定休假日: a weekend or holiday, unless 调休 makes it a workday."""
        if not self.covers(day.year):
            # Without the year's notice the weekend and the statutory holidays are known (the
            # law fixes them), the 调休 is not; callers learn of the guess through
            # Due.uncovered_years.
            return day.weekday() >= 5 or day in statutory_holidays(day.year)
        if day in self.workdays:
            return False
        return day in self.holidays or day.weekday() >= 5

    def is_working_day(self, day: dt.date) -> bool:
        """Whether the day is a 工作日: Mon–Fri not a holiday, or a 调休 make-up weekend day."""
        return not self.is_day_off(day)


@functools.cache
def bundled_calendar() -> HolidayCalendar:
    """The calendar of the bundled official schedule (holidays_cn), without admin entries."""
    return HolidayCalendar.from_data(bundled_data())


@dataclass(frozen=True)
class Due:
    """When a period ends: the last day, the exact instant, and the years counted by guess."""

    date: dt.date  # the last day of the period; it ends at 24:00 of this day
    deadline: dt.datetime  # 00:00 Asia/Shanghai of the following day
    uncovered_years: frozenset[int] = frozenset()

    @property
    def warning(self) -> str:
        """The Chinese warning to show beside the deadline, or "" when the calendar covered it."""
        return coverage_warning(self.uncovered_years)

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether the period has ended at the aware instant `now`."""
        return _require_aware(now) >= self.deadline


@dataclass(frozen=True)
class YearCheck:
    """The outcome of validating one year's entry: the parsed dates, errors and warnings."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether the entry can be used (warnings do not block it)."""
        return not self.errors


def statutory_days_off(year: int) -> int:
    """How many statutory days off (全体公民放假的节日) a year has: 11, or 13 from 2025."""
    # 国务院关于修改〈全国年节及纪念日放假办法〉的决定 (2024) added 农历除夕 and 5月2日.
    return 13 if year >= 2025 else 11


def validate_year(
    year: int,
    holidays: Iterable[DateLike],
    workdays: Iterable[DateLike],
) -> YearCheck:
    """Check one year's holidays and 调休 workdays before they enter the calendar."""
    errors: list[str] = []
    warnings: list[str] = []
    parsed_holidays = _parse_dates(holidays, errors)
    parsed_workdays = _parse_dates(workdays, errors)
    for day in sorted(parsed_holidays | parsed_workdays):
        if day.year != year:
            errors.append(f"{day.isoformat()} 不在 {year} 年内")
    for day in sorted(parsed_holidays & parsed_workdays):
        errors.append(f"{day.isoformat()} 不能既是放假日又是调休上班日")
    for day in sorted(parsed_workdays):
        if day.weekday() < 5:
            errors.append(
                f"{day.isoformat()}（星期{_WEEKDAY_ZH[day.weekday()]}）本是工作日，"
                "不能列为调休上班日"
            )
    # Holidays on a weekend are expected (a block includes the weekend days inside it), so they
    # are not flagged. What can be checked is the balance: each statutory day falling on a
    # weekend is made up on a weekday (全国年节及纪念日放假办法 第六条) and each weekday moved into
    # a block is worked back on a weekend, so weekday holidays minus make-up workdays should equal
    # the statutory days. It is only a warning: 2020's extension and make-up days that fall in
    # the neighbouring year (2012 worked 31 December 2011) legitimately break it.
    if not parsed_holidays:
        warnings.append(f"{year} 年没有录入任何放假日期")
    else:
        weekday_holidays = sum(1 for d in parsed_holidays if d.weekday() < 5)
        net = weekday_holidays - len(parsed_workdays)
        expected = statutory_days_off(year)
        if net != expected:
            warnings.append(
                f"{year} 年工作日放假 {weekday_holidays} 天、调休上班 {len(parsed_workdays)} 天，"
                f"净增休息 {net} 天，与法定假日 {expected} 天不符，请核对通知原文"
            )
    return YearCheck(
        year=year,
        holidays=frozenset(parsed_holidays),
        workdays=frozenset(parsed_workdays),
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def start_day(moment: dt.datetime | dt.date) -> dt.date:
    """The Asia/Shanghai date of an aware datetime (a date is taken as already local)."""
    if isinstance(moment, dt.datetime):
        return _require_aware(moment).astimezone(SHANGHAI).date()
    if isinstance(moment, dt.date):
        return moment
    raise TypeError(f"expected a date or an aware datetime, got {type(moment).__name__}")


def deadline_instant(due_date: dt.date) -> dt.datetime:
    """24:00 Asia/Shanghai of the due date, i.e. 00:00 of the following day, as aware datetime."""
    return dt.datetime.combine(due_date + _ONE_DAY, dt.time(0), tzinfo=SHANGHAI)


def add_days(
    start: dt.datetime | dt.date,
    days: int,
    *,
    calendar: HolidayCalendar | None = None,
) -> Due:
    """When a period of `days` calendar days from `start` ends (民法典 第二百零一、二百零三条)."""
    due_date, uncovered = _count_days(start_day(start), days, calendar or bundled_calendar())
    return _due(due_date, uncovered)


def add_working_days(
    start: dt.datetime | dt.date,
    days: int,
    *,
    calendar: HolidayCalendar | None = None,
) -> Due:
    """When a period of `days` 工作日 from `start` ends: the Nth working day after the start day."""
    cal = calendar or bundled_calendar()
    due_date, uncovered = _count_working_days(start_day(start), days, cal)
    return _due(due_date, uncovered)


def due_after(
    start: dt.datetime | dt.date,
    amount: int,
    unit: Unit = "days",
    *,
    calendar: HolidayCalendar | None = None,
) -> Due:
    """When a period ends, for a policy stored as data (amount, unit "days" or "working_days")."""
    cal = calendar or bundled_calendar()
    due_date, uncovered = _count(start_day(start), amount, unit, cal)
    return _due(due_date, uncovered)


def extend(
    due: Due | dt.date,
    days: int,
    unit: Unit = "days",
    *,
    calendar: HolidayCalendar | None = None,
) -> Due:
    """The new end of a period extended by `days`, counted from the original due date."""
    # The original last day is the new start day, so it is not counted again (第二百零一条).
    # Any year the original count guessed stays flagged: the new date rests on it.
    cal = calendar or bundled_calendar()
    if isinstance(due, Due):
        original, inherited = due.date, due.uncovered_years
    else:
        original, inherited = due, frozenset()
    due_date, uncovered = _count(original, days, unit, cal)
    return _due(due_date, uncovered | inherited)


def coverage_warning(years: Iterable[int], lang: str = "zh") -> str:
    """The user-facing warning for years counted without their holiday schedule ("" if none)."""
    ordered = sorted(set(years))
    if not ordered:
        return ""
    if lang == "en":
        listed = ", ".join(str(y) for y in ordered)
        return (
            f"The {listed} holiday schedule has not been entered; "
            "the deadline was counted with weekends and statutory holidays only."
        )
    listed = "、".join(str(y) for y in ordered)
    return f"{listed} 年节假日安排尚未录入，期限按周末和法定节日推算"


def _count(
    first: dt.date, amount: int, unit: Unit, cal: HolidayCalendar
) -> tuple[dt.date, frozenset[int]]:
    if unit == "days":
        return _count_days(first, amount, cal)
    if unit == "working_days":
        return _count_working_days(first, amount, cal)
    raise ValueError(f"unknown unit {unit!r}: expected one of {', '.join(UNITS)}")


def _count_days(first: dt.date, days: int, cal: HolidayCalendar) -> tuple[dt.date, frozenset[int]]:
    _require_positive(days)
    # Natural days between are not examined: only the last day, and any roll-over after it,
    # depend on the calendar.
    last = first + dt.timedelta(days=days)
    examined = {last.year}
    while cal.is_day_off(last):
        last += _ONE_DAY
        examined.add(last.year)
    return last, frozenset(y for y in examined if not cal.covers(y))


def _count_working_days(
    first: dt.date, days: int, cal: HolidayCalendar
) -> tuple[dt.date, frozenset[int]]:
    _require_positive(days)
    day = first
    counted = 0
    examined: set[int] = set()
    while counted < days:
        day += _ONE_DAY
        examined.add(day.year)
        if cal.is_working_day(day):
            counted += 1
    return day, frozenset(y for y in examined if not cal.covers(y))


def _due(due_date: dt.date, uncovered: frozenset[int]) -> Due:
    if uncovered:
        logger.warning(
            "holiday calendar does not cover %s: due date %s was counted without its 调休",
            ", ".join(str(y) for y in sorted(uncovered)),
            due_date.isoformat(),
        )
    return Due(date=due_date, deadline=deadline_instant(due_date), uncovered_years=uncovered)


def _require_positive(days: int) -> None:
    # A period of 0 days has no last day under 第二百零一条 (the start day is never counted).
    if days < 1:
        raise ValueError(f"a period must be at least 1 day, got {days}")


def _require_aware(moment: dt.datetime) -> dt.datetime:
    # A naive time could be UTC or local; guessing would move deadlines by a day near midnight.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no time zone: pass an aware datetime")
    return moment


def _parse_dates(values: Iterable[DateLike], errors: list[str]) -> set[dt.date]:
    parsed: set[dt.date] = set()
    for value in values:
        if isinstance(value, dt.datetime):
            errors.append(f"{value!r} 是时间，不是日期")
        elif isinstance(value, dt.date):
            parsed.add(value)
        elif isinstance(value, str):
            try:
                parsed.add(dt.date.fromisoformat(value.strip()))
            except ValueError:
                errors.append(f"无法识别的日期：{value!r}（应为 YYYY-MM-DD）")
        else:
            errors.append(f"无法识别的日期：{value!r}（应为 YYYY-MM-DD）")
    return parsed
