"""Pre-aggregated measures: per village × day × kind × metric counts kept by triggers.

The SQL function `case_measure_facts(cases)` (migration 0007) is the one statement of which
facts a case contributes; row triggers on cases and follow_ups add the difference between a
row's old and new facts, in the writer's transaction, so the counts are always current.
`reports.compute_metrics` reads them for counties and towns (tests/cases/test_facts.py checks
they equal the live computation after random changes).
"""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import Date
from sqlalchemy import Integer
from sqlalchemy import PrimaryKeyConstraint
from sqlalchemy import String
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db

# The day of counts that have no day (backlog "as of now"; totals for the map).
NO_DAY = date(1970, 1, 1)


class MeasureFact(db.Model):
    """How many cases (or follow-ups) of a village and kind count for a metric on a day."""

    __tablename__ = "measure_facts"
    # The count rides in the key's index, so the measures read index-only (migration 0032).
    __table_args__ = (
        PrimaryKeyConstraint(
            "metric",
            "day",
            "region_code",
            "kind",
            name="pk_measure_facts",
            postgresql_include=["n"],
        ),
    )

    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


def rebuild() -> int:
    """Recount every fact from the cases and follow-ups (after a bulk load); returns the rows."""
    return db.session.execute(text("SELECT rebuild_measure_facts()")).scalar_one()


def rebuild_in(prefix: str) -> int:
    """Recount the facts under a region prefix (a county's six digits) without blocking writers:
    the difference to the kept counts is added, so a case written meanwhile counts once
    (migration 0030); returns the rows changed. The caller commits."""
    return db.session.execute(
        text("SELECT rebuild_measure_facts_in(:prefix)"), {"prefix": prefix}
    ).scalar_one()


def county_prefixes() -> list[str]:
    """The six-digit prefixes of the counties, in code order: the recount's units."""
    return list(
        db.session.scalars(
            text("SELECT DISTINCT left(code, 6) FROM regions WHERE level = 'county' ORDER BY 1")
        )
    )


# How a village-grain fact maps to the breakdown's sub-region, per measured level (the live
# query's BREAKDOWN keys for the same levels). Villages are measured live: the breakdown is by
# grid cell, finer than the facts, and a village's cases are few.
FACT_KEYS = {
    "province": "left(f.region_code, 4) || '00000000'",
    "prefecture": "left(f.region_code, 6) || '000000'",
    "county": "left(f.region_code, 9) || '000'",
    "town": "f.region_code",
}
PERIOD_METRICS = [
    "reported",
    "reported_county",
    "closed",
    "closed_v",
    "closed_v_kept",
    "closed_vt",
    "closed_vt_kept",
    "decided",
    "decided_on_time",
    "resolved_due",
    "resolved_on_time",
    "resolved_dispute",
    "resolved_agreement",
    "fu_satisfied",
    "fu_basically_satisfied",
    "fu_dissatisfied",
]
NOW_METRICS = ["all", "open", "supervised_normal", "supervised_yellow", "supervised_red"]
DUE_METRICS = ["reported_due", "progress_due"]

# The facts of the region and scope (and kind) a measures pass reads, as one WHERE clause.
FACT_WHERE = """
         f.region_code LIKE :region_prefix || '%'
     AND f.region_code LIKE :scope_prefix || '%'
     AND (CAST(:kind AS text) IS NULL OR f.kind = :kind)"""

