"""Day counting under 民法典 第二百零一至二百零三条 on the official holiday calendar.

Every expected date below was worked out by hand from the notices in app/deadlines/holidays_cn.py;
the comment beside each case shows the count.
"""

import datetime as dt
import logging

import pytest

from app.deadlines.calendar import SHANGHAI
from app.deadlines.calendar import Due
from app.deadlines.calendar import HolidayCalendar
from app.deadlines.calendar import add_days
from app.deadlines.calendar import add_working_days
from app.deadlines.calendar import bundled_calendar
from app.deadlines.calendar import coverage_warning
from app.deadlines.calendar import deadline_instant
from app.deadlines.calendar import due_after
from app.deadlines.calendar import extend
from app.deadlines.calendar import start_day
from app.deadlines.holidays_cn import bundled_data

D = dt.date
UTC = dt.UTC


def sh(*args: int) -> dt.datetime:
    """An aware Asia/Shanghai datetime."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Reported Mon 3 Mar 2025 at 23:59: that day is not counted, day 1 is Tue 4 Mar.
        (sh(2025, 3, 3, 23, 59), 1, D(2025, 3, 4)),
        # Reported at 00:00 the same Monday: the whole day is still not counted.
        (sh(2025, 3, 3, 0, 0), 1, D(2025, 3, 4)),
        (D(2025, 3, 3), 1, D(2025, 3, 4)),
        # 15 days from Mon 3 Mar: 3 + 15 = Tue 18 Mar (a working day).
        (sh(2025, 3, 3, 23, 59), 15, D(2025, 3, 18)),
    ],
)
def test_start_day_is_not_counted(start, days, expected):
    """Does a period start counting on the day after the start day, whatever the hour?"""
    assert add_days(start, days).date == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (D(2025, 3, 10), 3, D(2025, 3, 13)),  # Mon 10 Mar + 3 = Thu 13 Mar
        (D(2025, 6, 9), 7, D(2025, 6, 16)),  # Mon 9 Jun + 7 = Mon 16 Jun
        # Petition 60 days: Fri 1 Aug + 30 = 31 Aug, + 30 more = Tue 30 Sep 2025.
        (D(2025, 8, 1), 60, D(2025, 9, 30)),
    ],
)
def test_period_ending_on_a_weekday(start, days, expected):
    """Does a period whose last day is an ordinary weekday end on that day?"""
    due = add_days(start, days)
    assert due.date == expected
    assert due.uncovered_years == frozenset()


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # 2024 is a leap year: 31 Jan + 29 = 29 Feb, + 30 = Fri 1 Mar.
        (D(2024, 1, 31), 30, D(2024, 3, 1)),
        # 2025 is not: 31 Jan + 28 = 28 Feb, + 29 = Sat 1 Mar, + 30 = Sun 2 Mar → Mon 3 Mar.
        (D(2025, 1, 31), 30, D(2025, 3, 3)),
        (D(2024, 2, 28), 1, D(2024, 2, 29)),  # Wed 28 Feb 2024 + 1 = Thu 29 Feb
        (D(2023, 2, 28), 1, D(2023, 3, 1)),  # Tue 28 Feb 2023 + 1 = Wed 1 Mar
        # Year end: Wed 31 Dec 2025 + 1 = Thu 1 Jan 2026 (元旦 1–3 Jan, off) → 2 Jan off
        # → Sat 3 Jan off → Sun 4 Jan is a 调休 workday, so the period ends there.
        (D(2025, 12, 31), 1, D(2026, 1, 4)),
    ],
)
def test_month_and_year_ends(start, days, expected):
    """Do periods run across month ends, leap days and the year end by the calendar?"""
    assert add_days(start, days).date == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Thu 18 Sep 2025 + 15: 18 + 12 = 30 Sep, + 15 = Fri 3 Oct, inside the 8-day
        # 国庆节、中秋节 block (1–8 Oct) → the first day not off is Thu 9 Oct.
        (D(2025, 9, 18), 15, D(2025, 10, 9)),
        # Fri 20 Sep 2024 + 15 = Sat 5 Oct, inside 国庆 (1–7 Oct) → Tue 8 Oct.
        (D(2024, 9, 20), 15, D(2024, 10, 8)),
        # Thu 23 Jan 2025 + 7 = Thu 30 Jan, inside 春节 (28 Jan–4 Feb) → Wed 5 Feb.
        (D(2025, 1, 23), 7, D(2025, 2, 5)),
    ],
)
def test_last_day_in_a_holiday_block_rolls_over(start, days, expected):
    """Does a last day inside a holiday block move to the first day after it that is not off?"""
    assert add_days(start, days).date == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Wed 5 Mar 2025 + 3 = Sat 8 Mar → Sun 9 → Mon 10 Mar.
        (D(2025, 3, 5), 3, D(2025, 3, 10)),
        # Wed 5 Jun 2024 + 3 = Sat 8 Jun → Sun 9 → Mon 10 Jun is 端午 ("与周末连休") → Tue 11.
        (D(2024, 6, 5), 3, D(2024, 6, 11)),
        # Wed 28 May 2025 + 3 = Sat 31 May, 端午 block 31 May–Mon 2 Jun → Tue 3 Jun.
        (D(2025, 5, 28), 3, D(2025, 6, 3)),
    ],
)
def test_last_day_on_a_weekend_moves_to_the_next_working_day(start, days, expected):
    """Does a weekend last day move to Monday, or later when Monday is a holiday?"""
    assert add_days(start, days).date == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Fri 10 Oct 2025 + 1 = Sat 11 Oct, a 调休 workday: it is not a day off, so it stands.
        (D(2025, 10, 10), 1, D(2025, 10, 11)),
        # Thu 25 Sep 2025 + 3 = Sun 28 Sep, a 调休 workday.
        (D(2025, 9, 25), 3, D(2025, 9, 28)),
        # Mon 3 Nov 2025 + 60: 3 + 27 = 30 Nov, 31 Dec is day 58, Fri 2 Jan 2026 day 60 —
        # 元旦 (1–3 Jan) → Sat 3 Jan off → Sun 4 Jan, a 调休 workday: the period ends there.
        (D(2025, 11, 3), 60, D(2026, 1, 4)),
    ],
)
def test_last_day_on_a_makeup_workday_stands(start, days, expected):
    """Is a weekend day made a working day by 调休 a valid last day (not a 法定休假日)?"""
    cal = bundled_calendar()
    assert cal.is_working_day(expected)
    assert expected.weekday() >= 5
    assert add_days(start, days).date == expected


def test_2020_spring_festival_extension_counts():
    """Does the COVID extension to 2 Feb 2020 (and the cancelled 1 Feb make-up day) apply?"""
    # Thu 16 Jan 2020 + 15 = Fri 31 Jan: off by the extension → Sat 1 Feb, announced as a
    # make-up workday but inside the extended holiday → Sun 2 Feb → Mon 3 Feb, work resumed.
    assert add_days(D(2020, 1, 16), 15).date == D(2020, 2, 3)
    cal = bundled_calendar()
    assert cal.is_day_off(D(2020, 2, 1))
    assert cal.is_working_day(D(2020, 1, 19))  # the other make-up day still stood


def test_eve_of_spring_festival_2024_is_a_working_day():
    """Is 除夕 2024 (9 Feb), only "encouraged" as a rest day, a working day for counting?"""
    # Tue 6 Feb 2024 + 3 = Fri 9 Feb, which stands.
    assert add_days(D(2024, 2, 6), 3).date == D(2024, 2, 9)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Wed 5 Mar 2025: Thu 6 (1), Fri 7 (2), Mon 10 (3), Tue 11 (4), Wed 12 (5).
        (D(2025, 3, 5), 5, D(2025, 3, 12)),
        # Fri 26 Sep 2025: Sat 27 off; Sun 28 调休 (1), Mon 29 (2), Tue 30 (3); 1–8 Oct off;
        # Thu 9 Oct (4), Fri 10 Oct (5).
        (D(2025, 9, 26), 5, D(2025, 10, 10)),
        # Tue 30 Sep 2025: 1–8 Oct off; Thu 9 (1), Fri 10 (2), Sat 11 调休 (3), Sun 12 off,
        # Mon 13 (4), Tue 14 (5).
        (D(2025, 9, 30), 5, D(2025, 10, 14)),
        # Received on a holiday, Fri 3 Oct 2025: the first working day after it is Thu 9 Oct.
        (D(2025, 10, 3), 1, D(2025, 10, 9)),
    ],
)
def test_working_days_skip_holidays_and_count_makeup_days(start, days, expected):
    """Does a 工作日 rule skip weekends and holidays but count 调休 make-up weekend days?"""
    assert add_working_days(start, days).date == expected
    assert due_after(start, days, "working_days").date == expected


def test_extension_counts_from_the_original_due_date():
    """Is an approved extension counted from the original last day, not re-counting it?"""
    # Thu 18 Sep 2025 + 15 → Thu 9 Oct (rolled over 国庆). Extended by 30: 9 Oct + 22 =
    # 31 Oct, + 30 = Sat 8 Nov → Sun 9 → Mon 10 Nov 2025.
    original = add_days(D(2025, 9, 18), 15)
    assert original.date == D(2025, 10, 9)
    extended = extend(original, 30)
    assert extended.date == D(2025, 11, 10)
    assert extend(D(2025, 10, 9), 30) == extended
    # Fri 26 Sep 2025 + 30 = Sun 26 Oct → Mon 27 Oct (a date is accepted as well as a Due).
    assert extend(D(2025, 9, 26), 30).date == D(2025, 10, 27)


def test_due_carries_the_exact_deadline_instant():
    """Does a period ending on day D end at 24:00 of D, i.e. 00:00 of D+1 in Shanghai?"""
    due = add_days(D(2025, 9, 18), 15)  # → Thu 9 Oct 2025, as above
    assert due.deadline == sh(2025, 10, 10, 0, 0)
    assert due.deadline == dt.datetime(2025, 10, 9, 16, 0, tzinfo=UTC)
    assert deadline_instant(D(2025, 10, 9)) == due.deadline
    assert not due.is_overdue(sh(2025, 10, 9, 23, 59, 59))
    assert due.is_overdue(sh(2025, 10, 10, 0, 0))
    with pytest.raises(ValueError, match="naive"):
        due.is_overdue(dt.datetime(2025, 10, 10, 12, 0))


@pytest.mark.parametrize(
    ("moment", "local_day", "due"),
    [
        # 16:30 UTC on 3 Mar is 00:30 on Tue 4 Mar in Shanghai: day 1 is Wed 5 Mar.
        (dt.datetime(2025, 3, 3, 16, 30, tzinfo=UTC), D(2025, 3, 4), D(2025, 3, 5)),
        # 15:59 UTC is still 23:59 on Mon 3 Mar in Shanghai: day 1 is Tue 4 Mar.
        (dt.datetime(2025, 3, 3, 15, 59, tzinfo=UTC), D(2025, 3, 3), D(2025, 3, 4)),
        # 16:00 UTC on Fri 10 Oct 2025 is 00:00 on Sat 11 Oct in Shanghai: day 1 is Sun 12 Oct
        # (off) → Mon 13 Oct.
        (dt.datetime(2025, 10, 10, 16, 0, tzinfo=UTC), D(2025, 10, 11), D(2025, 10, 13)),
        # 15:59 UTC is 23:59 on Fri 10 Oct: day 1 is Sat 11 Oct, a 调休 workday, which stands.
        (dt.datetime(2025, 10, 10, 15, 59, tzinfo=UTC), D(2025, 10, 10), D(2025, 10, 11)),
    ],
)
def test_start_day_is_the_shanghai_date(moment, local_day, due):
    """Is the start day taken in Asia/Shanghai, not in the datetime's own zone?"""
    assert start_day(moment) == local_day
    assert add_days(moment, 1).date == due


