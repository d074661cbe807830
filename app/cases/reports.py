"""Measures (考核指标) and the case ledger export (台账), per region subtree and period.

Every query on cases here goes through the one scoping rule for cases (`services.visible` or
`services.visibility_sql`). The exact definitions are in docs/measures.md (shared/DOMAIN.md §6).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Response
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate
from sqlalchemy import Row
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import aliased

from app import exports
from app import pii
from app.audit import services as audit
from app.cases import clocks
from app.cases import facts
from app.cases import schemas
from app.cases import services
from app.cases import workflow
from app.cases.api import filtered
from app.cases.api import start_of
from app.cases.models import KINDS
from app.cases.models import Case
from app.cases.models import Party
from app.deadlines.calendar import SHANGHAI
from app.errors import ApiError
from app.extensions import Blueprint
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.policy import allows
from app.policy import deny
from app.policy import requires
from app.scoping import current_scope
from app.scoping import region_prefix

blp = Blueprint(
    "case_reports",
    __name__,
    url_prefix="/api/v1",
    description="考核指标与台账导出 (measures and the ledger export)",
)

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 1096  # three years: keeps the monthly trend and the scans bounded
MAX_EXPORT_ROWS = 50_000

# One level down, for the 工作台 table: the child level, and how a case's 15-digit grid-cell code
# maps to the child's code (towns are 9 digits + "000", villages 12 digits, cells all 15).
BREAKDOWN = {
    "county": ("town", "left(c.region_code, 9) || '000'"),
    "town": ("village", "left(c.region_code, 12)"),
    "village": ("grid_cell", "c.region_code"),
}

# --- measures: input and output ------------------------------------------------------------------


class MetricsQuery(Schema):
    """Which region, period and kind to measure."""

    region = fields.String(
        validate=validate.Regexp(r"^\d{12}$", error="region 应为 12 位区划代码"),
        metadata={"description": "区划代码（县、镇或村）；默认为本人辖区"},
    )
    date_from = fields.Date(
        data_key="from", metadata={"description": "起始日（含，北京时间）；默认 to 前 29 天"}
    )
    date_to = fields.Date(
        data_key="to", metadata={"description": "截止日（含，北京时间）；默认今天"}
    )
    kind = fields.String(
        validate=schemas.one_of(KINDS, "kind "), metadata={"description": "只统计此类事件"}
    )


class RatioOut(Schema):
    """A ratio with its parts."""

    numerator = fields.Integer()
    denominator = fields.Integer()
    rate = fields.Float(
        allow_none=True,
        metadata={"description": "numerator / denominator（4 位小数）；分母为 0 时为 null"},
    )


class SatisfactionOut(RatioOut):
    """满意率, with each answer counted."""

    satisfied = fields.Integer()
    basically_satisfied = fields.Integer()
    dissatisfied = fields.Integer()


class BacklogOut(Schema):
    """Open work as of now."""

    open = fields.Integer(metadata={"description": "在办（待受理、已受理、办理中）"})
    overdue_acceptance = fields.Integer(metadata={"description": "逾期未受理"})
    overdue_in_progress = fields.Integer(metadata={"description": "超期在办"})
    supervised = fields.Integer(metadata={"description": "督办中（未归档、未终止）"})
    supervised_by_colour = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "普通/黄牌/红牌"}
    )


class MedianOut(Schema):
    """A median duration in days."""

    median_days = fields.Float(allow_none=True)
    count = fields.Integer()


class SpeedOut(Schema):
    """How fast cases move."""

    report_to_acceptance = fields.Nested(MedianOut)
    acceptance_to_resolution = fields.Nested(MedianOut)


class MeasuresOut(Schema):
    """Every measure of shared/DOMAIN.md §6 for one region subtree and period."""

    village_retention = fields.Nested(RatioOut, metadata={"description": "小事不出村率"})
    town_retention = fields.Nested(RatioOut, metadata={"description": "大事不出镇率"})
    county_share = fields.Nested(RatioOut, metadata={"description": "矛盾上交率"})
    on_time_acceptance = fields.Nested(RatioOut, metadata={"description": "受理及时率"})
    on_time_resolution = fields.Nested(RatioOut, metadata={"description": "按期办结率"})
    success_rate = fields.Nested(RatioOut, metadata={"description": "化解成功率（矛盾纠纷）"})
    satisfaction = fields.Nested(SatisfactionOut, metadata={"description": "满意率"})
    backlog = fields.Nested(BacklogOut)
    speed = fields.Nested(SpeedOut)


class TotalMeasuresOut(MeasuresOut):
    """The measures of the whole region, with the hook for risk points."""

    risk = fields.Raw(
        allow_none=True,
        metadata={"description": "风险隐患指标：风险点模块上线后提供，目前恒为 null"},
    )


class RegionRefOut(Schema):
    """A region by code, name and level."""

    code = fields.String()
    name = fields.String(allow_none=True)
    level = fields.String()


class SubRegionOut(Schema):
    """One row of the 工作台 table."""

    code = fields.String()
    name = fields.String(allow_none=True)
    measures = fields.Nested(MeasuresOut)


class BreakdownOut(Schema):
    """The measures of each sub-region one level down."""

    level = fields.String(metadata={"description": "town / village / grid_cell"})
    items = fields.List(fields.Nested(SubRegionOut))


class TrendMonthOut(Schema):
    """One month of the trend, clipped to the period."""

    month = fields.String(metadata={"description": "YYYY-MM"})
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    reported = fields.Integer()
    closed = fields.Integer()
    village_retention = fields.Nested(RatioOut)


class PeriodOut(Schema):
    """The period measured."""

    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    timezone = fields.String()


class MetricsOut(Schema):
    """Measures of a region subtree over a period, by sub-region, and month by month."""

    region = fields.Nested(RegionRefOut)
    period = fields.Nested(PeriodOut)
    kind = fields.String(allow_none=True)
    as_of = fields.DateTime(metadata={"description": "backlog 的统计时刻"})
    measures = fields.Nested(TotalMeasuresOut)
    breakdown = fields.Nested(BreakdownOut)
    trend = fields.List(fields.Nested(TrendMonthOut))


# --- measures: SQL -------------------------------------------------------------------------------

# One pass over the cases of the subtree, totals and per sub-region at once (GROUPING SETS).
# Review cases (复查/复核, review_stage <> 'none') are the same matter as their parent: the level
# measures count the parent only, so a matter is never counted twice (docs/measures.md).
CASE_MEASURES_SQL = """
WITH base AS (
    SELECT {key} AS k,
           c.kind, c.state, c.origin_level, c.max_level, c.supervision, c.outcome,
           c.reported_at, c.accepted_at, c.resolved_at,
           c.accept_due, c.resolve_due, c.accepted_on_time, c.resolved_on_time,
           c.review_stage = 'none' AS original,
           c.reported_at >= :period_start AND c.reported_at < :period_end AS reported_in,
           c.state = 'closed' AND c.closed_at >= :period_start AND c.closed_at < :period_end
               AS closed_in,
           c.accepted_at >= :period_start AND c.accepted_at < :period_end AS accepted_in,
           c.resolved_at >= :period_start AND c.resolved_at < :period_end AS resolved_in,
           -- the acceptance decision: accepted_at, or closed_at for a rejection (不予受理)
           coalesce(c.accepted_at, CASE WHEN c.state = 'rejected' THEN c.closed_at END)
               AS decided_at
      FROM cases c
     WHERE {visibility}
       AND c.region_code LIKE :region_prefix || '%'
       AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
)
SELECT GROUPING(k) = 1 AS is_total, k,
       count(*) FILTER (WHERE closed_in AND original AND origin_level = 'village')
           AS village_den,
       count(*) FILTER (WHERE closed_in AND original AND origin_level = 'village'
                          AND max_level = 'village') AS village_num,
       count(*) FILTER (WHERE closed_in AND original AND origin_level IN ('village', 'town'))
           AS town_den,
       count(*) FILTER (WHERE closed_in AND original AND origin_level IN ('village', 'town')
                          AND max_level <> 'county') AS town_num,
       count(*) FILTER (WHERE reported_in AND original) AS county_den,
       count(*) FILTER (WHERE reported_in AND original AND max_level = 'county') AS county_num,
       count(*) FILTER (WHERE decided_at >= :period_start AND decided_at < :period_end
                          AND accept_due IS NOT NULL AND accepted_on_time IS NOT NULL)
           AS accept_den,
       count(*) FILTER (WHERE decided_at >= :period_start AND decided_at < :period_end
                          AND accept_due IS NOT NULL AND accepted_on_time) AS accept_num,
       count(*) FILTER (WHERE resolved_in AND resolve_due IS NOT NULL
                          AND resolved_on_time IS NOT NULL) AS resolve_den,
       count(*) FILTER (WHERE resolved_in AND resolve_due IS NOT NULL AND resolved_on_time)
           AS resolve_num,
       count(*) FILTER (WHERE resolved_in AND kind = 'dispute') AS success_den,
       count(*) FILTER (WHERE resolved_in AND kind = 'dispute' AND outcome = 'agreement')
           AS success_num,
       count(*) FILTER (WHERE state IN ('reported', 'accepted', 'in_progress')) AS open,
       count(*) FILTER (WHERE state = 'reported' AND accept_due < :today) AS overdue_acceptance,
       count(*) FILTER (WHERE state IN ('accepted', 'in_progress') AND resolve_due < :today)
           AS overdue_in_progress,
       count(*) FILTER (WHERE supervision <> 'none' AND state NOT IN {settled_for_good})
           AS supervised,
       count(*) FILTER (WHERE supervision = 'normal' AND state NOT IN {settled_for_good})
           AS supervised_normal,
       count(*) FILTER (WHERE supervision = 'yellow' AND state NOT IN {settled_for_good})
           AS supervised_yellow,
       count(*) FILTER (WHERE supervision = 'red' AND state NOT IN {settled_for_good})
           AS supervised_red,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CAST(extract(epoch FROM accepted_at - reported_at) AS float8) / 86400
       ) FILTER (WHERE accepted_in) AS accept_median,
       count(*) FILTER (WHERE accepted_in) AS accept_count,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CAST(extract(epoch FROM resolved_at - accepted_at) AS float8) / 86400
       ) FILTER (WHERE resolved_in AND accepted_at IS NOT NULL) AS resolve_median,
       count(*) FILTER (WHERE resolved_in AND accepted_at IS NOT NULL) AS resolve_count
  FROM base
 GROUP BY GROUPING SETS ((), (k))
