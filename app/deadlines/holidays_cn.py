"""The official holiday schedule (放假调休安排), 2020–2026, as the State Council announced it.

Each year's dates come from the State Council General Office's annual notice
国务院办公厅关于XXXX年部分节假日安排的通知 (and, for 2020, the notice extending the Spring
Festival). A block lists every day off of one holiday as announced ("X月X日至X日放假调休，共N天"),
weekend days inside the block included; ``makeup_workdays`` are the 调休 weekend days the notice
says are worked ("X月X日（星期日）上班").

Where a notice says only "X月X日放假，与周末连休" (2024 元旦, 2024 端午) the block holds just the
announced day: the adjoining weekend is off anyway, so counting is unaffected.

Verified, year by year, against the notice texts as republished by Xinhua / 人民日报 / 中国政府网
and provincial portals (see NOTICES). These dates decide legal deadlines: correct them here (with
the source) rather than patching the counting code, and add a new year as soon as its notice is
out (usually October–December of the year before) — either here or as an admin entry
(`HolidayCalendar.from_data`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class HolidayBlock:
    """One holiday's days off (放假调休) and the weekend days worked in exchange (上班)."""

    name: str
    first: dt.date
    last: dt.date
    makeup_workdays: tuple[dt.date, ...] = ()

    def days(self) -> Iterator[dt.date]:
        """Every day off in the block, first to last."""
        day = self.first
        while day <= self.last:
            yield day
            day += dt.timedelta(days=1)

    @property
    def length(self) -> int:
        """How many days off the block has (the notice's "共N天")."""
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Notice:
    """One year's 部分节假日安排 notice: its document number, date and holiday blocks."""

    year: int
    document: str | None  # 文号; None where it could not be confirmed
    issued: dt.date
    blocks: tuple[HolidayBlock, ...]
    amendments: tuple[str, ...] = ()  # later notices that changed the dates


def _d(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, day)


