"""Monthly scores of grid workers (网格员考核), computed from the data by SQL.

One function per component returns a SELECT of (user_id, value) for the month: the count of
what the worker did (satisfaction: the percentage of follow-ups of the cases they reported
that were 满意 or 基本满意). The statement joins them to the workers in scope and to the
weights (table `assessment_weights`): each part is min(value / target, 1) × weight, scaled so
the weights together make 100. docs/assessment.md says what each component counts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import text

from app.assessment.models import COMPONENT_NAMES
from app.assessment.models import COMPONENTS
from app.core import clock
from app.core.errors import Invalid
from app.extensions import db
from app.scoping import Scope

MONTH_RE = re.compile(r"^((?:19|20)\d{2})-(0[1-9]|1[0-2])$")


# --- the components: one function each, a SELECT of (user_id, value) over [:start, :end) ------


def reports_sql() -> str:
    """Cases the worker reported in the month."""
    return """SELECT reporter_id AS user_id, count(*)::numeric AS value FROM cases
               WHERE reported_at >= :start AND reported_at < :end GROUP BY reporter_id"""


def verified_reports_sql() -> str:
    """Cases the worker reported that were accepted (受理) in the month, plus residents'
    self-reports (随手拍) the worker verified in the month (a case of theirs too, accepted later
    or not: the verification is the work)."""
    return """SELECT user_id, sum(n)::numeric AS value FROM (
                  SELECT reporter_id AS user_id, count(*) AS n FROM cases
                   WHERE accepted_at >= :start AND accepted_at < :end GROUP BY reporter_id
                  UNION ALL
                  SELECT decided_by_id, count(*) FROM self_reports
                   WHERE state = 'verified' AND decided_at >= :start AND decided_at < :end
                   GROUP BY decided_by_id) v
               GROUP BY user_id"""


def inspections_on_time_sql() -> str:
    """Inspections the worker made in the month on or before the point's due day: the previous
    inspection (or the registration) plus the period of the point's level (排查周期)."""
    return """SELECT i.inspector_id AS user_id, count(*)::numeric AS value
                FROM (SELECT i.*, lag(i.inspected_on) OVER (PARTITION BY i.risk_point_id
                                                            ORDER BY i.inspected_on, i.id) AS prev
                        FROM inspections i) i
                JOIN risk_points p ON p.id = i.risk_point_id
                JOIN inspection_schedules s ON s.level = p.level
               WHERE i.inspected_on >= :start_day AND i.inspected_on < :end_day
                 AND i.inspected_on <= coalesce(i.prev, (p.registered_at
                                                         AT TIME ZONE 'Asia/Shanghai')::date)
                                       + s.days
               GROUP BY i.inspector_id"""


def visits_sql() -> str:
    """Household visits the worker logged in the month."""
    return """SELECT logged_by_id AS user_id, count(*)::numeric AS value FROM visits
               WHERE visited_at >= :start AND visited_at < :end GROUP BY logged_by_id"""


def follow_ups_sql() -> str:
    """Follow-ups (回访) the worker made in the month."""
    return """SELECT by_id AS user_id, count(*)::numeric AS value FROM follow_ups
               WHERE at >= :start AND at < :end GROUP BY by_id"""


def satisfaction_sql() -> str:
    """Of the follow-ups in the month of cases the worker reported: the percentage 满意 or
    基本满意 (no follow-ups: no points)."""
    return """SELECT c.reporter_id AS user_id,
                     100.0 * count(*) FILTER (WHERE f.satisfaction IN
                                                ('satisfied', 'basically_satisfied'))
                           / count(*) AS value
                FROM follow_ups f JOIN cases c ON c.id = f.case_id
               WHERE f.at >= :start AND f.at < :end GROUP BY c.reporter_id"""


COMPONENT_SQL = {
    "reports": reports_sql,
    "verified_reports": verified_reports_sql,
    "inspections_on_time": inspections_on_time_sql,
    "visits": visits_sql,
    "follow_ups": follow_ups_sql,
    "satisfaction": satisfaction_sql,
}