"""

# Cases closed, rejected or withdrawn can no longer be supervised or cleared (the workflow does
# not allow `supervise` on them), so a mark left on them is not counted as open supervision.
SETTLED_FOR_GOOD = "('closed', 'rejected', 'withdrawn')"

FOLLOW_UP_SQL = """
SELECT GROUPING(sc.k) = 1 AS is_total, sc.k,
       count(*) AS total,
       count(*) FILTER (WHERE f.satisfaction = 'satisfied') AS satisfied,
       count(*) FILTER (WHERE f.satisfaction = 'basically_satisfied') AS basically_satisfied,
       count(*) FILTER (WHERE f.satisfaction = 'dissatisfied') AS dissatisfied
  FROM follow_ups f
  JOIN (SELECT c.id, {key} AS k
          FROM cases c
         WHERE {visibility}
           AND c.region_code LIKE :region_prefix || '%'
           AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)) sc ON sc.id = f.case_id
 WHERE f.at >= :period_start AND f.at < :period_end
 GROUP BY GROUPING SETS ((), (sc.k))
"""

# Month by month (Asia/Shanghai), each month clipped to the period.
TREND_SQL = """
WITH months AS (
    SELECT CAST(m AS date) AS month
      FROM generate_series(date_trunc('month', CAST(:date_from AS timestamp)),
                           CAST(:date_to AS timestamp), interval '1 month') m
), base AS (
    SELECT CAST(date_trunc('month', c.reported_at AT TIME ZONE 'Asia/Shanghai') AS date)
               AS reported_month,
           CAST(date_trunc('month', c.closed_at AT TIME ZONE 'Asia/Shanghai') AS date)
               AS closed_month,
           c.reported_at >= :period_start AND c.reported_at < :period_end AS reported_in,
           c.state = 'closed' AND c.closed_at >= :period_start AND c.closed_at < :period_end
               AS closed_in,
           c.origin_level, c.max_level
      FROM cases c
     WHERE {visibility}
       AND c.region_code LIKE :region_prefix || '%'
       AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
       AND c.review_stage = 'none'
), reported AS (
    SELECT reported_month AS month, count(*) AS reported
      FROM base WHERE reported_in GROUP BY 1
), closed AS (
    SELECT closed_month AS month, count(*) AS closed,
           count(*) FILTER (WHERE origin_level = 'village') AS village_den,
           count(*) FILTER (WHERE origin_level = 'village' AND max_level = 'village')
               AS village_num
      FROM base WHERE closed_in GROUP BY 1
)
SELECT months.month,
       coalesce(reported.reported, 0) AS reported,
       coalesce(closed.closed, 0) AS closed,
       coalesce(closed.village_den, 0) AS village_den,
       coalesce(closed.village_num, 0) AS village_num
  FROM months
  LEFT JOIN reported USING (month)
  LEFT JOIN closed USING (month)
 ORDER BY months.month