NOTICES: dict[int, Notice] = {
    2020: Notice(
        year=2020,
        document="国办发明电〔2019〕16号",
        issued=_d(2019, 11, 21),
        blocks=(
            HolidayBlock("元旦", _d(2020, 1, 1), _d(2020, 1, 1)),
            # Announced as 1月24日至30日 with 1月19日（日）and 2月1日（六）worked. On 26 January
            # 2020 国办发明电〔2020〕1号 (COVID-19) extended the holiday to 2月2日（正月初九，
            # 星期日）, work resuming 2月3日: so 31 Jan–2 Feb became days off and the 2月1日 make-up
            # workday was cancelled (it fell inside the extended holiday).
            HolidayBlock(
                "春节",
                _d(2020, 1, 24),
                _d(2020, 2, 2),
                (_d(2020, 1, 19),),
            ),
            HolidayBlock("清明节", _d(2020, 4, 4), _d(2020, 4, 6)),
            HolidayBlock(
                "劳动节",
                _d(2020, 5, 1),
                _d(2020, 5, 5),
                (_d(2020, 4, 26), _d(2020, 5, 9)),
            ),
            HolidayBlock("端午节", _d(2020, 6, 25), _d(2020, 6, 27), (_d(2020, 6, 28),)),
            # 中秋 fell on 1 October in 2020, merged into one 8-day block.
            HolidayBlock(
                "国庆节、中秋节",
                _d(2020, 10, 1),
                _d(2020, 10, 8),
                (_d(2020, 9, 27), _d(2020, 10, 10)),
            ),
        ),
        amendments=(
            "国办发明电〔2020〕1号 国务院办公厅关于延长2020年春节假期的通知, dated 2020-01-26",
        ),
    ),
    2021: Notice(
        year=2021,
        document="国办发明电〔2020〕27号",
        issued=_d(2020, 11, 25),
        blocks=(
            HolidayBlock("元旦", _d(2021, 1, 1), _d(2021, 1, 3)),
            HolidayBlock(
                "春节",
                _d(2021, 2, 11),
                _d(2021, 2, 17),
                (_d(2021, 2, 7), _d(2021, 2, 20)),
            ),
            HolidayBlock("清明节", _d(2021, 4, 3), _d(2021, 4, 5)),
            HolidayBlock(
                "劳动节",
                _d(2021, 5, 1),
                _d(2021, 5, 5),
                (_d(2021, 4, 25), _d(2021, 5, 8)),
            ),
            HolidayBlock("端午节", _d(2021, 6, 12), _d(2021, 6, 14)),
            HolidayBlock("中秋节", _d(2021, 9, 19), _d(2021, 9, 21), (_d(2021, 9, 18),)),
            HolidayBlock(
                "国庆节",
                _d(2021, 10, 1),
                _d(2021, 10, 7),
                (_d(2021, 9, 26), _d(2021, 10, 9)),
            ),
        ),
    ),
    2022: Notice(
        year=2022,
        document="国办发明电〔2021〕11号",
        issued=_d(2021, 10, 25),
        blocks=(
            HolidayBlock("元旦", _d(2022, 1, 1), _d(2022, 1, 3)),
            HolidayBlock(
                "春节",
                _d(2022, 1, 31),
                _d(2022, 2, 6),
                (_d(2022, 1, 29), _d(2022, 1, 30)),
            ),
            HolidayBlock("清明节", _d(2022, 4, 3), _d(2022, 4, 5), (_d(2022, 4, 2),)),
            HolidayBlock(
                "劳动节",
                _d(2022, 4, 30),
                _d(2022, 5, 4),
                (_d(2022, 4, 24), _d(2022, 5, 7)),
            ),
            HolidayBlock("端午节", _d(2022, 6, 3), _d(2022, 6, 5)),
            HolidayBlock("中秋节", _d(2022, 9, 10), _d(2022, 9, 12)),
            HolidayBlock(
                "国庆节",
                _d(2022, 10, 1),
                _d(2022, 10, 7),
                (_d(2022, 10, 8), _d(2022, 10, 9)),
            ),
        ),
    ),
    2023: Notice(
        year=2023,
        document="国办发明电〔2022〕16号",
        issued=_d(2022, 12, 8),
        blocks=(
            # "2022年12月31日至2023年1月2日": the block starts in 2022 (a Saturday, off anyway);
            # bundled_data() files each day under its own calendar year.
            HolidayBlock("元旦", _d(2022, 12, 31), _d(2023, 1, 2)),
            HolidayBlock(
                "春节",
                _d(2023, 1, 21),
                _d(2023, 1, 27),
                (_d(2023, 1, 28), _d(2023, 1, 29)),
            ),
            HolidayBlock("清明节", _d(2023, 4, 5), _d(2023, 4, 5)),
            HolidayBlock(
                "劳动节",
                _d(2023, 4, 29),
                _d(2023, 5, 3),
                (_d(2023, 4, 23), _d(2023, 5, 6)),
            ),
            HolidayBlock("端午节", _d(2023, 6, 22), _d(2023, 6, 24), (_d(2023, 6, 25),)),
            HolidayBlock(
                "中秋节、国庆节",
                _d(2023, 9, 29),
                _d(2023, 10, 6),
                (_d(2023, 10, 7), _d(2023, 10, 8)),
            ),
        ),
    ),
    2024: Notice(
        year=2024,
        document="国办发明电〔2023〕7号",
        issued=_d(2023, 10, 25),
        blocks=(
            HolidayBlock("元旦", _d(2024, 1, 1), _d(2024, 1, 1)),  # "与周末连休"
            # 除夕 (9 February) was not a day off: the notice only "encourages" employers to let
            # staff rest that day, so it is a working day for legal counting.
            HolidayBlock(
                "春节",
                _d(2024, 2, 10),
                _d(2024, 2, 17),
                (_d(2024, 2, 4), _d(2024, 2, 18)),
            ),
            HolidayBlock("清明节", _d(2024, 4, 4), _d(2024, 4, 6), (_d(2024, 4, 7),)),
            HolidayBlock(
                "劳动节",
                _d(2024, 5, 1),
                _d(2024, 5, 5),
                (_d(2024, 4, 28), _d(2024, 5, 11)),
            ),
            HolidayBlock("端午节", _d(2024, 6, 10), _d(2024, 6, 10)),  # "与周末连休"
            HolidayBlock("中秋节", _d(2024, 9, 15), _d(2024, 9, 17), (_d(2024, 9, 14),)),
            HolidayBlock(
                "国庆节",
                _d(2024, 10, 1),
                _d(2024, 10, 7),
                (_d(2024, 9, 29), _d(2024, 10, 12)),
            ),
        ),
    ),
    # From 2025 the statutory days off grow from 11 to 13 (国务院关于修改〈全国年节及纪念日放假
    # 办法〉的决定, 12 November 2024): 农历除夕 and 5月2日 are added, so 春节 and 劳动节 gain a day
    # each, and the notice states the new 调休 principles (春节 8 days from 除夕, 劳动节 5, ...).
    2025: Notice(
        year=2025,
        document="国办发明电〔2024〕12号",
        issued=_d(2024, 11, 12),
        blocks=(
            HolidayBlock("元旦", _d(2025, 1, 1), _d(2025, 1, 1)),
            HolidayBlock(
                "春节",
                _d(2025, 1, 28),
                _d(2025, 2, 4),
                (_d(2025, 1, 26), _d(2025, 2, 8)),
            ),
            HolidayBlock("清明节", _d(2025, 4, 4), _d(2025, 4, 6)),
            HolidayBlock("劳动节", _d(2025, 5, 1), _d(2025, 5, 5), (_d(2025, 4, 27),)),
            HolidayBlock("端午节", _d(2025, 5, 31), _d(2025, 6, 2)),
            HolidayBlock(
                "国庆节、中秋节",
                _d(2025, 10, 1),
                _d(2025, 10, 8),
                (_d(2025, 9, 28), _d(2025, 10, 11)),
            ),
        ),
    ),
    2026: Notice(
        year=2026,
        # Issued 4 November 2025; the dates below match the Xinhua text, but its 文号 was not in
        # any republication found, so it is left unrecorded rather than guessed.
        document=None,
        issued=_d(2025, 11, 4),
        blocks=(
            HolidayBlock("元旦", _d(2026, 1, 1), _d(2026, 1, 3), (_d(2026, 1, 4),)),
            HolidayBlock(
                "春节",
                _d(2026, 2, 15),
                _d(2026, 2, 23),
                (_d(2026, 2, 14), _d(2026, 2, 28)),
            ),
            HolidayBlock("清明节", _d(2026, 4, 4), _d(2026, 4, 6)),
            HolidayBlock("劳动节", _d(2026, 5, 1), _d(2026, 5, 5), (_d(2026, 5, 9),)),
            HolidayBlock("端午节", _d(2026, 6, 19), _d(2026, 6, 21)),
            HolidayBlock("中秋节", _d(2026, 9, 25), _d(2026, 9, 27)),
            HolidayBlock(
                "国庆节",
                _d(2026, 10, 1),
                _d(2026, 10, 7),
                (_d(2026, 9, 20), _d(2026, 10, 10)),
            ),
        ),
    ),
}


def bundled_data() -> dict[int, dict[str, list[dt.date]]]:
    """The notices as calendar data: year → {"holidays": [...], "workdays": [...]}.

    Days are filed under their own calendar year (2023's 元旦 block puts 31 December 2022 under
    2022), which is the shape `HolidayCalendar.from_data` and admin entries use.
    """
    data: dict[int, dict[str, list[dt.date]]] = {
        year: {"holidays": [], "workdays": []} for year in NOTICES
    }
    for notice in NOTICES.values():
        for block in notice.blocks:
            for day in block.days():
                # A day in a year with no notice of its own (say a 31 December before the first
                # bundled year) is dropped: that year stays uncovered and is counted by weekends,
                # and filing it would wrongly mark the whole year as known.
                if day.year in data:
                    data[day.year]["holidays"].append(day)
            for day in block.makeup_workdays:
                if day.year in data:
                    data[day.year]["workdays"].append(day)
    for entry in data.values():
        entry["holidays"].sort()
        entry["workdays"].sort()
    return data