# Column names as the live queries answer them, so reports.measures_of reads either.
# The three kinds of metric as three branches of a UNION ALL, each a range of the primary key,
# which carries `n` (INCLUDE, migration 0032): index-only scans, no heap page read. As one OR
# the planner took a bitmap scan that read the table's pages (bench/NOTES.md, W6).
# The three kinds of fact the pass reads — the period's, the now facts (day 1970-01-01) and those
# overdue before today — each a key range of the index (UNION ALL: one OR got a bitmap scan).
FACT_BRANCHES = (
    ("period_metrics", "f.day BETWEEN :date_from AND :date_to"),
    ("now_metrics", "f.day = DATE '1970-01-01'"),
    ("due_metrics", "f.day < :today"),
)
FACT_MEASURES_SQL = (
    """
WITH f AS (
    -- Summed per sub-region and metric first (a few thousand groups, hashed): the pivot below
    -- then reads those instead of every fact of the period (half the time, bench/NOTES.md).
    SELECT {key} AS k, f.metric, CAST(sum(f.n) AS integer) AS n
      FROM ("""
    + "\n            UNION ALL\n".join(
        f"""SELECT f.region_code, f.metric, f.n FROM measure_facts f
             WHERE f.metric = ANY(:{metrics}) AND {days}
               AND{FACT_WHERE}"""
        for metrics, days in FACT_BRANCHES
    )
    + """) f
     GROUP BY 1, 2
)
SELECT GROUPING(k) = 1 AS is_total, k,
       sum(n) FILTER (WHERE metric = 'closed_v') AS village_den,
       sum(n) FILTER (WHERE metric = 'closed_v_kept') AS village_num,
       sum(n) FILTER (WHERE metric = 'closed_vt') AS town_den,
       sum(n) FILTER (WHERE metric = 'closed_vt_kept') AS town_num,
       sum(n) FILTER (WHERE metric = 'reported') AS county_den,
       sum(n) FILTER (WHERE metric = 'reported_county') AS county_num,
       sum(n) FILTER (WHERE metric = 'decided') AS accept_den,
       sum(n) FILTER (WHERE metric = 'decided_on_time') AS accept_num,
       sum(n) FILTER (WHERE metric = 'resolved_due') AS resolve_den,
       sum(n) FILTER (WHERE metric = 'resolved_on_time') AS resolve_num,
       sum(n) FILTER (WHERE metric = 'resolved_dispute') AS success_den,
       sum(n) FILTER (WHERE metric = 'resolved_agreement') AS success_num,
       sum(n) FILTER (WHERE metric = 'open') AS open,
       sum(n) FILTER (WHERE metric = 'reported_due') AS overdue_acceptance,
       sum(n) FILTER (WHERE metric = 'progress_due') AS overdue_in_progress,
       sum(n) FILTER (WHERE metric LIKE 'supervised_%') AS supervised,
       sum(n) FILTER (WHERE metric = 'supervised_normal') AS supervised_normal,
       sum(n) FILTER (WHERE metric = 'supervised_yellow') AS supervised_yellow,
       sum(n) FILTER (WHERE metric = 'supervised_red') AS supervised_red,
       sum(n) FILTER (WHERE metric LIKE 'fu_%') AS total,
       sum(n) FILTER (WHERE metric = 'fu_satisfied') AS satisfied,
       sum(n) FILTER (WHERE metric = 'fu_basically_satisfied') AS basically_satisfied,
       sum(n) FILTER (WHERE metric = 'fu_dissatisfied') AS dissatisfied
  FROM f
 GROUP BY GROUPING SETS ((), (k))
"""
)

# The monthly trend: a separate, narrow pass (four metrics). Folding it into the statement above
# as a third grouping set made the planner sort every fact of the period (bench/NOTES.md).
FACT_TREND_SQL = """
SELECT CAST(date_trunc('month', f.day) AS date) AS month,
       sum(f.n) FILTER (WHERE f.metric = 'reported') AS reported,
       sum(f.n) FILTER (WHERE f.metric = 'closed') AS closed,
       sum(f.n) FILTER (WHERE f.metric = 'closed_v') AS village_den,
       sum(f.n) FILTER (WHERE f.metric = 'closed_v_kept') AS village_num
  FROM measure_facts f
 WHERE f.metric IN ('reported', 'closed', 'closed_v', 'closed_v_kept')
   AND f.day BETWEEN :date_from AND :date_to
   AND f.region_code LIKE :region_prefix || '%'
   AND f.region_code LIKE :scope_prefix || '%'
   AND (CAST(:kind AS text) IS NULL OR f.kind = :kind)
 GROUP BY 1
"""