"""


def ratio(numerator: int, denominator: int) -> dict:
    """numerator, denominator and their rate (None when nothing was counted)."""
    rate = round(numerator / denominator, 4) if denominator else None
    return {"numerator": numerator, "denominator": denominator, "rate": rate}


def median(value: float | None, count: int) -> dict:
    """A median in days (2 decimals) and how many cases it is over."""
    return {"median_days": None if value is None else round(value, 2), "count": count}


def measures_of(row: Row | dict | None, follow_ups: Row | dict | None) -> dict:
    """The measures from one row of each aggregate (a missing row means nothing counted)."""
    r = getattr(row, "_mapping", row) or {}
    f = getattr(follow_ups, "_mapping", follow_ups) or {}

    def n(mapping, name: str) -> int:
        return mapping.get(name) or 0

    return {
        "village_retention": ratio(n(r, "village_num"), n(r, "village_den")),
        "town_retention": ratio(n(r, "town_num"), n(r, "town_den")),
        "county_share": ratio(n(r, "county_num"), n(r, "county_den")),
        "on_time_acceptance": ratio(n(r, "accept_num"), n(r, "accept_den")),
        "on_time_resolution": ratio(n(r, "resolve_num"), n(r, "resolve_den")),
        "success_rate": ratio(n(r, "success_num"), n(r, "success_den")),
        "satisfaction": {
            **ratio(n(f, "satisfied") + n(f, "basically_satisfied"), n(f, "total")),
            "satisfied": n(f, "satisfied"),
            "basically_satisfied": n(f, "basically_satisfied"),
            "dissatisfied": n(f, "dissatisfied"),
        },
        "backlog": {
            "open": n(r, "open"),
            "overdue_acceptance": n(r, "overdue_acceptance"),
            "overdue_in_progress": n(r, "overdue_in_progress"),
            "supervised": n(r, "supervised"),
            "supervised_by_colour": {
                "normal": n(r, "supervised_normal"),
                "yellow": n(r, "supervised_yellow"),
                "red": n(r, "supervised_red"),
            },
        },
        "speed": {
            "report_to_acceptance": median(r.get("accept_median"), n(r, "accept_count")),
            "acceptance_to_resolution": median(r.get("resolve_median"), n(r, "resolve_count")),
        },
    }


def measured_region(code: str | None) -> Region:
    """The region to measure: the caller's own by default; outside scope answers as unknown."""
    if code is None:
        return current_user.region
    region = db.session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise ApiError(404, "区域不存在")
    if not current_scope().contains(region_prefix(region.code, region.level)):
        deny("metrics.read", "region", code, status=404, message="区域不存在")
    return region


