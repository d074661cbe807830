"""Reads of warnings, scoped like everything else (app/scoping.py), and the rules.

`counts(region_id, start, end)` is the briefing's number of warnings raised, acknowledged and
handled by kind in a region and period.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy import text

from app.cases.models import Case
from app.core import clock
from app.core import paging
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.extensions import db
from app.geo.models import Region
from app.scoping import Scope
from app.scoping import region_prefix
from app.scoping import scope_for
from app.warnings import rules
from app.warnings.models import KINDS
from app.warnings.models import EarlyWarning
from app.warnings.models import WarningRule


def visible(warning_id: int, user) -> EarlyWarning:
    """One warning in the caller's scope; outside it answers like a missing one (404)."""
    warning = db.session.scalar(
        select(EarlyWarning).where(
            EarlyWarning.id == warning_id, scope_for(user).clause(EarlyWarning.region_code)
        )
    )
    if warning is None:
        raise NotFound(_("预警不存在"))
    return detail(warning)


def detail(warning: EarlyWarning) -> EarlyWarning:
    """The warning with its case numbers and map point, as its answer and the page show it."""
    point = to_shape(warning.geom)
    warning.lon, warning.lat = point.x, point.y
    numbers = dict(
        db.session.execute(select(Case.id, Case.number).where(Case.id.in_(warning.case_ids))).all()
    )
    warning.case_numbers = [numbers[i] for i in warning.case_ids if i in numbers]
    return warning


def region_code_prefix(code: str) -> str:
    """The code prefix of a region (12 digits) or grid cell (15 digits) filter."""
    if len(code) == 15:
        return code
    level = db.session.scalar(select(Region.level).where(Region.code == code))
    return region_prefix(code, level) if level else code


def filtered(args: dict, scope: Scope):
    """The warning query with the list's filters, in scope."""
    stmt = select(EarlyWarning).where(scope.clause(EarlyWarning.region_code))
    if args.get("kind"):
        stmt = stmt.where(EarlyWarning.kind == args["kind"])
    if args.get("state"):
        stmt = stmt.where(EarlyWarning.state == args["state"])
    if args.get("region"):
        prefix = region_code_prefix(args["region"])
        stmt = stmt.where(EarlyWarning.region_code.startswith(prefix, autoescape=True))
    return stmt


def list_page(args: dict, scope: Scope) -> dict:
    """Warnings newest first, by keyset pages (`after` = the last page's `next`)."""
    stmt = filtered(args, scope)
    if args.get("after"):
        _none, last_id = paging.decode_cursor(args["after"])
        stmt = stmt.where(EarlyWarning.id < last_id)
    limit = args["limit"]
    rows = db.session.scalars(stmt.order_by(EarlyWarning.id.desc()).limit(limit + 1)).all()
    items, following = paging.page(rows, limit, lambda w: (None, w.id))
    return {"items": [detail(w) for w in items], "next": following}


def geojson(args: dict, scope: Scope) -> str:
    """Live warnings (or those of `state`) as a FeatureCollection built by PostGIS."""
    condition, params = scope.sql("w")
    filters = ""
    if args.get("kind"):
        filters += " AND w.kind = :kind"
        params["kind"] = args["kind"]
    if args.get("state"):
        filters += " AND w.state = :state"
        params["state"] = args["state"]
    else:
        filters += " AND w.state IN ('open', 'acknowledged')"
    if args.get("region"):
        filters += " AND w.region_code LIKE :region || '%'"
        params["region"] = region_code_prefix(args["region"])
    select_sql = f"""
        SELECT w.id, w.kind, w.state, w.level, w.category, w.observed, w.expected,
               w.explanation, w.region_code, w.geom, w.first_seen_at
          FROM warnings w
         WHERE {condition}{filters}"""
    sql = feature_collection_sql(
        select_sql,
        feature_id="id",
        geometry="geom",
        properties={
            "id": "id",
            "kind": "kind",
            "state": "state",
            "level": "level",
            "category": "category",
            "observed": "observed",
            "expected": "round(expected::numeric, 2)",
            "explanation": "explanation",
            "region_code": "region_code",
            "first_seen_on": "(first_seen_at AT TIME ZONE 'Asia/Shanghai')::date",
        },
        order_by="id DESC",
    )
    return db.session.execute(text(sql), {**params, "limit": args["limit"]}).scalar_one()


COUNTS_SQL = """
SELECT w.kind,
       count(*) AS raised,
       count(*) FILTER (WHERE w.acknowledged_at IS NOT NULL) AS acknowledged,
       count(*) FILTER (WHERE w.handled_at IS NOT NULL) AS handled
  FROM warnings w
 WHERE w.region_code LIKE :prefix || '%'
   AND w.first_seen_at >= :start AND w.first_seen_at < :end
 GROUP BY w.kind
"""


def counts(region_id: int, start: dt.date, end: dt.date) -> dict:
    """Warnings first raised in [start, end] (Asia/Shanghai days) in a region's subtree, by kind:
    {kind: {"raised", "acknowledged", "handled"}} for every kind, plus "total"."""
    code, level = db.session.execute(
        select(Region.code, Region.level).where(Region.id == region_id)
    ).one()
    rows = db.session.execute(
        text(COUNTS_SQL),
        {
            "prefix": region_prefix(code, level),
            "start": clock.start_of(start),
            "end": clock.start_of(end + dt.timedelta(days=1)),
        },
    ).all()
    zero = {"raised": 0, "acknowledged": 0, "handled": 0}
    out = {kind: dict(zero) for kind in KINDS}
    for row in rows:
        out[row.kind] = {
            "raised": row.raised,
            "acknowledged": row.acknowledged,
            "handled": row.handled,
        }
    out["total"] = {k: sum(out[kind][k] for kind in KINDS) for k in zero}
    return out


def rule_rows() -> list[WarningRule]:
    """The rules in the kinds' order, each with its name."""
    found = {r.kind: r for r in db.session.scalars(select(WarningRule))}
    rows = [found[k] for k in KINDS if k in found]
    for row in rows:
        row.name = str(rules.KIND_NAMES[row.kind])
    return rows


def rule(kind: str) -> WarningRule:
    """One rule by kind (404 when there is none)."""
    row = db.session.scalar(select(WarningRule).where(WarningRule.kind == kind))
    if row is None:
        raise NotFound(_("预警规则不存在"))
    row.name = str(rules.KIND_NAMES[row.kind])
    return row
