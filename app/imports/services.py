"""Importing a county's historical ledger (台账) as cases (issue 17 item 3, docs/imports.md).

`create(...)` keeps the uploaded file (encrypted) and its mapping; `dry_run(imp)` reads every
row, lists each problem by row and column and writes nothing but the import record; `apply(imp,
progress)` inserts the rows without problems in batches (Core multi-row inserts, like the demo
history), each case with its dates, level, outcome, parties (encrypted, masked, keyed hashes),
follow-up and a timeline of its historical states after one 台账导入 event. A row whose
external number the county already has is left as it is (re-importing changes nothing).
Placement: coordinates inside one of the county's cells; otherwise the named cell's or
village's representative point (ST_PointOnSurface), marked approximate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from flask_babel import gettext as _
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text

from app import pii
from app.accounts.models import User
from app.audit import services as audit
from app.cases import ledger
from app.cases import workflow
from app.cases.schemas import CATEGORIES
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.extensions import db
from app.geo.models import Region
from app.imports import parse
from app.imports.models import LedgerImport
from app.imports.models import LedgerTemplate
from app.privacy import freetext
from app.scoping import scope_for

BATCH = 500
MAX_PROBLEMS = 2000  # listed; the count covers them all

# What a ledger writes for each coded value, beside GridGov's own names and codes.
KIND_WORDS = {
    **{name: code for code, name in workflow.KIND_NAMES.items()},
    "矛盾纠纷": "dispute",
    "纠纷": "dispute",
    "信访": "petition",
    "信访事项": "petition",
    "事件": "incident",
    "治安事件": "incident",
    "安全事件": "incident",
}
SOURCE_WORDS = {
    **{name: code for code, name in ledger.SOURCE_NAMES.items()},
    "巡查": "grid_patrol",
    "网格巡查": "grid_patrol",
    "排查": "grid_patrol",
    "来访": "visit",
    "电话": "phone",
    "12345": "phone",
    "网络": "online",
    "上级交办": "assigned",
    "交办": "assigned",
    "法院委派": "court_referral",
    "公安委托": "police_referral",
}
LEVEL_WORDS = {
    **{name: code for code, name in workflow.LEVEL_NAMES.items()},
    "村": "village",
    "村(社区)级": "village",
    "镇": "town",
    "乡镇级": "town",
    "乡镇": "town",
    "县": "county",
    "县(市、区)级": "county",
}
STATE_WORDS = {name: code for code, name in workflow.STATE_NAMES.items()}
WARNING_WORDS = {name: code for code, name in ledger.WARNING_NAMES.items()} | {
    "": "none",
    "黄": "yellow",
    "红": "red",
}
SUPERVISION_WORDS = {name: code for code, name in ledger.SUPERVISION_NAMES.items()} | {
    "": "none",
    "黄": "yellow",
    "红": "red",
}
OUTCOME_WORDS = {
    kind: {name: code for code, name in names.items()} for kind, names in workflow.OUTCOMES.items()
}
OUTCOME_WORDS["dispute"] |= {
    "成功": "agreement",
    "化解": "agreement",
    "已化解": "agreement",
    "达成协议": "agreement",
    "调解成功,达成协议": "agreement",
    "不成功": "failed",
    "调解失败": "failed",
    "未达成协议": "failed",
    "移交": "referred",
    "转交": "referred",
}
OUTCOME_WORDS["incident"] |= {"处置完毕": "handled", "已处理": "handled"}
SATISFACTION_WORDS = {
    "满意": "satisfied",
    "基本满意": "basically_satisfied",
    "不满意": "dissatisfied",
}
ROLE_WORDS = {name: code for code, name in ledger.PARTY_ROLE_NAMES.items()}
PARTY_RE = re.compile(r"^(申请人|被申请人|第三人)[:：]\s*([^（(]+?)\s*(?:[（(](.*)[）)])?$")
FORMULA_QUOTED = re.compile(r"^'[=+\-@]")
SETTLED = ("resolved", "followed_up", "closed")
ENDED = ("closed", "rejected", "withdrawn")


def label(name: str) -> str:
    """A field's label, for problems and the mapping form."""
    return parse.FIELD_LABELS.get(name, name)


# --- templates and import records --------------------------------------------------------------


def templates() -> list[LedgerTemplate]:
    """The saved templates, by name."""
    return list(db.session.scalars(select(LedgerTemplate).order_by(LedgerTemplate.name)))


def template_named(name: str) -> LedgerTemplate | None:
    """A saved template by its name."""
    return db.session.scalar(select(LedgerTemplate).where(LedgerTemplate.name == name))