def period_of(args: dict) -> tuple[dt.date, dt.date]:
    """[from, to] in Asia/Shanghai days: by default the last 30 days up to today."""
    date_to = args.get("date_to") or clocks.today()
    date_from = args.get("date_from") or date_to - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if date_from > date_to:
        raise ApiError(400, "起始日不能晚于截止日", {"query": {"from": ["不能晚于 to"]}})
    if (date_to - date_from).days + 1 > MAX_PERIOD_DAYS:
        raise ApiError(
            400,
            f"统计区间最长 {MAX_PERIOD_DAYS} 天",
            {"query": {"from": [f"区间最长 {MAX_PERIOD_DAYS} 天（约三年）"]}},
        )
    return date_from, date_to


def sub_regions(region: Region, today: dt.date) -> list[Row]:
    """The children one level down (code, name, current), regions or grid cells."""
    if region.level == "village":
        stmt = text(
            "SELECT code, name, true AS current FROM grid_cells WHERE village_id = :id"
            " ORDER BY code"
        )
    else:
        stmt = text(
            "SELECT code, name, (valid_to IS NULL OR valid_to > :today) AS current"
            " FROM regions WHERE parent_id = :id ORDER BY code"
        )
    return db.session.execute(stmt, {"id": region.id, "today": today}).all()


