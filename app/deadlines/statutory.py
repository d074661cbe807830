"""The statutory public holidays (全体公民放假的节日), computed from the law for any year.

全国年节及纪念日放假办法 (as amended by the State Council in 2024, in force from 2025) 第二条:
元旦 1 day (1 January); 春节 4 days (农历除夕 and 正月初一至初三); 清明节 1 day (the day of the
清明 solar term); 劳动节 2 days (1–2 May); 端午节 1 day (农历五月初五); 中秋节 1 day (农历八月十五);
国庆节 3 days (1–3 October). Before 2025 (the 2013 text) 春节 was 正月初一至初三 and 劳动节 1 May
only: 11 days instead of 13.

These are the days the law fixes; the yearly notice (放假调休安排) only adds the 调休 (which
weekends are worked, which bridge days are off). A year whose notice has not been entered is
counted with weekends plus these days (app/deadlines/calendar.py), and the count carries a
warning until the notice is entered.

Lunar dates and the 清明 term come from `borax` (borax.calendars.lunardate, pinned in
requirements.txt): 除夕 is the day before 正月初一, i.e. the last day of the twelfth lunar month,
whether it has 29 or 30 days. Its tables cover 1900–2100.
"""

from __future__ import annotations

import datetime as dt
import functools

from borax.calendars.lunardate import LunarDate
from borax.calendars.lunardate import TermUtils

# 国务院关于修改〈全国年节及纪念日放假办法〉的决定 (国务院令第 795 号, 2024): 除夕 and 5月2日 added.
AMENDED_FROM = 2025


def _lunar(year: int, month: int, day: int) -> dt.date:
    return LunarDate(year, month, day).to_solar_date()


@functools.cache
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The statutory days off of a Gregorian year, day → holiday name (11, or 13 from 2025)."""
    new_year = _lunar(year, 1, 1)  # 正月初一 falls between 21 January and 20 February
    days = {dt.date(year, 1, 1): "元旦"}
    if year >= AMENDED_FROM:
        days[new_year - dt.timedelta(days=1)] = "春节"  # 除夕
    for offset in range(3):
        days[new_year + dt.timedelta(days=offset)] = "春节"
    days[TermUtils.nth_term_day(year, term_name="清明")] = "清明节"
    days[dt.date(year, 5, 1)] = "劳动节"
    if year >= AMENDED_FROM:
        days[dt.date(year, 5, 2)] = "劳动节"
    days[_lunar(year, 5, 5)] = "端午节"
    days[_lunar(year, 8, 15)] = "中秋节"
    for day in (1, 2, 3):
        days[dt.date(year, 10, day)] = "国庆节"
    return days
