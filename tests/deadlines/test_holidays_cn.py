"""The bundled official schedule, 2020–2026, and the validation of a year's entry."""

import datetime as dt

import pytest

from app.deadlines.calendar import HolidayCalendar
from app.deadlines.calendar import bundled_calendar
from app.deadlines.calendar import statutory_days_off
from app.deadlines.calendar import validate_year
from app.deadlines.holidays_cn import NOTICES
from app.deadlines.holidays_cn import bundled_data

D = dt.date
BUNDLED_YEARS = list(range(2020, 2027))


def test_bundled_years_are_2020_to_2026():
    """Does the calendar cover exactly the years whose notice is bundled?"""
    assert sorted(NOTICES) == BUNDLED_YEARS
    assert bundled_calendar().years == frozenset(BUNDLED_YEARS)
    assert not bundled_calendar().covers(2027)


# The big blocks as the notices announced them (first day, last day, 共N天).
BIG_BLOCKS = [
    # Announced 24–30 Jan (7 days); extended to 2 Feb by 国办发明电〔2020〕1号.
    (2020, "春节", D(2020, 1, 24), D(2020, 2, 2), 10),
    (2020, "国庆节、中秋节", D(2020, 10, 1), D(2020, 10, 8), 8),
    (2021, "春节", D(2021, 2, 11), D(2021, 2, 17), 7),
    (2021, "国庆节", D(2021, 10, 1), D(2021, 10, 7), 7),
    (2022, "春节", D(2022, 1, 31), D(2022, 2, 6), 7),
    (2022, "国庆节", D(2022, 10, 1), D(2022, 10, 7), 7),
    (2023, "春节", D(2023, 1, 21), D(2023, 1, 27), 7),
    (2023, "中秋节、国庆节", D(2023, 9, 29), D(2023, 10, 6), 8),
    (2024, "春节", D(2024, 2, 10), D(2024, 2, 17), 8),
    (2024, "国庆节", D(2024, 10, 1), D(2024, 10, 7), 7),
    (2025, "春节", D(2025, 1, 28), D(2025, 2, 4), 8),
    (2025, "国庆节、中秋节", D(2025, 10, 1), D(2025, 10, 8), 8),
    (2026, "春节", D(2026, 2, 15), D(2026, 2, 23), 9),
    (2026, "国庆节", D(2026, 10, 1), D(2026, 10, 7), 7),
]


@pytest.mark.parametrize(("year", "name", "first", "last", "length"), BIG_BLOCKS)
def test_big_blocks_have_the_announced_days(year, name, first, last, length):
    """Is each 春节 / 国庆 block off for exactly its announced days, with work either side?"""
    block = next(b for b in NOTICES[year].blocks if b.name == name)
    assert (block.first, block.last, block.length) == (first, last, length)
    cal = bundled_calendar()
    days = list(block.days())
    assert len(days) == length
    assert all(d in cal.holidays and cal.is_day_off(d) for d in days)
    # In every bundled year the day before and the day after a big block is worked (a weekday
    # or a 调休 Saturday/Sunday), so a block that is a day too short or long shows up here.
    assert cal.is_working_day(first - dt.timedelta(days=1))
    assert cal.is_working_day(last + dt.timedelta(days=1))


@pytest.mark.parametrize("year", BUNDLED_YEARS)
def test_bundled_year_is_consistent(year):
    """Are a bundled year's dates all in the year, workdays all weekends, none both?"""
    entry = bundled_data()[year]
    holidays, workdays = set(entry["holidays"]), set(entry["workdays"])
    assert all(d.year == year for d in holidays | workdays)
    assert all(d.weekday() >= 5 for d in workdays)
    assert not holidays & workdays
    assert validate_year(year, holidays, workdays).errors == ()


@pytest.mark.parametrize(
    ("year", "net_days_off"),
    [
        # Weekday holidays minus 调休 workdays = the statutory days (11; 13 from 2025) ...
        *((y, 11) for y in range(2021, 2025)),
        (2025, 13),
        (2026, 13),
        # ... except 2020: the COVID extension made Fri 31 Jan a day off and cancelled the
        # Sat 1 Feb make-up day, two more days off than the 11 statutory ones.
        (2020, 13),
    ],
)
def test_bundled_year_balances_days_off(year, net_days_off):
    """Does each year give its statutory days off once weekends are made up (第六条)?"""
    entry = bundled_data()[year]
    weekday_holidays = sum(1 for d in entry["holidays"] if d.weekday() < 5)
    assert weekday_holidays - len(entry["workdays"]) == net_days_off
    warnings = validate_year(year, entry["holidays"], entry["workdays"]).warnings
    assert (warnings == ()) == (net_days_off == statutory_days_off(year))


def test_new_year_block_of_2023_starts_in_2022():
    """Is 31 Dec 2022, announced in the 2023 notice, filed under 2022 and off?"""
    assert D(2022, 12, 31) in bundled_data()[2022]["holidays"]
    assert bundled_calendar().is_day_off(D(2022, 12, 31))


@pytest.mark.parametrize(
    ("holidays", "workdays", "error"),
    [
        (["2026-12-31"], [], "不在 2027 年内"),
        (["2027-01-02"], ["2027-01-02"], "不能既是放假日又是调休上班日"),
        # Mon 4 Jan 2027 is a weekday: it cannot be "made" a working day.
        (["2027-01-01"], ["2027-01-04"], "本是工作日"),
        (["2027-02-30"], [], "无法识别的日期"),
        ([dt.datetime(2027, 1, 1, 0, 0)], [], "不是日期"),
    ],
)
def test_validate_year_reports_errors(holidays, workdays, error):
    """Does validation reject out-of-year, double-listed, weekday-workday and bad dates?"""
    check = validate_year(2027, holidays, workdays)
    assert not check.ok
    assert any(error in e for e in check.errors)


def test_validate_year_accepts_weekend_holidays():
    """Is a weekend day inside a holiday block accepted as a listed holiday?"""
    # Fri 1–Sun 3 Jan 2027: Saturday and Sunday listed as part of the block.
    check = validate_year(2027, ["2027-01-01", "2027-01-02", D(2027, 1, 3)], [])
    assert check.ok
    assert check.holidays == frozenset({D(2027, 1, 1), D(2027, 1, 2), D(2027, 1, 3)})
    # Only one weekday holiday against 13 statutory days: a warning, not an error.
    assert any("13" in w for w in check.warnings)


def test_from_data_refuses_invalid_entries():
    """Does building a calendar from an invalid admin entry raise with the reasons?"""
    with pytest.raises(ValueError, match="本是工作日"):
        HolidayCalendar.from_data(bundled_data(), {2027: {"workdays": ["2027-01-04"]}})


def test_calendar_refuses_a_date_both_off_and_worked():
    """Does the calendar itself refuse a date that is both a holiday and a workday?"""
    with pytest.raises(ValueError, match="2027-01-02"):
        HolidayCalendar({D(2027, 1, 2)}, {D(2027, 1, 2)}, {2027})