def compute_metrics(
    region: Region,
    date_from: dt.date,
    date_to: dt.date,
    kind: str | None,
    source: str = "auto",
):
    """Every measure for the caller's scope within `region` over [date_from, date_to].

    `source`: "facts" reads the pre-aggregated counts (app/cases/facts.py), "live" scans the
    cases; "auto" takes the facts wherever they can answer (counties and towns).
    """
    scope = current_scope()
    visibility, params = services.visibility_sql(scope, current_user.role, alias="c")
    child_level, key = BREAKDOWN[region.level]
    today = clocks.today()
    params |= {
        "region_prefix": region_prefix(region.code, region.level),
        "period_start": start_of(date_from),
        "period_end": start_of(date_to + dt.timedelta(days=1)),
        "kind": kind,
        "today": today,
        "date_from": date_from,
        "date_to": date_to,
        "scope_prefix": scope.prefix,
    }
    if source == "auto":
        source = "facts" if facts.usable(region.level, current_user.role) else "live"
    if source == "facts":
        cases_by_key, trend_rows = facts.case_rows(region.level, visibility, params)
        follow_ups_by_key = cases_by_key
    else:
        case_rows = db.session.execute(
            text(
                CASE_MEASURES_SQL.format(
                    key=key, visibility=visibility, settled_for_good=SETTLED_FOR_GOOD
                )
            ),
            params,
        ).all()
        follow_up_rows = db.session.execute(
            text(FOLLOW_UP_SQL.format(key=key, visibility=visibility)), params
        ).all()
        trend_rows = db.session.execute(text(TREND_SQL.format(visibility=visibility)), params).all()
        cases_by_key = {None if row.is_total else row.k: row for row in case_rows}
        follow_ups_by_key = {None if row.is_total else row.k: row for row in follow_up_rows}
    totals = measures_of(cases_by_key.get(None), follow_ups_by_key.get(None))
    totals["risk"] = None  # hook: risk points (DOMAIN.md §6 "risk") arrive with app/risks

    # Every current child gets a row (zeros included); a child with cases but abolished or
    # unknown to the regions table still shows, so the rows always add up to the total.
    children = sub_regions(region, today)
    names = {child.code: child.name for child in children}
    current = {child.code for child in children if child.current}
    codes = sorted(current | (set(cases_by_key) | set(follow_ups_by_key)) - {None})
    items = [
        {
            "code": code,
            "name": names.get(code),
            "measures": measures_of(cases_by_key.get(code), follow_ups_by_key.get(code)),
        }
        for code in codes
    ]
    trend = [
        {
            "month": row.month.strftime("%Y-%m"),
            "date_from": max(row.month, date_from),
            "date_to": min(next_month(row.month) - dt.timedelta(days=1), date_to),
            "reported": row.reported,
            "closed": row.closed,
            "village_retention": ratio(row.village_num, row.village_den),
        }
        for row in trend_rows
    ]
    return totals, {"level": child_level, "items": items}, trend


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@blp.route("/metrics")
@requires("metrics.read")
@blp.arguments(MetricsQuery, location="query")
@blp.response(200, MetricsOut)
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误（如起始日晚于截止日）")
@blp.alt_response(404, response="DEFAULT_ERROR", description="区域不存在（或不在辖区内）")
def metrics(args):
    """Measures of shared/DOMAIN.md §6 for a region subtree and period (docs/measures.md)."""
    region = measured_region(args.get("region"))
    date_from, date_to = period_of(args)
    totals, breakdown, trend = compute_metrics(region, date_from, date_to, args.get("kind"))
    return {
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "period": {"date_from": date_from, "date_to": date_to, "timezone": "Asia/Shanghai"},
        "kind": args.get("kind"),
        "as_of": services.now(),
        "measures": totals,
        "breakdown": breakdown,
        "trend": trend,
    }


