"""Measures per department (shared/DOMAIN.md §8): 签收及时率, 按期办结率, 退回率, 重办率, 满意率.

One SQL statement over the dispatches and follow-ups, per department whose region lies in the
caller's scope and in the measured region. Each definition is written once in docs/measures.md
("Measures per department"); the API (app/cases/reports.py) and the 工作台 (app/web/official.py)
both read them from here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from app.cases.measures import ratio
from app.core import clock
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.extensions import db
from app.geo.models import Region
from app.scoping import current_scope
from app.scoping import region_prefix

# Per department: dispatches by the date that decides each measure (signed_at, reported_at,
# dispatched_at), and follow-ups by the unit of the case's latest accepted lead dispatch.
DEPARTMENT_MEASURES_SQL = """
WITH deps AS (
    SELECT dep.id, dep.code, dep.name, dep.kind, dep.region_code, dep.region_id, dep.active
      FROM departments dep
     WHERE {scope}
       AND dep.region_code LIKE :region_prefix || '%'
), ds AS (
    SELECT d.*
      FROM dispatches d
      JOIN deps ON deps.id = d.department_id
      JOIN cases c ON c.id = d.case_id
     WHERE CAST(:kind AS text) IS NULL OR c.kind = :kind
), dispatch_counts AS (
    SELECT department_id,
           count(*) FILTER (WHERE signed_at >= :period_start AND signed_at < :period_end
                              AND signed_on_time IS NOT NULL) AS sign_den,
           count(*) FILTER (WHERE signed_at >= :period_start AND signed_at < :period_end
                              AND signed_on_time) AS sign_num,
           count(*) FILTER (WHERE role = 'lead'
                              AND reported_at >= :period_start AND reported_at < :period_end
                              AND reported_on_time IS NOT NULL) AS report_den,
           count(*) FILTER (WHERE role = 'lead'
                              AND reported_at >= :period_start AND reported_at < :period_end
                              AND reported_on_time) AS report_num,
           count(*) FILTER (WHERE role IN ('lead', 'co')
                              AND dispatched_at >= :period_start AND dispatched_at < :period_end)
               AS return_den,
           count(*) FILTER (WHERE role IN ('lead', 'co') AND state = 'returned'
                              AND dispatched_at >= :period_start AND dispatched_at < :period_end)
               AS return_num,
           count(*) FILTER (WHERE role = 'lead'
                              AND reported_at >= :period_start AND reported_at < :period_end)
               AS redo_den,
           count(*) FILTER (WHERE role = 'lead' AND redo_count > 0
                              AND reported_at >= :period_start AND reported_at < :period_end)
               AS redo_num,
           count(*) FILTER (WHERE role IN ('lead', 'co') AND state = ANY(:open_states))
               AS open
      FROM ds
     GROUP BY department_id
), follow_up_counts AS (
    SELECT unit.department_id,
           count(*) AS total,
           count(*) FILTER (WHERE f.satisfaction = 'satisfied') AS satisfied,
           count(*) FILTER (WHERE f.satisfaction = 'basically_satisfied') AS basically_satisfied,
           count(*) FILTER (WHERE f.satisfaction = 'dissatisfied') AS dissatisfied
      FROM follow_ups f
      JOIN cases c ON c.id = f.case_id
      CROSS JOIN LATERAL (
          SELECT d.department_id
            FROM dispatches d
           WHERE d.case_id = f.case_id AND d.role = 'lead' AND d.state = 'accepted'
             AND coalesce(d.reviewed_at, d.reported_at, d.dispatched_at) <= f.at
           ORDER BY coalesce(d.reviewed_at, d.reported_at, d.dispatched_at) DESC, d.id DESC
           LIMIT 1
      ) unit
     WHERE f.at >= :period_start AND f.at < :period_end
       AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
       AND unit.department_id IN (SELECT id FROM deps)
       -- Implied by the line above (the unit is that of an accepted lead dispatch in deps), and
       -- lets the planner start from the few dispatches, not every follow-up of the period.
       AND f.case_id IN (SELECT d.case_id FROM dispatches d JOIN deps ON deps.id = d.department_id
                          WHERE d.role = 'lead' AND d.state = 'accepted')
     GROUP BY unit.department_id
)
SELECT deps.id, deps.code, deps.name, deps.kind, deps.region_code, r.name AS region_name,
       dc.sign_num, dc.sign_den, dc.report_num, dc.report_den, dc.return_num, dc.return_den,
       dc.redo_num, dc.redo_den, dc.open,
       fc.total, fc.satisfied, fc.basically_satisfied, fc.dissatisfied
  FROM deps
  LEFT JOIN regions r ON r.id = deps.region_id
  LEFT JOIN dispatch_counts dc ON dc.department_id = deps.id
  LEFT JOIN follow_up_counts fc ON fc.department_id = deps.id
 WHERE deps.active OR dc.department_id IS NOT NULL OR fc.department_id IS NOT NULL
 ORDER BY deps.region_code, deps.name, deps.id
"""


def department_measures(
    region: Region, date_from: dt.date, date_to: dt.date, kind: str | None = None
) -> list[dict]:
    """Each department in the caller's scope within `region` (active ones, and deactivated ones
    with something counted), with its five measures over [date_from, date_to] (Asia/Shanghai
    days), sorted by region code and name."""
    scope = current_scope()
    condition, params = scope.sql("dep")
    params |= {
        "region_prefix": region_prefix(region.code, region.level),
        "period_start": clock.start_of(date_from),
        "period_end": clock.start_of(date_to + dt.timedelta(days=1)),
        "kind": kind,
        "open_states": list(OPEN_DISPATCH_STATES),
    }
    rows = db.session.execute(
        text(DEPARTMENT_MEASURES_SQL.format(scope=condition)), params
    ).mappings()
    return [measures_of(row) for row in rows]


def measures_of(row) -> dict:
    """One department's answer from its row (a missing count is 0)."""

    def n(name: str) -> int:
        return row[name] or 0

    return {
        "id": row["id"],
        "code": row["code"],
        "name": row["name"],
        "kind": row["kind"],
        "region": {"code": row["region_code"], "name": row["region_name"]},
        "open": n("open"),
        "measures": {
            "on_time_signing": ratio(n("sign_num"), n("sign_den")),
            "on_time_report": ratio(n("report_num"), n("report_den")),
            "return_rate": ratio(n("return_num"), n("return_den")),
            "redo_rate": ratio(n("redo_num"), n("redo_den")),
            "satisfaction": {
                **ratio(n("satisfied") + n("basically_satisfied"), n("total")),
                "satisfied": n("satisfied"),
                "basically_satisfied": n("basically_satisfied"),
                "dissatisfied": n("dissatisfied"),
            },
        },
    }
