"""Visit reads, scoped: the list, one visit, its photos, and coverage per cell, village, town.

A grid worker sees the visits in their own cells and the ones they logged; everyone else the
visits in their jurisdiction's subtree (app/scoping.py). Coverage is one SQL statement with
GROUPING SETS over the cells in scope, so every cell shows, visited or not.
"""

from __future__ import annotations

import datetime as dt

from flask_login import current_user
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.attachments import services as attachments
from app.core import clock
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.policy import deny
from app.scoping import Scope
from app.scoping import scope_for
from app.visits.models import PURPOSE_NAMES
from app.visits.models import Visit

DEFAULT_COVERAGE_DAYS = 30
MAX_COVERAGE_DAYS = 366


def scoped(stmt, scope: Scope):
    """`stmt` (over Visit) kept to the scope: a grid worker's cells and own visits."""
    return stmt.where(
        scope.clause(Visit.region_code, Visit.grid_cell_id, own_columns=(Visit.logged_by_id,))
    )


def visit_visible(visit_id: int, user) -> bool:
    """Whether a user may see a visit (the owner check of its photos)."""
    stmt = scoped(select(Visit.id).where(Visit.id == visit_id), scope_for(user))
    return db.session.scalar(stmt) is not None


attachments.register_owner("visit", visit_visible)


def visible_visit(visit_id: int) -> Visit:
    """The visit if the caller may see it; 404 like a missing one otherwise (audited)."""
    visit = db.session.scalar(
        scoped(select(Visit).where(Visit.id == visit_id), scope_for(current_user))
    )
    if visit is None:
        if db.session.get(Visit, visit_id) is not None:
            deny("visits.read", "visit", visit_id, status=404, message="走访记录不存在")
        raise NotFound("走访记录不存在")
    return visit


def by_client_key(user_id: int, key: str) -> Visit | None:
    """The visit a user logged with this outbox key, if any."""
    return db.session.scalar(
        select(Visit).where(Visit.logged_by_id == user_id, Visit.client_key == key)
    )


def decorate(visits: list[Visit]) -> list[Visit]:
    """Attach what the answer shows beside the columns: places, names, point, photos."""
    if not visits:
        return visits
    ids = [v.id for v in visits]
    village, town = aliased(Region), aliased(Region)
    reviewer = aliased(User)
    rows = db.session.execute(
        select(
            Visit.id,
            func.ST_X(Visit.geom).label("lon"),
            func.ST_Y(Visit.geom).label("lat"),
            GridCell.code,
            GridCell.name,
            village.name.label("village"),
            town.name.label("town"),
            User.display_name.label("logged_by"),
            reviewer.display_name.label("reviewed_by"),
        )
        .join(GridCell, GridCell.id == Visit.grid_cell_id)
        .join(village, village.id == Visit.village_id)
        .join(town, town.id == Visit.town_id)
        .join(User, User.id == Visit.logged_by_id)
        .outerjoin(reviewer, reviewer.id == Visit.reviewed_by_id)
        .where(Visit.id.in_(ids))
    ).all()
    extra = {r.id: r for r in rows}
    photos = attachments.for_owners("visit", ids)
    for visit in visits:
        row = extra[visit.id]
        visit.lon, visit.lat = row.lon, row.lat
        visit.grid_cell, visit.grid_cell_name = row.code, row.name
        visit.village, visit.town = row.village, row.town
        visit.logged_by_name, visit.reviewed_by_name = row.logged_by, row.reviewed_by
        visit.purpose_name = PURPOSE_NAMES[visit.purpose]
        visit.photos = [
            {
                "id": a.id,
                "content_type": a.content_type,
                "size": a.size,
                "url": f"/api/v1/attachments/{a.id}",
            }
            for a in photos.get(visit.id, [])
        ]
    return visits


def list_page(args: dict, scope: Scope, user_id: int) -> dict:
    """Visits in scope, newest first (by id), keyset pages: `after` is the last id seen."""
    stmt = scoped(select(Visit), scope)
    if args.get("review_state"):
        stmt = stmt.where(Visit.review_state == args["review_state"])
    if args.get("mine"):
        stmt = stmt.where(Visit.logged_by_id == user_id)
    if args.get("after"):
        stmt = stmt.where(Visit.id < args["after"])
    limit = args.get("limit", 50)
    visits = db.session.scalars(stmt.order_by(Visit.id.desc()).limit(limit + 1)).all()
    more = len(visits) > limit
    visits = decorate(list(visits[:limit]))
    return {"items": visits, "next": visits[-1].id if more and visits else None}


