"""Reading a ledger file: xlsx (openpyxl, read-only) or CSV (UTF-8 with or without BOM, else
GB18030), its header rows (one, or two under merged cells) and the values' usual mess.

Nothing here touches the database: `read(data, name)` gives the headers and the raw rows;
`suggest(headers)` maps headers to fields by synonyms; the value parsers turn text, Excel
serials and full-width digits into dates, numbers and clean strings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass

from openpyxl import load_workbook

# The fields a ledger column can fill, with the headers that mean it (normalised: NFKC, no
# spaces). The first synonym is the field's label on the mapping form.
FIELDS: dict[str, tuple[str, ...]] = {
    "external_number": ("编号", "案件编号", "台账编号", "事件编号", "纠纷编号", "登记编号"),
    "kind": ("类型", "事件类型", "事项类型"),
    "category": ("类别", "纠纷类型", "矛盾类型", "纠纷类别", "事件类别", "矛盾纠纷类型"),
    "source": ("来源", "事件来源", "信息来源"),
    "title": ("标题", "事由", "纠纷事由", "事件名称"),
    "description": ("简要情况", "纠纷简要情况", "基本情况", "事件描述", "主要内容", "内容"),
    "town": ("所属乡镇", "乡镇", "乡镇(街道)", "所属镇"),
    "village": ("所属村", "村", "村(社区)", "村居", "所属村(社区)", "村名"),
    "grid": ("网格", "所属网格", "网格名称"),
    "lon": ("经度",),
    "lat": ("纬度",),
    "reported_at": (
        "上报时间",
        "登记日期",
        "受理时间",
        "登记时间",
        "受理日期",
        "排查日期",
        "发现日期",
    ),
    "occurred_at": ("发生时间", "发生日期"),
    "level": ("当前层级", "层级", "调处层级", "化解层级"),
    "state": ("状态", "办理状态", "化解状态"),
    "accept_due": ("受理期限",),
    "resolve_due": ("办结期限",),
    "warning": ("预警",),
    "supervision": ("督办",),
    "outcome": ("办结结果", "调解结果", "处理结果", "化解结果", "调处结果"),
    "closed_at": ("办结日期", "办结时间", "结案日期", "化解日期", "调结日期"),
    "parties": ("当事人", "当事人信息"),
    "party_name": ("当事人姓名", "姓名", "申请人", "申请人姓名"),
    "id_number": ("身份证号", "身份证号码", "当事人身份证号", "公民身份号码"),
    "phone": ("联系电话", "电话", "手机号", "手机号码", "当事人电话"),
    "follow_up": ("回访", "回访情况", "回访结果", "回访满意度", "满意度"),
    "follow_up_at": ("回访日期", "回访时间"),
}
FIELD_LABELS = {
    "external_number": "原编号",
    "kind": "类型",
    "category": "类别",
    "source": "来源",
    "title": "标题",
    "description": "简要情况",
    "town": "所属乡镇",
    "village": "所属村（名称或代码）",
    "grid": "网格（名称或代码）",
    "lon": "经度",
    "lat": "纬度",
    "reported_at": "登记日期",
    "occurred_at": "发生时间",
    "level": "层级",
    "state": "状态",
    "accept_due": "受理期限",
    "resolve_due": "办结期限",
    "warning": "预警",
    "supervision": "督办",
    "outcome": "办结结果",
    "closed_at": "办结日期",
    "parties": "当事人（台账格式，可多人）",
    "party_name": "当事人姓名",
    "id_number": "身份证号",
    "phone": "联系电话",
    "follow_up": "回访（满意度）",
    "follow_up_at": "回访日期",
}
SYNONYMS = {synonym: name for name, synonyms in FIELDS.items() for synonym in synonyms}
# Excel's day 0 (its serials count from 1900-01-00 with the phantom 1900-02-29).
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?\s*秒?)?$"
)
COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


class FileError(ValueError):
    """A file that is no ledger at all (not xlsx or CSV, no header row)."""


@dataclass
class Sheet:
    """A ledger's headers (one per column, merged header rows joined) and its data rows, each
    with its row number in the file (as a spreadsheet shows it)."""

    headers: list[str]
    rows: list[tuple[int, list]]


def clean(value) -> str:
    """Text as a ledger means it: NFKC (full-width digits and letters), trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def header_key(value) -> str:
    """A header normalised for matching: NFKC, no spaces, no 必填 marks or trailing colon."""
    return re.sub(r"[\s*＊:：]", "", clean(value))


