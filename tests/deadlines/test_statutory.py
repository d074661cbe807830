"""The statutory holidays computed from the law (全国年节及纪念日放假办法, as amended 2024)."""

import datetime as dt

import pytest

from app.deadlines.calendar import add_days
from app.deadlines.calendar import add_working_days
from app.deadlines.calendar import bundled_calendar
from app.deadlines.holidays_cn import bundled_data
from app.deadlines.statutory import statutory_holidays

D = dt.date


@pytest.mark.parametrize("year", range(2020, 2027))
def test_statutory_days_of_bundled_years_are_official_holidays(year):
    """Is every day the law fixes for 2020–2026 inside that year's official holidays?"""
    official = set(bundled_data()[year]["holidays"])
    assert set(statutory_holidays(year)) <= official


@pytest.mark.parametrize(
    ("year", "count"),
    [
        (2020, 10),  # 11 days, but 中秋 (八月十五) fell on 1 October, inside 国庆
        (2024, 11),  # the 2013 text: 春节 初一–初三, 劳动节 1 May only
        (2025, 13),  # the 2024 amendment: + 除夕, + 2 May
        (2027, 13),
    ],
)
def test_how_many_days_the_law_gives(year, count):
    """Does a year have the 11 (13 from 2025) statutory days, less any that coincide?"""
    assert len(statutory_holidays(year)) == count


def test_2027_by_the_law():
    """Are 2027's statutory days the known ones (春节 6 Feb, 除夕 5 Feb, 清明 5 Apr, ...)?"""
    days = statutory_holidays(2027)
    assert sorted(d for d, name in days.items() if name == "春节") == [
        D(2027, 2, 5),  # 除夕: the last day of the twelfth lunar month
        D(2027, 2, 6),  # 正月初一
        D(2027, 2, 7),
        D(2027, 2, 8),
    ]
    assert days[D(2027, 1, 1)] == "元旦"
    assert days[D(2027, 4, 5)] == "清明节"
    assert days[D(2027, 5, 1)] == days[D(2027, 5, 2)] == "劳动节"
    assert days[D(2027, 6, 9)] == "端午节"
    assert days[D(2027, 9, 15)] == "中秋节"
    assert [days.get(D(2027, 10, d)) for d in (1, 2, 3)] == ["国庆节"] * 3


def test_chuxi_of_a_29_day_twelfth_month():
    """Is 除夕 the 29th when the twelfth lunar month has 29 days (2025: 腊月廿九, 28 Jan)?"""
    assert statutory_holidays(2025)[D(2025, 1, 28)] == "春节"
    assert D(2025, 1, 27) not in statutory_holidays(2025)


def test_uncovered_year_counts_statutory_days_off():
    """Does a period ending on a statutory day of a year without notice roll over?"""
    cal = bundled_calendar()
    assert not cal.covers(2027)
    # Mon 28 Dec 2026 + 4 = Fri 1 Jan 2027, 元旦 by law → Sat 2, Sun 3 off → Mon 4 Jan.
    due = add_days(D(2026, 12, 28), 4)
    assert due.date == D(2027, 1, 4)
    assert due.uncovered_years == frozenset({2027})
    # Thu 1 Apr 2027 + 4 = Mon 5 Apr, 清明 by law → Tue 6 Apr.
    assert add_days(D(2027, 4, 1), 4).date == D(2027, 4, 6)
    # Tue 28 Sep 2027 + 3 = Fri 1 Oct, 国庆 1–3 Oct (Fri–Sun) → Mon 4 Oct.
    assert add_days(D(2027, 9, 28), 3).date == D(2027, 10, 4)
    # 5 working days from Wed 3 Feb 2027: Thu 4 (1), 5–8 Feb 春节 (Fri 除夕 … Mon 初三) off,
    # Tue 9 (2), Wed 10 (3), Thu 11 (4), Fri 12 (5).
    assert add_working_days(D(2027, 2, 3), 5).date == D(2027, 2, 12)
    # 30 April 2027 is a Friday, 1–2 May (Sat, Sun) are off anyway: + 1 from Thu 29 Apr = Fri
    # 30 Apr, a working day (no 调休 known).
    assert add_days(D(2027, 4, 29), 1).date == D(2027, 4, 30)