def score_sql(scope_condition: str) -> str:
    """The statement: workers in scope × components, each with its value and its points."""
    ctes = ",\n".join(f"c_{name} AS ({COMPONENT_SQL[name]()})" for name in COMPONENTS)
    values = ",\n".join(
        f"('{name}', (SELECT value FROM c_{name} WHERE user_id = w.id))" for name in COMPONENTS
    )
    return f"""
WITH workers AS (
    SELECT u.id, u.display_name, r.code AS region_code, r.name AS region_name
      FROM users u JOIN regions r ON r.id = u.region_id
     WHERE u.role = 'grid_worker' AND u.active AND {scope_condition}
),
{ctes},
total AS (SELECT nullif(sum(weight), 0) AS weight FROM assessment_weights)
SELECT w.id AS user_id, w.display_name, w.region_code, w.region_name,
       v.component, v.value, aw.weight, aw.target,
       round(least(coalesce(v.value, 0) / aw.target, 1) * aw.weight * 100
             / (SELECT weight FROM total), 2) AS points
  FROM workers w
 CROSS JOIN LATERAL (VALUES {values}) AS v(component, value)
  JOIN assessment_weights aw ON aw.component = v.component
 ORDER BY w.id
"""


# --- the answer ----------------------------------------------------------------------------------


@dataclass
class Month:
    """A calendar month in Asia/Shanghai: its label and bounds."""

    label: str
    first: dt.date
    next_first: dt.date


def month_of(value: str | None) -> Month:
    """'2026-11' → its bounds; this month by default; 422 naming `month` otherwise."""
    if not value:
        today = clock.today()
        value = f"{today.year:04d}-{today.month:02d}"
    match = MONTH_RE.match(value)
    if not match:
        raise Invalid(
            "月份格式应为 YYYY-MM", errors={"query": {"month": ["应为 YYYY-MM，如 2026-11"]}}
        )
    year, month = int(match.group(1)), int(match.group(2))
    first = dt.date(year, month, 1)
    next_first = dt.date(year + month // 12, month % 12 + 1, 1)
    return Month(value, first, next_first)


def worker_condition(scope: Scope, user) -> tuple[str, dict]:
    """Which workers the caller sees: a worker only themselves; others their region subtree."""
    if user.role == "grid_worker":
        return "u.id = :me", {"me": user.id}
    condition, params = scope.sql("r", code="code")
    return condition, params


def scores(scope: Scope, user, month: Month, user_id: int | None = None) -> list[dict]:
    """Each worker in scope (or just `user_id`) with total and parts, highest total first."""
    condition, params = worker_condition(scope, user)
    if user_id is not None:
        condition += " AND u.id = :only"
        params["only"] = user_id
    rows = db.session.execute(
        text(score_sql(condition)),
        {
            **params,
            "start": clock.start_of(month.first),
            "end": clock.start_of(month.next_first),
            "start_day": month.first,
            "end_day": month.next_first,
        },
    ).mappings()
    workers: dict[int, dict] = {}
    for row in rows:
        worker = workers.setdefault(
            row["user_id"],
            {
                "user_id": row["user_id"],
                "name": row["display_name"],
                "region_code": row["region_code"],
                "region_name": row["region_name"],
                "month": month.label,
                "total": 0.0,
                "parts": [],
            },
        )
        points = float(row["points"] or 0)
        value = row["value"]
        worker["parts"].append(
            {
                "component": row["component"],
                "name": COMPONENT_NAMES[row["component"]],
                "value": None if value is None else round(float(value), 2),
                "target": row["target"],
                "weight": row["weight"],
                "points": points,
            }
        )
        worker["total"] = round(worker["total"] + points, 2)
    ranked = sorted(workers.values(), key=lambda w: (-w["total"], w["user_id"]))
    for rank, worker in enumerate(ranked, 1):
        worker["rank"] = rank
    return ranked
