"""Measures (考核指标) of cases per region subtree and period: the SQL and its arithmetic.

Every query on cases here goes through the one scoping rule for cases (queries.scope_sql).
The exact definitions are in docs/measures.md (shared/DOMAIN.md §6). The API
(app/cases/reports.py) and the 工作台 page (app/web/official.py) both measure through here.
"""

from __future__ import annotations

import datetime as dt

from flask_login import current_user
from sqlalchemy import Row
from sqlalchemy import select
from sqlalchemy import text

from app.cases import facts
from app.cases import queries
from app.cases import workflow
from app.core import clock
from app.core import replica
from app.core.errors import BadRequest
from app.core.errors import NotFound
from app.extensions import db
from app.geo.models import Region
from app.policy import deny
from app.scoping import current_scope
from app.scoping import region_prefix
from app.scoping import scope_for

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 1096  # three years: keeps the monthly trend and the scans bounded

# One level down, for the 工作台 table: the child level, and how a case's 15-digit grid-cell code
# maps to the child's code (towns are 9 digits + "000", villages 12 digits, cells all 15).
BREAKDOWN = {
    # Above the county (issue 17): a province by its 市, a 市 by its counties.
    "province": ("prefecture", "left(c.region_code, 4) || '00000000'"),
    "prefecture": ("county", "left(c.region_code, 6) || '000000'"),
    "county": ("town", "left(c.region_code, 9) || '000'"),
    "town": ("village", "left(c.region_code, 12)"),
    "village": ("grid_cell", "c.region_code"),
}

# --- measures: SQL -------------------------------------------------------------------------------

# One pass over the cases of the subtree, totals and per sub-region at once (GROUPING SETS).
# Review cases (复查/复核, review_stage <> 'none') are the same matter as their parent: the level
# measures count the parent only, so a matter is never counted twice (docs/measures.md).
CASE_MEASURES_SQL = (
    """
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
       count(*) FILTER (WHERE state = ANY(:open_states)) AS open,
       count(*) FILTER (WHERE state = 'reported' AND accept_due < :today) AS overdue_acceptance,
       count(*) FILTER (WHERE (state IN ('accepted', 'in_progress')
                                OR (state = 'reported' AND kind = 'incident'))
                          AND resolve_due < :today) AS overdue_in_progress,
       count(*) FILTER (WHERE supervision <> 'none' AND NOT state = ANY(:settled_for_good))
           AS supervised,
       count(*) FILTER (WHERE supervision = 'normal' AND NOT state = ANY(:settled_for_good))
           AS supervised_normal,
       count(*) FILTER (WHERE supervision = 'yellow' AND NOT state = ANY(:settled_for_good))
           AS supervised_yellow,
       count(*) FILTER (WHERE supervision = 'red' AND NOT state = ANY(:settled_for_good))
           AS supervised_red,"""
    + facts.MEDIAN_COLUMNS
    + """
  FROM base
 GROUP BY GROUPING SETS ((), (k))
"""
)

# Cases closed, rejected or withdrawn can no longer be supervised or cleared (the workflow does
# not allow `supervise` on them), so a mark left on them is not counted as open supervision.
SETTLED_FOR_GOOD = sorted(workflow.TERMINAL_STATES | {"closed"})

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