# --- the ledger export (台账) --------------------------------------------------------------------

SOURCE_NAMES = {
    "grid_patrol": "网格员巡查",
    "visit": "群众来访",
    "letter": "来信",
    "phone": "电话/12345",
    "online": "网上",
    "video": "视频监控",
    "assigned": "上级交办",
    "other": "其他",
}
WARNING_NAMES = {"none": "无", "yellow": "黄牌", "red": "红牌"}
SUPERVISION_NAMES = {"none": "无", "normal": "普通", "yellow": "黄牌", "red": "红牌"}
PARTY_ROLE_NAMES = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}

# (header, column width in characters; a CJK character counts about two)
COLUMNS = (
    ("编号", 20),
    ("类型", 14),
    ("类别", 16),
    ("来源", 12),
    ("标题", 36),
    ("所属乡镇", 12),
    ("所属村", 12),
    ("网格", 16),
    ("上报时间", 18),
    ("当前层级", 10),
    ("状态", 10),
    ("受理期限", 12),
    ("办结期限", 12),
    ("预警", 8),
    ("督办", 8),
    ("办结结果", 12),
    ("当事人", 60),
)
HEADERS = tuple(title for title, _ in COLUMNS)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"
BINARY = {"type": "string", "format": "binary"}


class ExportQuery(schemas.CaseQuery):
    """The case list's filters (no paging), and whether to reveal parties in full."""

    class Meta:
        exclude = ("limit", "after")

    reveal = fields.Boolean(
        load_default=False,
        metadata={"description": "当事人显示完整信息（须有 cases.reveal 权限；留痕）"},
    )


def ledger_rows(args: dict) -> list[tuple]:
    """The ledger's rows for the caller's filters, oldest report first (at most the limit)."""
    town = aliased(Region)
    village = aliased(Region)
    in_filter = Case.id.in_(filtered(args).with_only_columns(Case.id))
    stmt = (
        select(
            Case.id,
            Case.number,
            Case.kind,
            Case.category,
            Case.source,
            Case.title,
            town.name,
            village.name,
            GridCell.name,
            Case.reported_at,
            Case.level,
            Case.state,
            Case.accept_due,
            Case.resolve_due,
            Case.warning,
            Case.supervision,
            Case.outcome,
        )
        .join(town, town.id == Case.town_id)
        .join(village, village.id == Case.village_id)
        .join(GridCell, GridCell.id == Case.grid_cell_id)
        .where(in_filter)
        .order_by(Case.reported_at, Case.id)
        .limit(MAX_EXPORT_ROWS + 1)
    )
    rows = db.session.execute(stmt).all()
    if len(rows) > MAX_EXPORT_ROWS:
        raise ApiError(
            400,
            f"符合条件的事件超过 {MAX_EXPORT_ROWS} 条，无法一次导出："
            "请缩小筛选范围（如上报时间、区域或状态）后分批导出",
            {"max_rows": MAX_EXPORT_ROWS},
        )
    parties = party_texts(args)
    return [
        (
            r.number,
            workflow.KIND_NAMES.get(r.kind, r.kind),
            r.category,
            SOURCE_NAMES.get(r.source, r.source),
            r.title,
            r[6],
            r[7],
            r[8],
            r.reported_at.astimezone(SHANGHAI).replace(tzinfo=None),
            workflow.LEVEL_NAMES.get(r.level, r.level),
            workflow.STATE_NAMES.get(r.state, r.state),
            r.accept_due,
            r.resolve_due,
            WARNING_NAMES.get(r.warning, r.warning),
            SUPERVISION_NAMES.get(r.supervision, r.supervision),
            workflow.OUTCOMES.get(r.kind, {}).get(r.outcome, r.outcome) if r.outcome else None,
            "；".join(parties.get(r.id, ())),
        )
        for r in rows
    ]


