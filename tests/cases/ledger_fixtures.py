"""A realistic historical 台账 of the test county (测试县), with the mess real ones have: a
title line, two header rows under merged cells, dates as datetimes, Excel serials and text in
three spellings, full-width digits, trailing spaces, 纠纷 after the category; plus a twin
county with the same town, village and cell names (an empty county to import into)."""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass
from dataclasses import field

from openpyxl import Workbook

from app.cases.schemas import CATEGORIES
from app.extensions import db
from app.geo import services as geo
from tests.geo.factories import box
from tests.geo.factories import collection
from tests.geo.factories import feature

TWIN_COUNTY = "371697000000"
TWIN_TOWN = "371697101000"
TWIN_VILLAGE = "371697101200"
TWIN_VILLAGE_B = "371697101201"
FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
# Cells of 东村 (two, split at 118.025E) and 西村 (one), as lon/lat boxes.
CELLS = {
    "东村": [(118.0, 37.3, 118.025, 37.35), (118.025, 37.3, 118.05, 37.35)],
    "西村": [(118.05, 37.3, 118.1, 37.35)],
}
OUTCOMES = ["调解成功", "成功", "达成协议", "调解不成", "调解成功", "调解成功", "转办"]
SATISFACTION = ["满意", "满意", "基本满意", "不满意"]
HEADER_TOP = [
    "序号",
    "案件编号",
    "登记日期",
    "纠纷类型",
    "事由",
    "所属乡镇",
    "所属村",
    "经度",
    "纬度",
    "当事人",
    None,
    None,
    "调解结果",
    "办结日期",
    "回访",
]
HEADER_SUB = [None] * 9 + ["姓名", "身份证号", "联系电话"] + [None] * 3


def id_number(rng: random.Random) -> str:
    """A valid 18-digit ID number (GB 11643 checksum)."""
    body = f"371699{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.randint(0, 999):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


@dataclass
class Ledger:
    """The file, and what the test can expect of it."""

    data: bytes
    rows: int
    # Spreadsheet row → the column the dry run must name (the planted problems).
    problems: dict[int, str] = field(default_factory=dict)
    # (year, month) → how many importable rows were closed then, by the ledger's closing day.
    closed_by_month: dict[tuple[int, int], int] = field(default_factory=dict)
    importable: int = 0


def date_cell(day: dt.date, style: int):
    """A day the way a ledger holds it: a date cell, a serial, or text in three spellings."""
    if style == 0:
        return dt.datetime.combine(day, dt.time(9, 30))
    if style == 1:
        return (day - dt.date(1899, 12, 30)).days
    if style == 2:
        return f"{day.year}-{day.month}-{day.day}"
    if style == 3:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.year}/{day.month:02d}/{day.day:02d}"


def messy_ledger(n: int = 5000, seed: int = 17) -> Ledger:
    """An xlsx 台账 of `n` disputes in 东村 and 西村 over 2023–2024, five rows with problems."""
    rng = random.Random(seed)
    book = Workbook()
    sheet = book.active
    sheet.append(["测试县矛盾纠纷排查化解台账（2023—2024年）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER_TOP))
    sheet.append(HEADER_TOP)
    sheet.append(HEADER_SUB)
    sheet.merge_cells(start_row=2, start_column=10, end_row=2, end_column=12)
    ledger = Ledger(b"", n)
    first_row = 4
    planted = {
        first_row + 100: "登记日期",  # a date that is none
        first_row + 200: "所属村",  # a village the county does not have
        first_row + 300: "身份证号",  # a wrong checksum
        first_row + 400: "经度",  # a point in the other county
        first_row + 501: "案件编号",  # the number of the row above
    }
    for i in range(n):
        line = first_row + i
        reported = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
        village = rng.choice(["东村", "西村"])
        category = rng.choice(CATEGORIES["dispute"])
        number = f"TZ-{reported.year}-{i + 1:05d}"
        if i % 7 == 0:
            number = number.translate(FULL_WIDTH)
        phone = f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}"
        row = [
            i + 1,
            number,
            date_cell(reported, i % 5),
            category + ("纠纷" if i % 5 == 0 else "") + ("  " if i % 3 == 0 else ""),
            f"{village}{category}纠纷" if i % 2 else None,
            "甲镇 ",
            village + (" " if i % 4 == 0 else ""),
            None,
            None,
            rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", rng.choice(GIVEN)]),
            id_number(rng),
            phone.translate(FULL_WIDTH) if i % 6 == 0 else phone,
            None,
            None,
            None,
        ]
        if i % 4 == 0:
            minx, miny, maxx, maxy = rng.choice(CELLS[village])
            lon, lat = rng.uniform(minx + 0.001, maxx - 0.001), rng.uniform(miny, maxy)
            row[7], row[8] = (f"{lon:.6f}".translate(FULL_WIDTH), lat) if i % 8 else (lon, lat)
        closed = None
        if rng.random() < 0.85:
            closed = reported + dt.timedelta(days=rng.randint(0, 40))
            if closed > dt.date(2024, 12, 31):
                closed = None
        if closed:
            row[12] = rng.choice(OUTCOMES)
            row[13] = date_cell(closed, (i + 2) % 5)
            if rng.random() < 0.6:
                row[14] = rng.choice(SATISFACTION)
        if line in planted:
            column = planted[line]
            if column == "登记日期":
                row[2] = "2023年13月45日"
            elif column == "所属村":
                row[6], row[7], row[8] = "不存在村", None, None
            elif column == "身份证号":
                row[10] = row[10][:-1] + ("0" if row[10][-1] != "0" else "1")
            elif column == "经度":
                row[7], row[8] = 118.32, 37.32
            else:
                row[1] = sheet.cell(row=line - 1, column=2).value
        sheet.append(row)
        if line not in planted:
            ledger.importable += 1
            if closed:
                key = (closed.year, closed.month)
                ledger.closed_by_month[key] = ledger.closed_by_month.get(key, 0) + 1
    ledger.problems = planted
    out = io.BytesIO()
    book.save(out)
    ledger.data = out.getvalue()
    return ledger


def build_twin_county() -> None:
    """An empty county west of the first with the same names: 甲镇, 东村 and 西村, their cells."""
    geo.import_geojson(
        collection(feature(TWIN_COUNTY, "双县", box(117.6, 37.3, 117.8, 37.5))), "county"
    )
    geo.import_geojson(
        collection(feature(TWIN_TOWN, "甲镇", box(117.6, 37.3, 117.7, 37.5), TWIN_COUNTY)), "town"
    )
    geo.import_geojson(
        collection(
            feature(TWIN_VILLAGE, "东村", box(117.6, 37.3, 117.65, 37.35), TWIN_TOWN),
            feature(TWIN_VILLAGE_B, "西村", box(117.65, 37.3, 117.7, 37.35), TWIN_TOWN),
        ),
        "village",
    )
    geo.import_geojson(
        collection(
            feature(
                f"{TWIN_VILLAGE}001", "东村第1网格", box(117.6, 37.3, 117.625, 37.35), TWIN_VILLAGE
            ),
            feature(
                f"{TWIN_VILLAGE}002", "东村第2网格", box(117.625, 37.3, 117.65, 37.35), TWIN_VILLAGE
            ),
            feature(
                f"{TWIN_VILLAGE_B}001",
                "西村第1网格",
                box(117.65, 37.3, 117.7, 37.35),
                TWIN_VILLAGE_B,
            ),
        ),
        "grid",
    )
    db.session.commit()