# Residents' ratings (评价, docs/resident.md): the second channel of 满意率, shown apart.
RATINGS_SQL = """
SELECT GROUPING(sc.k) = 1 AS is_total, sc.k,
       count(*) AS total,
       count(*) FILTER (WHERE r.rating = 'satisfied') AS satisfied,
       count(*) FILTER (WHERE r.rating = 'basically') AS basically_satisfied,
       count(*) FILTER (WHERE r.rating = 'dissatisfied') AS dissatisfied
  FROM resident_ratings r
  JOIN (SELECT c.id, {key} AS k
          FROM cases c
         WHERE {visibility}
           AND c.region_code LIKE :region_prefix || '%'
           AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)) sc ON sc.id = r.case_id
 WHERE r.created_at >= :period_start AND r.created_at < :period_end
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


def satisfaction_of(f) -> dict:
    """满意率 of one channel: (满意 + 基本满意) / all, with each count."""

    def n(name: str) -> int:
        return f.get(name) or 0

    return {
        **ratio(n("satisfied") + n("basically_satisfied"), n("total")),
        "satisfied": n("satisfied"),
        "basically_satisfied": n("basically_satisfied"),
        "dissatisfied": n("dissatisfied"),
    }


def measures_of(
    row: Row | dict | None, follow_ups: Row | dict | None, ratings: Row | dict | None = None
) -> dict:
    """The measures from one row of each aggregate (a missing row means nothing counted)."""
    r = getattr(row, "_mapping", row) or {}
    f = getattr(follow_ups, "_mapping", follow_ups) or {}
    g = getattr(ratings, "_mapping", ratings) or {}

    def n(mapping, name: str) -> int:
        return mapping.get(name) or 0

    return {
        "village_retention": ratio(n(r, "village_num"), n(r, "village_den")),
        "town_retention": ratio(n(r, "town_num"), n(r, "town_den")),
        "county_share": ratio(n(r, "county_num"), n(r, "county_den")),
        "on_time_acceptance": ratio(n(r, "accept_num"), n(r, "accept_den")),
        "on_time_resolution": ratio(n(r, "resolve_num"), n(r, "resolve_den")),
        "success_rate": ratio(n(r, "success_num"), n(r, "success_den")),
        # Two channels, never mixed: staff follow-ups (回访) and residents' own ratings (评价).
        "satisfaction": satisfaction_of(f),
        "resident_satisfaction": satisfaction_of(g),
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
        raise NotFound("区域不存在")
    if not current_scope().contains(region_prefix(region.code, region.level)):
        deny("metrics.read", "region", code, status=404, message="区域不存在")
    return region


def period_of(args: dict) -> tuple[dt.date, dt.date]:
    """[from, to] in Asia/Shanghai days: by default the last 30 days up to today."""
    date_to = args.get("date_to") or clock.today()
    date_from = args.get("date_from") or date_to - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if date_from > date_to:
        raise BadRequest("起始日不能晚于截止日", errors={"query": {"from": ["不能晚于 to"]}})
    if (date_to - date_from).days + 1 > MAX_PERIOD_DAYS:
        raise BadRequest(
            f"统计区间最长 {MAX_PERIOD_DAYS} 天",
            errors={"query": {"from": [f"区间最长 {MAX_PERIOD_DAYS} 天（约三年）"]}},
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
    user=None,
):
    """Every measure for the caller's scope within `region` over [date_from, date_to].

    `source`: "facts" reads the pre-aggregated counts (app/cases/facts.py), "live" scans the
    cases; "auto" takes the facts wherever they can answer (counties and towns). `user`: whose
    scope, when not the signed-in user's (a briefing made in the background, app/briefings).
    """
    user = user or current_user
    scope = scope_for(user)
    visibility, params = queries.scope_sql(scope, "c")
    child_level, key = BREAKDOWN[region.level]
    today = clock.today()
    params |= {
        "region_prefix": region_prefix(region.code, region.level),
        "period_start": clock.start_of(date_from),
        "period_end": clock.start_of(date_to + dt.timedelta(days=1)),
        "kind": kind,
        "today": today,
        "date_from": date_from,
        "date_to": date_to,
        "scope_prefix": scope.prefix,
        "open_states": sorted(workflow.OPEN_STATES),
        "settled_for_good": SETTLED_FOR_GOOD,
    }
    if source == "auto":
        source = "facts" if facts.usable(region.level, user.role) else "live"
    if source == "facts":
        cases_by_key, trend_rows = facts.case_rows(region.level, visibility, params)
        follow_ups_by_key = cases_by_key
    else:
        # Live counts read the standby when there is one (app/core/replica.py).
        reads = replica.session()
        case_rows = reads.execute(
            text(CASE_MEASURES_SQL.format(key=key, visibility=visibility)), params
        ).all()
        follow_up_rows = reads.execute(
            text(FOLLOW_UP_SQL.format(key=key, visibility=visibility)), params
        ).all()
        trend_rows = reads.execute(text(TREND_SQL.format(visibility=visibility)), params).all()
        cases_by_key = {None if row.is_total else row.k: row for row in case_rows}
        follow_ups_by_key = {None if row.is_total else row.k: row for row in follow_up_rows}
    # Residents' ratings are few: always counted live, whichever source the rest comes from.
    rating_rows = (
        replica.session()
        .execute(text(RATINGS_SQL.format(key=key, visibility=visibility)), params)
        .all()
    )
    ratings_by_key = {None if row.is_total else row.k: row for row in rating_rows}
    totals = measures_of(
        cases_by_key.get(None), follow_ups_by_key.get(None), ratings_by_key.get(None)
    )
    totals["risk"] = None  # hook: risk points (DOMAIN.md §6 "risk") arrive with app/risks

    # Every current child gets a row (zeros included); a child with cases but abolished or
    # unknown to the regions table still shows, so the rows always add up to the total.
    children = sub_regions(region, today)
    names = {child.code: child.name for child in children}
    current = {child.code for child in children if child.current}
    codes = sorted(
        current | (set(cases_by_key) | set(follow_ups_by_key) | set(ratings_by_key)) - {None}
    )
    items = [
        {
            "code": code,
            "name": names.get(code),
            "measures": measures_of(
                cases_by_key.get(code), follow_ups_by_key.get(code), ratings_by_key.get(code)
            ),
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