def clean_mapping(mapping: dict) -> dict[str, str]:
    """A mapping as kept: normalised header → field, known fields only, each field once."""
    out, taken = {}, set()
    errors = {}
    for header, name in mapping.items():
        key = parse.header_key(header)
        if not key or not name:
            continue
        if name not in parse.FIELDS:
            errors[header] = [_("未知的字段：%(name)s", name=name)]
        elif name in taken:
            errors[header] = [_("字段“%(label)s”已对应其他列", label=label(name))]
        else:
            out[key] = name
            taken.add(name)
    if errors:
        raise Invalid(_("列对应关系有误"), {"json": {"mapping": errors}})
    return out


def save_template(name: str, mapping: dict, user) -> LedgerTemplate:
    """Create or update a named template's mapping (its version counts the saves)."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise Invalid(_("模板名称有误"), {"json": {"template": [_("请填写 1–60 字的模板名称")]}})
    mapping = clean_mapping(mapping)
    template = template_named(name)
    if template is None:
        template = LedgerTemplate(name=name, mapping=mapping, version=1, created_by_id=user.id)
        db.session.add(template)
    else:
        template.mapping = mapping
        template.version += 1
        template.updated_at = clock.now()
    db.session.flush()
    return template


def counties_for(user) -> list[Region]:
    """The counties a user may import into: those wholly in their jurisdiction (an admin of a
    county or above; a town's jurisdiction holds no whole county)."""
    prefix = scope_for(user).prefix
    stmt = select(Region).where(
        Region.level == "county", Region.code.startswith(prefix, autoescape=True)
    )
    return list(db.session.scalars(stmt.order_by(Region.code)))


def county_for(user, code: str | None) -> Region:
    """The county to import into: the named one (in the user's jurisdiction), or the user's own."""
    counties = counties_for(user)
    if code:
        code = code.strip()
        if len(code) == 6:
            code += "000000"
        for county in counties:
            if county.code == code:
                return county
        raise Invalid(_("县不存在或不在您的辖区内"), {"json": {"county": [_("请选择辖区内的县")]}})
    if len(counties) == 1:
        return counties[0]
    raise Invalid(_("请选择导入到哪个县"), {"json": {"county": [_("请选择辖区内的县")]}})


def cli_user(username: str | None, county_code: str | None):
    """Who imports from the command line: the named user, else the first admin of the county
    (or above it)."""
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click_error(f"没有用户 {username}")
        return user
    admins = db.session.scalars(
        select(User)
        .join(Region, Region.id == User.region_id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(Region.code.desc(), User.id)
    ).all()
    for user in admins:
        prefix = scope_for(user).prefix
        if county_code is None and user.region.level == "county":
            return user
        if county_code is not None and county_code.ljust(12, "0").startswith(prefix):
            return user
    raise click_error("没有可用的管理员账号：请用 --user 指定")


def click_error(message: str) -> Invalid:
    """A refusal the command line prints."""
    return Invalid(message, {"json": {"user": [message]}})


def create(data: bytes, file_name: str, county: Region, user, template=None, mapping=None):
    """Keep an uploaded ledger (encrypted) with the mapping to read it by: the given one, else
    the template's, else the synonyms'. Raises Invalid if the file is no ledger."""
    try:
        sheet = parse.read(data, file_name)
    except parse.FileError as exc:
        raise Invalid(str(exc), {"json": {"file": [str(exc)]}}) from exc
    if mapping is None:
        mapping = parse.suggest(sheet.headers, template.mapping if template else None)
    else:
        mapping = clean_mapping(mapping)
    imp = LedgerImport(
        file_name=file_name[:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        content_enc=pii.encrypt_bytes(data),
        template_id=template.id if template else None,
        mapping=mapping,
        county_id=county.id,
        state="queued",
        total_rows=len(sheet.rows),
        created_by_id=user.id,
    )
    db.session.add(imp)
    db.session.flush()
    imp.sheet = sheet  # read once: the dry run that follows in this request reuses it
    return imp


def get_visible(import_id: int, user) -> LedgerImport | None:
    """An import record, if its county and the user's jurisdiction overlap (the county is in
    it, or it is inside the county: a town's admin follows the county's imports)."""
    imp = db.session.get(LedgerImport, import_id)
    if imp is None:
        return None
    prefix, county = scope_for(user).prefix, imp.county.code
    if county.startswith(prefix) or prefix.startswith(county[:6]):
        return imp
    return None


def check_may_change(imp: LedgerImport, user) -> None:
    """Only an admin whose jurisdiction holds the whole county changes or applies its import."""
    if imp.county not in counties_for(user):
        raise Forbidden(_("只有县级及以上的管理员可以导入本县台账"))


def recent(user, limit: int = 20) -> list[LedgerImport]:
    """The latest imports into the user's counties."""
    ids = [c.id for c in counties_for(user)]
    stmt = (
        select(LedgerImport)
        .where(LedgerImport.county_id.in_(ids))
        .order_by(LedgerImport.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def headers_of(imp: LedgerImport) -> list[str]:
    """The file's headers (as read: merged header rows joined)."""
    return parse.read(pii.decrypt_bytes(imp.content_enc), imp.file_name).headers


def set_mapping(imp: LedgerImport, mapping: dict) -> None:
    """Change the mapping of an import not yet applied (a new dry run follows)."""
    if imp.state in ("running", "applied"):
        raise Conflict(_("该导入已在执行或已完成，不能再改列对应"))
    imp.mapping = clean_mapping(mapping)
    imp.state = "queued"
    db.session.flush()


def status(imp: LedgerImport) -> dict:
    """The import's state and counts, as the status endpoint answers and the page shows."""
    return {
        "id": imp.id,
        "state": imp.state,
        "file_name": imp.file_name,
        "county": imp.county.code,
        "total_rows": imp.total_rows,
        "done_rows": imp.done_rows,
        "progress": round(100 * imp.done_rows / imp.total_rows) if imp.total_rows else 100,
        "created": imp.created_count,
        "unchanged": imp.unchanged_count,
        "problem_rows": imp.problem_rows,
        "problems": imp.problems[:200],
        "error": imp.error,
        "finished_at": imp.finished_at.isoformat() if imp.finished_at else None,
    }


# --- reading the rows ------------------------------------------------------------------------


@dataclass
class Planned:
    """One row that will become a case (or is already one, when `existing`)."""

    line: int
    values: dict
    parties: list[dict] = field(default_factory=list)
    follow_up: dict | None = None
    coords: tuple[float, float] | None = None
    place: dict | None = None  # cell id, village id, town id, region code, lon, lat, approximate
    number: str = ""  # the GridGov number it gets


@dataclass
class Analysis:
    """A dry run's findings."""

    planned: list[Planned]
    unchanged: int
    problem_rows: int
    problems: list[dict]


class Places:
    """The county's towns, villages and cells, by code and by name, with representative points
    (read once per import)."""

    def __init__(self, county: Region) -> None:
        self.county = county
        prefix = county.code[:6]
        rows = db.session.execute(
            text(
                """
                SELECT r.id, r.code, r.name, r.level, r.parent_id,
                       ST_X(ST_PointOnSurface(r.boundary)) AS lon,
                       ST_Y(ST_PointOnSurface(r.boundary)) AS lat
                  FROM regions r
                 WHERE r.code LIKE :p || '%' AND r.level IN ('town', 'village')
                   AND (r.valid_to IS NULL OR r.valid_to > current_date)
                """
            ),
            {"p": prefix},
        ).all()
        self.towns = {r.id: r for r in rows if r.level == "town"}
        self.villages = {r.id: r for r in rows if r.level == "village"}
        cells = db.session.execute(
            text(
                """
                SELECT g.id, g.code, g.name, g.village_id,
                       ST_X(ST_PointOnSurface(g.geom)) AS lon,
                       ST_Y(ST_PointOnSurface(g.geom)) AS lat
                  FROM grid_cells g WHERE g.code LIKE :p || '%' ORDER BY g.code
                """
            ),
            {"p": prefix},
        ).all()
        self.cells = {c.id: c for c in cells if c.village_id in self.villages}
        self.by_name: dict[tuple[str, str], list] = {}
        for kind, items in (("town", self.towns), ("village", self.villages), ("cell", self.cells)):
            for item in items.values():
                self.by_name.setdefault((kind, norm(item.name)), []).append(item)
                self.by_name.setdefault((kind, item.code), []).append(item)
        # The cell holding each village's representative point (else the village's first cell).
        self.village_cell: dict[int, int] = {}
        for row in db.session.execute(
            text(
                """
                SELECT DISTINCT ON (v.id) v.id AS village_id, g.id AS cell_id
                  FROM regions v JOIN grid_cells g ON g.village_id = v.id
                 WHERE v.code LIKE :p || '%' AND v.level = 'village'
                 ORDER BY v.id, NOT ST_Intersects(g.geom, ST_PointOnSurface(v.boundary)), g.code
                """
            ),
            {"p": prefix},
        ):
            self.village_cell[row.village_id] = row.cell_id

    def place_of_cell(self, cell, approximate: bool, lon=None, lat=None) -> dict:
        village = self.villages[cell.village_id]
        return {
            "grid_cell_id": cell.id,
            "village_id": village.id,
            "town_id": village.parent_id,
            "region_code": cell.code,
            "lon": cell.lon if lon is None else lon,
            "lat": cell.lat if lat is None else lat,
            "approximate": approximate,
        }

    def find(self, kind: str, value: str, within: Callable | None = None) -> tuple[list, str]:
        """Matches of a name or code (narrowed by `within` when several), and the text."""
        key = norm(value)
        found = self.by_name.get((kind, key), [])
        if len(found) > 1 and within is not None:
            found = [item for item in found if within(item)] or found
        return found, key

    def locate(self, values: dict, problem) -> dict | None:
        """Where a row goes without usable coordinates: its cell, else its village."""
        town = None
        if values.get("town"):
            towns, _key = self.find("town", values["town"])
            town = towns[0] if len(towns) == 1 else None
        village = None
        if values.get("village"):
            villages, key = self.find(
                "village", values["village"], lambda v: town is None or v.parent_id == town.id
            )
            if not villages:
                problem("village", _("本县没有名为或代码为“%(v)s”的村", v=key))
                return None
            if len(villages) > 1:
                problem("village", _("本县有多个“%(v)s”：请同时填写所属乡镇", v=key))
                return None
            village = villages[0]
        if values.get("grid"):
            cells, key = self.find(
                "cell", values["grid"], lambda c: village is None or c.village_id == village.id
            )
            if len(cells) == 1:
                return self.place_of_cell(cells[0], approximate=True)
            if village is None:
                problem("grid", _("本县没有名为或代码为“%(v)s”的网格", v=key))
                return None
        if village is None:
            problem("village", _("缺少位置：请填写经纬度、所属村或网格"))
            return None
        cell_id = self.village_cell.get(village.id)
        if cell_id is None or village.lon is None:
            problem("village", _("村“%(v)s”没有网格，无法定位", v=village.name))
            return None
        return self.place_of_cell(
            self.cells[cell_id], approximate=True, lon=village.lon, lat=village.lat
        )


def norm(value) -> str:
    """A name or code as matched: NFKC, no spaces."""
    return re.sub(r"\s", "", parse.clean(value))


def plain(value) -> str:
    """Free text as kept: trimmed, a CSV's formula guard (a leading ') dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text_value = str(value).strip()
    if FORMULA_QUOTED.match(text_value):
        text_value = text_value[1:]
    return text_value


def columns_of(headers: list[str], mapping: dict) -> dict[str, int]:
    """Field → column index under a mapping."""
    out = {}
    for i, header in enumerate(headers):
        name = mapping.get(parse.header_key(header))
        if name and name not in out:
            out[name] = i
    return out


def existing_numbers(county: Region) -> set[str]:
    """The external numbers the county's cases already carry."""
    return set(
        db.session.scalars(
            text(
                "SELECT external_number FROM cases"
                " WHERE county_id = :c AND external_number IS NOT NULL"
            ),
            {"c": county.id},
        )
    )


def analyse(imp: LedgerImport) -> Analysis:
    """Read every row of the import's file and find its problems; write nothing."""
    sheet = getattr(imp, "sheet", None) or parse.read(
        pii.decrypt_bytes(imp.content_enc), imp.file_name
    )
    columns = columns_of(sheet.headers, imp.mapping)
    header_of = {name: sheet.headers[i] for name, i in columns.items()}
    problems: list[dict] = []
    missing = [n for n in ("reported_at", "category") if n not in columns]
    if not any(n in columns for n in ("village", "grid", "lon")):
        missing.append("village")
    if missing:
        for name in missing:
            problems.append(
                {"row": None, "column": label(name), "message": _("没有对应此字段的列")}
            )
        return Analysis([], 0, 0, problems)
    places = Places(imp.county)
    known = existing_numbers(imp.county)
    seen: dict[str, int] = {}
    planned: list[Planned] = []
    unchanged = 0
    bad_rows: set[int] = set()
    today = clock.today()
    for line, raw in sheet.rows:
        values = {name: raw[i] for name, i in columns.items()}
        row_problems: list[dict] = []

        def problem(name, message, line=line, row_problems=row_problems):
            row_problems.append(
                {"row": line, "column": header_of.get(name, label(name)), "message": message}
            )

        number = norm(values.get("external_number"))
        if number:
            if len(number) > 40:
                problem("external_number", _("编号超过 40 个字符"))
            elif number in seen:
                problem("external_number", _("编号与第 %(row)s 行重复", row=seen[number]))
            seen.setdefault(number, line)
            if number in known:
                unchanged += 1
                continue
        plan = Planned(line, read_values(values, number, problem, today))
        plan.parties = read_parties(values, problem)
        plan.follow_up = read_follow_up(values, plan.values, problem)
        lon, lat = parse.parse_number(values.get("lon")), parse.parse_number(values.get("lat"))
        if values.get("lon") not in (None, "") or values.get("lat") not in (None, ""):
            if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
                problem("lon", _("经纬度应为数字（经度 -180–180，纬度 -90–90）"))
            else:
                plan.coords = (lon, lat)
        if plan.coords is None:
            plan.place = places.locate(values, problem)
        if row_problems:
            bad_rows.add(line)
            problems.extend(row_problems)
        planned.append(plan)
    place_by_coordinates(planned, places, header_of, problems, bad_rows)
    good = [p for p in planned if p.line not in bad_rows]
    return Analysis(good, unchanged, len(bad_rows), problems)


def place_by_coordinates(planned, places: Places, header_of, problems, bad_rows) -> None:
    """Rows with coordinates: the county's cell each point is in, in one query (outside every
    cell of the county is a problem)."""
    pending = [p for p in planned if p.coords is not None]
    if not pending:
        return
    rows = db.session.execute(
        text(
            """
            SELECT t.i, c.id AS cell_id
              FROM unnest(CAST(:i AS int[]), CAST(:x AS float8[]), CAST(:y AS float8[]))
                   AS t(i, x, y)
              LEFT JOIN LATERAL (
                SELECT g.id FROM grid_cells g JOIN regions v ON v.id = g.village_id
                 WHERE g.code LIKE :p || '%'
                   AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326))
                   AND (v.valid_to IS NULL OR v.valid_to > current_date)
                 ORDER BY g.code LIMIT 1) c ON true
            """
        ),
        {
            "i": list(range(len(pending))),
            "x": [p.coords[0] for p in pending],
            "y": [p.coords[1] for p in pending],
            "p": places.county.code[:6],
        },
    ).all()
    for row in rows:
        plan = pending[row.i]
        cell = places.cells.get(row.cell_id) if row.cell_id else None
        if cell is None:
            problems.append(
                {
                    "row": plan.line,
                    "column": header_of.get("lon", label("lon")),
                    "message": _("该点不在本县任何网格内"),
                }
            )
            bad_rows.add(plan.line)
            continue
        plan.place = places.place_of_cell(cell, False, *plan.coords)
    problems.sort(key=lambda p: p["row"] or 0)


def coded(value, words: dict, codes, default=None):
    """A coded value from a ledger's word or GridGov's code; None if it is neither."""
    key = norm(value)
    if not key:
        return default
    if key in codes:
        return key
    return words.get(key)


def read_values(values: dict, number: str, problem, today: dt.date) -> dict:
    """A row's case fields, each problem reported by its column."""
    out: dict = {"external_number": number or None}
    kind = coded(values.get("kind"), KIND_WORDS, workflow.ALL_KINDS, "dispute")
    if kind is None:
        problem("kind", _("类型应为矛盾纠纷、信访事项或治安/安全事件"))
        kind = "dispute"
    out["kind"] = kind
    category = norm(values.get("category"))
    allowed = CATEGORIES[kind]
    if category not in allowed and category.endswith("纠纷") and category[:-2] in allowed:
        category = category[:-2]
    if not category:
        problem("category", _("缺少类别"))
    elif category not in allowed:
        problem("category", _("类别应为以下之一：%(values)s", values="、".join(allowed)))
    out["category"] = category
    source = coded(values.get("source"), SOURCE_WORDS, ledger.SOURCE_NAMES.keys(), "other")
    if source is None:
        problem("source", _("来源应为以下之一：%(values)s", values="、".join(SOURCE_WORDS)))
    out["source"] = source or "other"
    title = plain(values.get("title")) or f"{category}（台账导入）"
    if len(title) > 100:
        problem("title", _("标题超过 100 字"))
    out["title"] = title
    out["description"] = plain(values.get("description")) or title
    reported = moment(values, "reported_at", problem, required=True)
    out["reported_at"] = reported
    out["occurred_at"] = moment(values, "occurred_at", problem)
    if reported and reported.date() > today:
        problem("reported_at", _("登记日期晚于今天"))
    level = coded(values.get("level"), LEVEL_WORDS, workflow.LEVEL_RANK, "village")
    if level is None:
        problem("level", _("层级应为村级、镇级或县级"))
    out["level"] = level or "village"
    for name, words, codes in (
        ("warning", WARNING_WORDS, ledger.WARNING_NAMES),
        ("supervision", SUPERVISION_WORDS, ledger.SUPERVISION_NAMES),
    ):
        found = coded(values.get(name), words, codes, "none")
        if found is None:
            problem(name, _("应为以下之一：%(values)s", values="、".join(codes.values())))
        out[name] = found or "none"
    for name in ("accept_due", "resolve_due"):
        due = moment(values, name, problem)
        out[name] = due.date() if due else None
    closed = moment(values, "closed_at", problem)
    if closed and reported and closed.date() < reported.date():
        problem("closed_at", _("办结日期早于登记日期"))
    elif closed and reported and closed < reported:
        closed = reported  # the same day, and the ledger gave no time: settled after the report
    out["closed_at"] = closed
    outcome_text = norm(values.get("outcome"))
    outcome = None
    if outcome_text:
        outcome = coded(outcome_text, OUTCOME_WORDS[kind], workflow.OUTCOMES[kind])
        if outcome is None:
            problem(
                "outcome",
                _(
                    "办结结果应为以下之一：%(values)s",
                    values="、".join(workflow.OUTCOMES[kind].values()),
                ),
            )
    state_text = norm(values.get("state"))
    if state_text:
        state = coded(state_text, STATE_WORDS, workflow.STATE_NAMES)
        if state is None:
            problem(
                "state",
                _("状态应为以下之一：%(values)s", values="、".join(workflow.STATE_NAMES.values())),
            )
            state = "reported"
    elif closed:
        state = "closed"
    elif outcome:
        state = "resolved"
    else:
        state = "in_progress"
    out["state"] = state
    if state in SETTLED and outcome is None:
        problem("outcome", _("已办结的事件须有办结结果"))
    if state in SETTLED + ENDED and closed is None:
        problem("closed_at", _("已办结的事件须有办结日期"))
    out["outcome"] = outcome if state in SETTLED else None
    return out


def moment(values: dict, name: str, problem, required: bool = False) -> dt.datetime | None:
    """A date or time column as an aware moment (a ledger's times are Beijing time)."""
    raw = values.get(name)
    if raw is None or parse.clean(raw) == "":
        if required:
            problem(name, _("缺少%(label)s", label=label(name)))
        return None
    found = parse.parse_date(raw)
    if found is None:
        problem(
            name, _("无法识别的日期：%(v)s（应如 2023-5-1 或 2023年5月1日）", v=parse.clean(raw))
        )
        return None
    return found.replace(tzinfo=clock.SHANGHAI)


def read_parties(values: dict, problem) -> list[dict]:
    """The parties: the ledger export's 当事人 text (申请人：姓名（身份证号，电话）；…), or one
    applicant from separate name, ID number and phone columns."""
    parties = []
    text_value = plain(values.get("parties"))
    if text_value and PARTY_RE.match(text_value.split("；")[0].split(";")[0].strip()):
        for part in re.split(r"[；;]", text_value):
            part = part.strip()
            if not part:
                continue
            match = PARTY_RE.match(part)
            if match is None:
                problem("parties", _("无法识别的当事人：%(v)s", v=part))
                continue
            role, name, details = match.groups()
            party = {"role": ROLE_WORDS[role], "name": name.strip()}
            for detail in re.split(r"[，,]", details or ""):
                detail = parse.clean(detail)
                if not detail:
                    continue
                if pii.ID_RE.match(detail.upper()):
                    party["id_number"] = detail.upper()
                else:
                    party["phone"] = detail
            parties.append(party)
    else:
        name = plain(values.get("party_name")) or text_value
        id_number = parse.clean(values.get("id_number")).upper() or None
        phone = parse.clean(values.get("phone")) or None
        if name or id_number or phone:
            if not name:
                problem("party_name", _("有身份证号或电话却缺少当事人姓名"))
            parties.append(
                {"role": "applicant", "name": name, "id_number": id_number, "phone": phone}
            )
    for party in parties:
        if "*" in party["name"] or "*" in (party.get("id_number") or ""):
            problem("parties", _("当事人信息已脱敏，无法导入：请导出显示完整信息的台账"))
        elif party.get("id_number") and not pii.id_number_valid(party["id_number"]):
            problem("id_number", _("身份证号无效：%(v)s", v=pii.mask_id_number(party["id_number"])))
        elif party.get("phone") and not pii.phone_valid(party["phone"]):
            problem("phone", _("电话号码无效：%(v)s", v=pii.mask_phone(party["phone"])))
        if len(party["name"]) > 40:
            problem("parties", _("当事人姓名超过 40 字"))
    return parties


def read_follow_up(values: dict, out: dict, problem) -> dict | None:
    """The follow-up (回访): its satisfaction and day (the day after closing if none is given)."""
    word = norm(values.get("follow_up"))
    at = moment(values, "follow_up_at", problem)
    if not word:
        return None
    satisfaction = SATISFACTION_WORDS.get(word)
    if satisfaction is None:
        problem("follow_up", _("回访结果应为满意、基本满意或不满意"))
        return None
    if out["state"] == "resolved" and not norm(values.get("state")):
        out["state"] = "followed_up"
    return {"satisfaction": satisfaction, "at": at}


# --- dry run and apply ---------------------------------------------------------------------------


def dry_run(imp: LedgerImport, user=None) -> Analysis:
    """List every problem by row and column; the record keeps them, nothing else is written."""
    if imp.state in ("running", "applied"):
        raise Conflict(_("该导入已在执行或已完成"))
    found = analyse(imp)
    imp.state = "dry_run_done"
    imp.created_count = len(found.planned)
    imp.unchanged_count = found.unchanged
    imp.problem_rows = found.problem_rows
    imp.problems = found.problems[:MAX_PROBLEMS]
    imp.done_rows = 0
    imp.finished_at = clock.now()
    db.session.flush()
    return found


def queue_check(imp: LedgerImport) -> None:
    """Mark a large file's dry run as running in the background (the job calls `dry_run`)."""
    if imp.state in ("running", "applied"):
        raise Conflict(_("该导入已在执行或已完成"))
    imp.state = "checking"
    imp.done_rows = 0
    db.session.flush()


def start(imp: LedgerImport, user) -> None:
    """Queue an apply after a dry run with a readable mapping (the job calls `apply`)."""
    if imp.state != "dry_run_done":
        raise Conflict(_("请先试运行（检查）再导入"))
    if imp.problems and imp.problems[0]["row"] is None:
        raise Conflict(_("列对应不完整：请先补全再试运行"))
    imp.state = "queued"
    imp.done_rows = 0
    db.session.flush()
    audit.record(
        "ledger.import",
        actor=user,
        object_type="ledger_import",
        object_id=imp.id,
        region_code=imp.county.code,
        detail={"file": imp.file_name, "sha256": imp.file_sha256, "step": "queued"},
    )


def apply(imp: LedgerImport, user, progress: Callable[[], None] = lambda: None) -> None:
    """Insert the rows without problems as cases, in batches (after each: `progress()`, which
    the job and the command use to commit); rows already imported stay as they are."""
    imp.state = "running"
    found = analyse(imp)
    imp.problem_rows = found.problem_rows
    imp.problems = found.problems[:MAX_PROBLEMS]
    imp.unchanged_count = found.unchanged
    imp.created_count = 0
    imp.total_rows = len(found.planned)
    imp.done_rows = 0
    progress()
    for plan, number in zip(
        found.planned, case_numbers(imp.county.code[:6], found.planned), strict=True
    ):
        plan.number = number
    for first in range(0, len(found.planned), BATCH):
        batch = found.planned[first : first + BATCH]
        insert_batch(imp, user, batch)
        imp.created_count += len(batch)
        imp.done_rows += len(batch)
        progress()
    imp.state = "applied"
    imp.finished_at = clock.now()
    audit.record(
        "ledger.import",
        actor=user,
        object_type="ledger_import",
        object_id=imp.id,
        region_code=imp.county.code,
        detail={
            "file": imp.file_name,
            "sha256": imp.file_sha256,
            "step": "applied",
            "created": imp.created_count,
            "unchanged": imp.unchanged_count,
            "problem_rows": imp.problem_rows,
        },
    )
    db.session.flush()


def case_numbers(county_code: str, planned: list[Planned]) -> list[str]:
    """GridGov numbers for the planned cases, per year of their report (the counter moves once
    per year)."""
    by_year: dict[int, list[int]] = {}
    for i, plan in enumerate(planned):
        by_year.setdefault(plan.values["reported_at"].year, []).append(i)
    out = [""] * len(planned)
    for year, indexes in sorted(by_year.items()):
        last = db.session.execute(
            text(
                "INSERT INTO case_counters (county_code, year, last) VALUES (:c, :y, :n)"
                " ON CONFLICT (county_code, year) DO UPDATE SET last = case_counters.last + :n"
                " RETURNING last"
            ),
            {"c": county_code, "y": year, "n": len(indexes)},
        ).scalar_one()
        for k, i in enumerate(indexes):
            out[i] = f"{county_code}-{year}-{last - len(indexes) + 1 + k:06d}"
    return out


def history(plan: Planned) -> list[tuple]:
    """The case's historical steps: (action, at, from_state, to_state, note), report first."""
    v = plan.values
    reported, closed, state = v["reported_at"], v["closed_at"], v["state"]
    steps = [("report", reported, None, "reported", "台账登记")]
    if state == "rejected":
        return steps + [("reject", closed, "reported", "rejected", "台账记载：不予受理")]
    if state == "withdrawn":
        return steps + [("withdraw", closed, "reported", "withdrawn", "台账记载：已撤回")]
    if state == "reported":
        return steps
    steps.append(("accept", reported, "reported", "accepted", None))
    if state == "accepted":
        return steps
    steps.append(("start", reported, "accepted", "in_progress", None))
    if state == "in_progress":
        return steps
    steps.append(("resolve", closed, "in_progress", "resolved", None))
    if state == "resolved":
        return steps
    follow = plan.follow_up
    note = None if follow else "台账未记载回访情况"
    steps.append(("follow_up", follow_up_at(plan), "resolved", "followed_up", note))
    if state == "closed":
        steps.append(
            (
                "close",
                closed if closed >= steps[-1][1] else steps[-1][1],
                "followed_up",
                "closed",
                None,
            )
        )
    return steps


def follow_up_at(plan: Planned) -> dt.datetime:
    """The follow-up's moment: the ledger's, else the day it was closed."""
    given = (plan.follow_up or {}).get("at")
    closed = plan.values["closed_at"]
    return given if given and given >= closed else closed


def insert_batch(imp: LedgerImport, user, batch: list[Planned]) -> None:
    """One batch of cases with their events, parties and follow-ups (ids taken up front)."""
    ids = (
        db.session.execute(
            text("SELECT nextval('cases_id_seq') FROM generate_series(1, :n)"), {"n": len(batch)}
        )
        .scalars()
        .all()
    )
    now = clock.now()
    cases, events, parties, follow_ups = [], [], [], []
    for case_id, plan in zip(ids, batch, strict=True):
        v, place = plan.values, plan.place
        steps = history(plan)
        state = v["state"]
        resolved = v["closed_at"] if state in SETTLED else None
        accepted = v["reported_at"] if state not in ("reported", "rejected", "withdrawn") else None
        running = state in workflow.OPEN_STATES
        cases.append(
            {
                "id": case_id,
                "number": plan.number,
                "external_number": v["external_number"],
                "import_id": imp.id,
                "location_approximate": place["approximate"],
                "kind": v["kind"],
                "category": v["category"],
                "source": v["source"],
                "complexity": "ordinary" if v["kind"] == "incident" else None,
                "title": v["title"],
                "description": v["description"],
                "occurred_at": v["occurred_at"],
                "reported_at": v["reported_at"],
                "reporter_id": user.id,
                "location": f"SRID=4326;POINT({place['lon']} {place['lat']})",
                "grid_cell_id": place["grid_cell_id"],
                "village_id": place["village_id"],
                "town_id": place["town_id"],
                "county_id": imp.county_id,
                "region_code": place["region_code"],
                "origin_level": v["level"],
                "level": v["level"],
                "max_level": v["level"],
                "state": state,
                "accept_due": v["accept_due"],
                "resolve_due": v["resolve_due"],
                "next_due": (v["accept_due"] if state == "reported" else v["resolve_due"])
                if running
                else None,
                "warning": v["warning"],
                "supervision": v["supervision"],
                "accepted_at": accepted,
                "accepted_on_time": None
                if accepted is None
                else v["accept_due"] is None or clock.local_date(accepted) <= v["accept_due"],
                "resolved_at": resolved,
                "resolved_on_time": None
                if resolved is None
                else v["resolve_due"] is None or clock.local_date(resolved) <= v["resolve_due"],
                "closed_at": v["closed_at"]
                if state in ("closed", "rejected", "withdrawn")
                else None,
                "outcome": v["outcome"],
                "rejection_ground": "other" if state == "rejected" else None,
                "version": len(steps),
                "created_at": now,
                "updated_at": now,
            }
        )
        events.append(
            {
                "case_id": case_id,
                "at": now,
                "actor_id": user.id,
                "action": "ledger_import",
                "from_state": None,
                "to_state": None,
                "from_level": None,
                "to_level": None,
                "note": f"台账导入：{imp.file_name} 第 {plan.line} 行"
                + (f"（原编号 {v['external_number']}）" if v["external_number"] else ""),
                "data": {"import_id": imp.id, "row": plan.line},
            }
        )
        for action, at, from_state, to_state, note in steps:
            events.append(
                {
                    "case_id": case_id,
                    "at": at,
                    "actor_id": user.id,
                    "action": action,
                    "from_state": from_state,
                    "to_state": to_state,
                    "from_level": v["level"] if from_state else None,
                    "to_level": v["level"],
                    "note": note,
                    "data": {"imported": True},
                }
            )
        for party in plan.parties:
            parties.append(party_row(case_id, party))
        if plan.follow_up:
            follow_ups.append(
                {
                    "case_id": case_id,
                    "at": follow_up_at(plan),
                    "by_id": user.id,
                    "method": "phone",
                    "satisfaction": plan.follow_up["satisfaction"],
                    "note": "台账导入",
                }
            )
    # A bulk INSERT bypasses the flush hook that masks personal data typed into free text.
    originals = freetext.mask_rows("cases", cases)
    for table, rows in (
        ("cases", cases),
        ("case_events", events),
        ("parties", parties),
        ("follow_ups", follow_ups),
    ):
        if rows:
            db.session.execute(insert(db.metadata.tables[table]), rows)
    freetext.store_rows(originals)


def party_row(case_id: int, party: dict) -> dict:
    """A party's row: encrypted values, masked copies and keyed hashes (as case reports do)."""
    return {
        "case_id": case_id,
        "role": party["role"],
        "name_enc": pii.encrypt(party["name"]),
        "id_number_enc": pii.encrypt(party.get("id_number")),
        "phone_enc": pii.encrypt(party.get("phone")),
        "name_masked": pii.mask_name(party["name"]),
        "id_number_masked": pii.mask_id_number(party.get("id_number")),
        "phone_masked": pii.mask_phone(party.get("phone")),
        "name_hash": pii.keyed_hash(party["name"]),
        "id_number_hash": pii.keyed_hash(party.get("id_number")),
        "phone_hash": pii.keyed_hash(party.get("phone")),
    }