# The medians of the days to accept and to resolve, over rows with reported_at, accepted_at,
# resolved_at and the flags accepted_in / resolved_in (in the period): here and in the live
# measures (app/cases/measures.py).
MEDIAN_COLUMNS = """
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CAST(extract(epoch FROM accepted_at - reported_at) AS float8) / 86400
       ) FILTER (WHERE accepted_in) AS accept_median,
       count(*) FILTER (WHERE accepted_in) AS accept_count,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CAST(extract(epoch FROM resolved_at - accepted_at) AS float8) / 86400
       ) FILTER (WHERE resolved_in AND accepted_at IS NOT NULL) AS resolve_median,
       count(*) FILTER (WHERE resolved_in AND accepted_at IS NOT NULL) AS resolve_count"""

# Medians are not additive: they come from the cases accepted or resolved in the period, found
# by the accepted_at / resolved_at indexes rather than by reading every case of the region.
MEDIANS_SQL = (
    """
SELECT GROUPING(k) = 1 AS is_total, k,"""
    + MEDIAN_COLUMNS
    + """
  FROM (SELECT {key} AS k, c.reported_at, c.accepted_at, c.resolved_at,
               c.accepted_at >= :period_start AND c.accepted_at < :period_end AS accepted_in,
               c.resolved_at >= :period_start AND c.resolved_at < :period_end AS resolved_in
          FROM cases c
         WHERE {visibility}
           AND c.region_code LIKE :region_prefix || '%'
           AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
           AND ((c.accepted_at >= :period_start AND c.accepted_at < :period_end)
                OR (c.resolved_at >= :period_start AND c.resolved_at < :period_end))) base
 GROUP BY GROUPING SETS ((), (k))
"""
)


def usable(level: str, role: str) -> bool:
    """The facts answer for this region level and role: counties and towns, prefix scopes.

    A grid worker's visibility depends on cells and their own reports, which village-grain
    facts cannot tell apart; villages are measured live (breakdown by grid cell).
    """
    return level in FACT_KEYS and role != "grid_worker"


def case_rows(level: str, visibility: str, params: dict) -> tuple[dict, list]:
    """({sub-region key or None for the total: {column: value}}, the monthly trend rows).

    One pass over the period's facts gives the totals and the sub-regions; a narrow one the
    months.
    """
    params = params | {
        "period_metrics": PERIOD_METRICS,
        "now_metrics": NOW_METRICS,
        "due_metrics": DUE_METRICS,
    }
    out: dict = {}
    for row in db.session.execute(text(FACT_MEASURES_SQL.format(key=FACT_KEYS[level])), params):
        out[None if row.is_total else row.k] = dict(row._mapping)
    months = {row.month: row for row in db.session.execute(text(FACT_TREND_SQL), params)}
    live_key = {
        "province": "left(c.region_code, 4) || '00000000'",
        "prefecture": "left(c.region_code, 6) || '000000'",
        "county": "left(c.region_code, 9) || '000'",
        "town": "left(c.region_code, 12)",
    }
    medians = text(MEDIANS_SQL.format(key=live_key[level], visibility=visibility))
    for row in db.session.execute(medians, params):
        out.setdefault(None if row.is_total else row.k, {}).update(row._mapping)
    trend = []
    month = params["date_from"].replace(day=1)
    while month <= params["date_to"]:
        row = months.get(month)
        trend.append(
            SimpleNamespace(
                month=month,
                **{
                    name: int(getattr(row, name) or 0) if row is not None else 0
                    for name in ("reported", "closed", "village_den", "village_num")
                },
            )
        )
        month = (month + timedelta(days=32)).replace(day=1)
    return out, trend