def party_texts(args: dict) -> dict[int, list[str]]:
    """Each case's parties as text: masked copies, or decrypted ones when revealing."""
    in_filter = Party.case_id.in_(filtered(args).with_only_columns(Case.id))
    if args["reveal"]:
        columns = (Party.name_enc, Party.id_number_enc, Party.phone_enc)
    else:
        # Only the masked columns are read: the ciphertexts never leave the database.
        columns = (Party.name_masked, Party.id_number_masked, Party.phone_masked)
    stmt = (
        select(Party.case_id, Party.role, *columns)
        .where(in_filter)
        .order_by(Party.case_id, Party.id)
    )
    out: dict[int, list[str]] = {}
    for case_id, role, name, id_number, phone in db.session.execute(stmt):
        if args["reveal"]:
            name, id_number, phone = pii.decrypt(name), pii.decrypt(id_number), pii.decrypt(phone)
        details = "，".join(v for v in (id_number, phone) if v)
        label = f"{PARTY_ROLE_NAMES.get(role, role)}：{name}"
        out.setdefault(case_id, []).append(f"{label}（{details}）" if details else label)
    return out


def audited_filters(args: dict) -> dict:
    """The filters as the audit log keeps them: JSON values, and no ID number in clear."""
    out = {}
    for key, value in args.items():
        if key == "reveal" or value is None:
            continue
        if key == "party_id_number":
            value = pii.mask_id_number(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out


def export(args: dict, fmt: str) -> Response:
    """Build, audit and answer one export of the ledger."""
    if args["reveal"] and not allows(current_user.role, "cases.reveal"):
        deny("cases.reveal")
    rows = ledger_rows(args)
    body = (
        exports.xlsx_bytes("事件台账", COLUMNS, rows)
        if fmt == "xlsx"
        else exports.csv_bytes(HEADERS, rows)
    )
    audit.record(
        "cases.export",
        object_type="cases",
        region_code=args.get("grid_cell") or args.get("region") or current_user.region.code,
        detail={
            "format": fmt,
            "filters": audited_filters(args),
            "rows": len(rows),
            "revealed": bool(args["reveal"]),
        },
    )
    db.session.commit()
    stamp = services.now().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    response = Response(
        body, mimetype=XLSX_MIMETYPE if fmt == "xlsx" else f"{CSV_MIMETYPE}; charset=utf-8"
    )
    # Only the date in the name (never a person or a filter); an ASCII name for old clients.
    response.headers["Content-Disposition"] = (
        f'attachment; filename="gridgov-cases-{stamp}.{fmt}"; '
        f"filename*=UTF-8''{quote(f'事件台账-{stamp}.{fmt}')}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/cases/export.xlsx")
@requires("cases.export")
@blp.arguments(ExportQuery, location="query")
@blp.response(200, BINARY, content_type=XLSX_MIMETYPE, description="事件台账（Excel）")
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 50000 条")
@blp.alt_response(403, response="DEFAULT_ERROR", description="无导出（或查看完整信息）权限")
def export_xlsx(args):
    """The case ledger (台账) as Excel, with the list's filters; parties masked unless revealed."""
    return export(args, "xlsx")


@blp.route("/cases/export.csv")
@requires("cases.export")
@blp.arguments(ExportQuery, location="query")
@blp.response(200, BINARY, content_type=CSV_MIMETYPE, description="事件台账（CSV，UTF-8 带 BOM）")
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 50000 条")
@blp.alt_response(403, response="DEFAULT_ERROR", description="无导出（或查看完整信息）权限")
def export_csv(args):
    """The case ledger (台账) as CSV, with the list's filters; parties masked unless revealed."""
    return export(args, "csv")