def test_naive_datetime_is_refused():
    """Is a datetime without a time zone refused rather than guessed?"""
    with pytest.raises(ValueError, match="naive"):
        add_days(dt.datetime(2025, 3, 3, 23, 59), 1)


@pytest.mark.parametrize("days", [0, -1])
def test_period_of_less_than_a_day_is_refused(days):
    """Is a period of zero or negative days refused, as it has no last day?"""
    with pytest.raises(ValueError, match="at least 1 day"):
        add_days(D(2025, 3, 3), days)
    with pytest.raises(ValueError, match="at least 1 day"):
        add_working_days(D(2025, 3, 3), days)


def test_unknown_unit_is_refused():
    """Is a policy unit other than days / working_days refused?"""
    with pytest.raises(ValueError, match="unknown unit"):
        due_after(D(2025, 3, 3), 5, "months")


@pytest.mark.parametrize(
    ("start", "days", "unit", "expected"),
    [
        # Sun 20 Dec 2026 + 30: 20 + 11 = 31 Dec, + 19 = Tue 19 Jan 2027, a weekday (2027
        # counted by weekends plus the statutory holidays; 19 Jan is neither).
        (D(2026, 12, 20), 30, "days", D(2027, 1, 19)),
        # Wed 30 Dec 2026 + 3 = Sat 2 Jan 2027 → Sun 3 → Mon 4 Jan: only the roll-over
        # reaches 2027.
        (D(2026, 12, 30), 3, "days", D(2027, 1, 4)),
        # Working days: Thu 31 Dec 2026 (1), Fri 1 Jan 2027 off (元旦 by law, although 2027's
        # notice is not entered), Sat 2, Sun 3 off, Mon 4 Jan (2), Tue 5 Jan (3). The 调休 is
        # unknown: that is why the result must carry a warning.
        (D(2026, 12, 30), 3, "working_days", D(2027, 1, 5)),
    ],
)
def test_uncovered_year_is_counted_by_law_and_flagged(start, days, unit, expected, caplog):
    """Does a count reaching 2027 (not in the calendar) still answer, flag 2027 and log it?"""
    with caplog.at_level(logging.WARNING, logger="app.deadlines.calendar"):
        due = due_after(start, days, unit)
    assert due.date == expected
    assert due.uncovered_years == frozenset({2027})
    assert due.warning == "2027 年节假日安排尚未录入，期限按周末和法定节日推算"
    assert any("2027" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_count_that_stays_in_covered_years_is_not_flagged(caplog):
    """Does a count ending in late 2026 stay unflagged although 2027 is not covered?"""
    # Sun 20 Dec 2026 + 5 = Fri 25 Dec 2026: only 2026 is examined.
    with caplog.at_level(logging.WARNING, logger="app.deadlines.calendar"):
        due = add_days(D(2026, 12, 20), 5)
    assert due.date == D(2026, 12, 25)
    assert due.uncovered_years == frozenset()
    assert due.warning == ""
    assert caplog.records == []


def test_year_before_the_bundled_schedule_is_flagged():
    """Is a year before 2020 flagged as well?"""
    # Mon 30 Dec 2019 + 1 = Tue 31 Dec 2019.
    due = add_days(D(2019, 12, 30), 1)
    assert due.date == D(2019, 12, 31)
    assert due.uncovered_years == frozenset({2019})


def test_extension_keeps_the_uncovered_years_of_the_original():
    """Does an extension stay flagged when the original due date was counted by guess?"""
    original = add_days(D(2026, 12, 20), 30)  # → 19 Jan 2027, flagged
    # Extended by 1 from a flagged date: the new date is in 2027 too, and stays flagged.
    assert extend(original, 1).uncovered_years == frozenset({2027})
    # Even a hypothetical calendar covering 2027 keeps the original's flag: it rests on it.
    cal = HolidayCalendar.from_data(bundled_data(), {2027: {"holidays": ["2027-01-01"]}})
    assert extend(original, 1, calendar=cal).uncovered_years == frozenset({2027})


def test_admin_entered_year_is_covered(caplog):
    """Once an admin enters 2027, is it used and no longer flagged?"""
    # A test entry, not the official 2027 schedule: 元旦 Fri 1–Sun 3 Jan 2027 off.
    extra = {"2027": {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": []}}
    cal = HolidayCalendar.from_data(bundled_data(), extra)
    assert cal.covers(2027)
    # Wed 30 Dec 2026, 3 working days: Thu 31 Dec (1), 1–3 Jan off, Mon 4 (2), Tue 5 (3).
    due = add_working_days(D(2026, 12, 30), 3, calendar=cal)
    assert due.date == D(2027, 1, 5)
    assert due.uncovered_years == frozenset()


def test_admin_entry_replaces_the_bundled_year():
    """Does an admin entry replace a bundled year as a whole (removing dates too)?"""
    # 2020 as first announced, before the COVID extension: 24–30 Jan off, 19 Jan and 1 Feb
    # worked.
    announced = {
        2020: {
            "holidays": [f"2020-01-{d}" for d in range(24, 31)],
            "workdays": ["2020-01-19", "2020-02-01"],
        }
    }
    cal = HolidayCalendar.from_data(bundled_data(), announced)
    # Thu 16 Jan 2020 + 15 = Fri 31 Jan, a working day under the original notice.
    assert add_days(D(2020, 1, 16), 15, calendar=cal).date == D(2020, 1, 31)
    assert cal.is_working_day(D(2020, 2, 1))


@pytest.mark.parametrize(
    ("years", "lang", "expected"),
    [
        ({2027}, "zh", "2027 年节假日安排尚未录入，期限按周末和法定节日推算"),
        ({2028, 2027}, "zh", "2027、2028 年节假日安排尚未录入，期限按周末和法定节日推算"),
        (set(), "zh", ""),
        (
            {2027},
            "en",
            "The 2027 holiday schedule has not been entered; "
            "the deadline was counted with weekends and statutory holidays only.",
        ),
    ],
)
def test_coverage_warning_wording(years, lang, expected):
    """Is the user-facing warning worded for the years it names?"""
    assert coverage_warning(years, lang) == expected


def test_due_is_a_plain_value():
    """Is a Due comparable and hashable, so it can be cached and compared in tests?"""
    a = add_days(D(2025, 3, 10), 3)
    b = Due(date=D(2025, 3, 13), deadline=sh(2025, 3, 14, 0, 0))
    assert a == b
    assert hash(a) == hash(b)
