"""What a briefing counts: one provider per section, each answering a dict of numbers.

`SECTIONS` is the list the generator walks; each entry is (key, title, provider) and the
template reads a section's numbers as `{{ key.name }}`. A provider is called as
`provider(region, date_from, date_to, user)`. Sections other than the cases' and the risks'
(campaigns, warnings: app/campaigns/queries.py and app/warnings/queries.py export
`counts(region_id, start, end)`) are added with one line each, e.g.
`("campaigns", "专项排查", lambda region, start, end, user: campaign_queries.counts(region.id,
start, end))`; the document lists every extra section's numbers in a table of its own.

The case numbers are the measures of /api/v1/metrics (app/cases/measures.compute_metrics),
computed for the user who asked for the briefing, so the document and the API always agree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import text

from app.campaigns import queries as campaign_queries
from app.cases import measures
from app.cases import queries as case_queries
from app.core import clock
from app.extensions import db
from app.risks import queries as risk_queries
from app.scoping import region_prefix
from app.scoping import scope_for
from app.warnings import queries as warning_queries

# The rates a briefing states, in the order its measures table lists them: (key, name).
RATES = [
    ("village_retention", "小事不出村率"),
    ("town_retention", "大事不出镇率"),
    ("county_share", "矛盾上交率"),
    ("on_time_acceptance", "受理及时率"),
    ("on_time_resolution", "按期办结率"),
    ("success_rate", "化解成功率"),
    ("satisfaction", "满意率"),
]


def percent(ratio: dict) -> str:
    """A rate as the briefing writes it: 93.5%, or — when nothing was counted."""
    return "—" if ratio["rate"] is None else f"{ratio['rate'] * 100:.1f}%"


def metrics(region, date_from: dt.date, date_to: dt.date, user) -> dict:
    """The /api/v1/metrics answer's parts for the briefing: totals, breakdown, trend."""
    totals, breakdown, trend = measures.compute_metrics(region, date_from, date_to, None, user=user)
    return {"totals": totals, "breakdown": breakdown, "trend": trend}


def case_numbers(totals: dict) -> dict:
    """The case section's placeholders, from the measures' totals."""
    numbers = {key: percent(totals[key]) for key, _name in RATES}
    numbers |= {
        "reported": totals["county_share"]["denominator"],
        "disputes_resolved": totals["success_rate"]["denominator"],
        "agreements": totals["success_rate"]["numerator"],
        "follow_ups": totals["satisfaction"]["denominator"],
        "open": totals["backlog"]["open"],
        "overdue_acceptance": totals["backlog"]["overdue_acceptance"],
        "overdue_in_progress": totals["backlog"]["overdue_in_progress"],
    }
    return numbers


RISK_SQL = """
SELECT count(DISTINCT i.risk_point_id) AS inspected_points,
       count(*) AS inspections,
       count(*) FILTER (WHERE i.result = 'abnormal') AS abnormal
  FROM inspections i
  JOIN risk_points r ON r.id = i.risk_point_id
 WHERE {visibility}
   AND r.region_code LIKE :region_prefix || '%'
   AND i.inspected_on BETWEEN :date_from AND :date_to
"""


def risk_numbers(region, date_from: dt.date, date_to: dt.date, user) -> dict:
    """排查风险点: the risk points inspected in the period, the inspections, the abnormal ones."""
    visibility, params = risk_queries.visibility_sql(scope_for(user), "r")
    row = db.session.execute(
        text(RISK_SQL.format(visibility=visibility)),
        params
        | {
            "region_prefix": region_prefix(region.code, region.level),
            "date_from": date_from,
            "date_to": date_to,
        },
    ).one()
    return dict(row._mapping)


Provider = Callable[[object, dt.date, dt.date, object], dict]


# (key, title, provider): "cases" is filled from the measures the generator computes once.
def campaign_numbers(region, date_from: dt.date, date_to: dt.date, _user) -> dict:
    """专项排查 over the region or inside it (app/campaigns/queries.counts), findings flattened."""
    counts = campaign_queries.counts(region.id, date_from, date_to)
    findings = counts.pop("findings")
    return counts | {f"findings_{result}": n for result, n in findings.items()}


def warning_numbers(region, date_from: dt.date, date_to: dt.date, _user) -> dict:
    """研判预警 raised, acknowledged and handled (app/warnings/queries.counts): the totals, and
    each kind's as `<kind>_<count>`."""
    counts = warning_queries.counts(region.id, date_from, date_to)
    total = counts.pop("total")
    return total | {f"{kind}_{k}": n for kind, row in counts.items() for k, n in row.items()}


SECTIONS: list[tuple[str, str, Provider]] = [
    ("risks", "风险隐患排查", risk_numbers),
    ("campaigns", "专项排查", campaign_numbers),
    ("warnings", "研判预警", warning_numbers),
]
BUILT_IN = {"cases", "risks"}


def context(region, date_from: dt.date, date_to: dt.date, user, measured: dict) -> dict:
    """Every placeholder of the template, for a region and period."""
    values = {
        "region": region.name,
        "region_code": region.code,
        "date_from": f"{date_from.year}年{date_from.month}月{date_from.day}日",
        "date_to": f"{date_to.year}年{date_to.month}月{date_to.day}日",
        "today": clock.today().isoformat(),
        "cases": case_numbers(measured["totals"]),
    }
    for key, _title, provider in SECTIONS:
        values[key] = provider(region, date_from, date_to, user)
    return values


def sample_context() -> dict:
    """Placeholders with made-up values, to check a template before it is saved."""
    zero = {"numerator": 0, "denominator": 0, "rate": None}
    totals = {key: zero for key, _name in RATES}
    totals["backlog"] = {"open": 0, "overdue_acceptance": 0, "overdue_in_progress": 0}
    values = {
        "region": "示范县",
        "region_code": "371699000000",
        "date_from": "2026年1月1日",
        "date_to": "2026年3月31日",
        "today": "2026-04-01",
        "cases": case_numbers(totals),
        "risks": {"inspected_points": 0, "inspections": 0, "abnormal": 0},
    }
    for key, _title, _provider in SECTIONS:
        values.setdefault(key, defaultdict(int))  # a section added later: any name is 0
    return values


CATEGORY_SQL = """
SELECT c.category, count(*) AS n
  FROM cases c
 WHERE {visibility}
   AND c.region_code LIKE :region_prefix || '%'
   AND c.review_stage = 'none'
   AND c.reported_at >= :period_start AND c.reported_at < :period_end
 GROUP BY 1
 ORDER BY 2 DESC, 1
 LIMIT 10
"""


def category_counts(region, date_from: dt.date, date_to: dt.date, user) -> list[tuple[str, int]]:
    """The period's ten most reported categories (the categories chart)."""
    visibility, params = case_queries.scope_sql(scope_for(user), "c")
    rows = db.session.execute(
        text(CATEGORY_SQL.format(visibility=visibility)),
        params
        | {
            "region_prefix": region_prefix(region.code, region.level),
            "period_start": clock.start_of(date_from),
            "period_end": clock.start_of(date_to + dt.timedelta(days=1)),
        },
    ).all()
    return [(row.category, row.n) for row in rows]