def _xlsx_rows(data: bytes) -> list[tuple[int, list]]:
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        return [
            (number, list(row))
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()


def _csv_rows(data: bytes) -> list[tuple[int, list]]:
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
    return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)]


def read(data: bytes, name: str) -> Sheet:
    """The ledger in a file: xlsx by its zip signature, otherwise CSV."""
    try:
        raw = _xlsx_rows(data) if data[:2] == b"PK" else _csv_rows(data)
    except Exception as exc:  # openpyxl and csv raise many kinds; the file is the problem
        raise FileError(f"无法读取文件 {name}：应为 Excel（.xlsx）或 CSV") from exc
    raw = [(n, row) for n, row in raw if any(clean(v) for v in row)]
    # A title line above the headers (XX县矛盾纠纷排查化解台账) fills one cell: skip it.
    while raw and sum(1 for v in raw[0][1] if clean(v)) <= 1:
        raw.pop(0)
    if not raw:
        raise FileError(f"文件 {name} 中没有表头")
    top = [clean(v) for v in raw[0][1]]
    width = max(len(row) for _, row in raw)
    top += [""] * (width - len(top))
    headers = top
    body = raw[1:]
    if body and _is_second_header(top, [clean(v) for v in body[0][1]]):
        second = [clean(v) for v in body[0][1]] + [""] * width
        filled, last = [], ""
        for value in top:  # a merged cell holds its value in its first column only
            last = value or last
            filled.append(last)
        headers = [_joined(first, second[i]) for i, first in enumerate(filled[:width])]
        body = body[1:]
    return Sheet(headers, [(n, list(row) + [None] * (width - len(row))) for n, row in body])


def _is_second_header(top: list[str], second: list[str]) -> bool:
    """Under merged header cells the next row names the sub-columns: some cell of it is a known
    header where the row above is empty (the merge), and none of it looks like data."""
    under_merge = any(
        value and not (top[i] if i < len(top) else "") for i, value in enumerate(second)
    )
    known = any(header_key(v) in SYNONYMS for v in second if v)
    data_like = any(parse_date(v) or re.fullmatch(r"[\d.]+", v) for v in second if v)
    return under_merge and known and not data_like


def _joined(first: str, second: str) -> str:
    """One header for a column under two header rows: the sub-header when it is known alone
    (姓名 under 当事人 is 当事人姓名), else the two joined."""
    if not second:
        return first
    if not first:
        return second
    joined = first + second
    if header_key(joined) in SYNONYMS:
        return joined
    if header_key(second) in SYNONYMS:
        return second
    return joined


def suggest(headers: list[str], saved: dict | None = None) -> dict[str, str]:
    """Header → field: the saved template's choice first, then the synonyms."""
    saved = saved or {}
    out: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        key = header_key(header)
        if not key:
            continue
        field = saved.get(key, SYNONYMS.get(key))
        if field and field in FIELDS and field not in taken:
            out[key] = field
            taken.add(field)
    return out


def parse_date(value) -> dt.datetime | None:
    """A moment from a ledger cell: a datetime or date cell, an Excel serial (number or text),
    or text such as 2023-5-1, 2023年5月1日, 2023/05/01 08:30, 20230501. None if it is none.
    A day without a time is taken at noon (so the day is the same in any nearby time zone)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(12, 0))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(float(value))
    text = clean(value)
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _serial(float(text))
    match = DATE_RE.match(text) or COMPACT_DATE_RE.match(text)
    if not match:
        return None
    parts = [int(p) if p else None for p in match.groups()] + [None] * 3
    year, month, day, hour, minute, second = parts[:6]
    try:
        if hour is None:
            return dt.datetime(year, month, day, 12, 0)
        return dt.datetime(year, month, day, hour, minute or 0, second or 0)
    except ValueError:
        return None


def _serial(number: float) -> dt.datetime | None:
    if not 20000 <= number <= 80000:  # 1954–2119: anything else is not a ledger's date
        return None
    moment = EXCEL_EPOCH + dt.timedelta(days=number)
    if number.is_integer():
        return moment.replace(hour=12)
    return moment.replace(microsecond=0)


def parse_number(value) -> float | None:
    """A coordinate: a number cell or text with full-width digits; None if it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(clean(value).rstrip("°"))
    except ValueError:
        return None