# --- coverage -----------------------------------------------------------------------------------

COVERAGE_SQL = """
WITH cells AS (
    SELECT c.id, c.code, c.name, c.households,
           v.code AS village_code, v.name AS village_name,
           t.code AS town_code, t.name AS town_name
      FROM grid_cells c
      JOIN regions v ON v.id = c.village_id
      JOIN regions t ON t.id = v.parent_id
     WHERE (v.valid_to IS NULL OR v.valid_to > :today) AND {scope}
),
seen AS (
    SELECT c.town_code, c.town_name, c.village_code, c.village_name, c.code, c.name,
           count(*) FILTER (WHERE vi.visited_at >= :since) AS visits,
           count(DISTINCT vi.household_hash) FILTER (WHERE vi.visited_at >= :since)
               AS households_visited,
           max(vi.visited_at) AS last_at,
           GROUPING(c.village_code, c.code) AS g
      FROM cells c
      LEFT JOIN visits vi ON vi.grid_cell_id = c.id AND vi.visited_at < :until
     GROUP BY GROUPING SETS ((c.town_code, c.town_name),
                             (c.town_code, c.town_name, c.village_code, c.village_name),
                             (c.town_code, c.town_name, c.village_code, c.village_name,
                              c.code, c.name))
),
homes AS (
    SELECT c.town_code, c.village_code, c.code, sum(c.households) AS households,
           GROUPING(c.village_code, c.code) AS g
      FROM cells c
     GROUP BY GROUPING SETS ((c.town_code), (c.town_code, c.village_code),
                             (c.town_code, c.village_code, c.code))
)
SELECT CASE s.g WHEN 0 THEN 'cell' WHEN 1 THEN 'village' ELSE 'town' END AS level,
       CASE s.g WHEN 0 THEN s.code WHEN 1 THEN s.village_code ELSE s.town_code END AS code,
       CASE s.g WHEN 0 THEN s.name WHEN 1 THEN s.village_name ELSE s.town_name END AS name,
       CASE s.g WHEN 0 THEN s.village_name WHEN 1 THEN s.town_name END AS parent,
       s.visits, s.households_visited, h.households,
       :today - (s.last_at AT TIME ZONE 'Asia/Shanghai')::date AS days_since_last
  FROM seen s
  JOIN homes h ON h.g = s.g AND h.town_code = s.town_code
              AND h.village_code IS NOT DISTINCT FROM s.village_code
              AND h.code IS NOT DISTINCT FROM s.code
 ORDER BY 2
"""


def period(args: dict) -> tuple[dt.date, dt.date]:
    """(from, to), inclusive; the last 30 days up to today by default; 422 naming the field."""
    to = args.get("to") or clock.today()
    start = args.get("from_") or to - dt.timedelta(days=DEFAULT_COVERAGE_DAYS - 1)
    if start > to:
        raise Invalid("起始日期晚于截止日期", errors={"query": {"from": ["应不晚于 to"]}})
    if (to - start).days >= MAX_COVERAGE_DAYS:
        raise Invalid(
            "统计期间最长一年",
            errors={"query": {"from": [f"与 to 相隔不超过 {MAX_COVERAGE_DAYS} 天"]}},
        )
    return start, to


def coverage(args: dict, scope: Scope) -> dict:
    """Visits, households visited and days since the last visit, per cell, village and town."""
    start, to = period(args)
    condition, params = scope.sql("c", code="code", cell="id")
    rows = db.session.execute(
        text(COVERAGE_SQL.format(scope=condition)),
        {
            **params,
            "today": clock.today(),
            "since": clock.start_of(start),
            "until": clock.start_of(to + dt.timedelta(days=1)),
        },
    ).mappings()
    out = {"from_": start, "to": to, "cells": [], "villages": [], "towns": []}
    for row in rows:
        out[{"cell": "cells", "village": "villages", "town": "towns"}[row["level"]]].append(
            dict(row)
        )
    return out
