"""The read side of risk points: what a caller may see, lists, the map layer, the ledger's rows.

Nothing here writes. This module imports nothing from app.cases: the cases package imports
`get_visible` to check a linked risk point, and that must not close an import cycle.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import aliased

from app import exports
from app.accounts.models import User
from app.attachments import services as attachments
from app.core import clock
from app.core import paging
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.extensions import db
from app.geo import placement
from app.geo.models import GridCell
from app.geo.models import Region
from app.policy import deny
from app.risks.models import LEVEL_NAMES
from app.risks.models import LEVELS
from app.risks.models import STATUS_NAMES
from app.risks.models import Inspection
from app.risks.models import InspectionSchedule
from app.risks.models import RiskCategory
from app.risks.models import RiskPoint
from app.scoping import Scope
from app.scoping import region_prefix
from app.scoping import scope_for

DEFAULT_SCHEDULE = {"red": 7, "orange": 14, "yellow": 30, "blue": 90}
# A grid worker sees the points of their cells, and the ones they registered or answer for.
OWN_COLUMNS = ("registered_by_id", "responsible_id")
MAX_EXPORT_ROWS = 50_000

# --- visibility ----------------------------------------------------------------------------------


def visible(stmt, scope: Scope):
    """Restrict a select of RiskPoint to what the scope may see (the one scoping rule)."""
    return stmt.where(
        scope.clause(
            RiskPoint.region_code,
            RiskPoint.grid_cell_id,
            tuple(getattr(RiskPoint, column) for column in OWN_COLUMNS),
        )
    )


def visibility_sql(scope: Scope, alias: str = "r") -> tuple[str, dict]:
    """The same rule as `visible`, as a SQL condition with parameters, for hand-written SQL."""
    return scope.sql(alias, cell="grid_cell_id", own=OWN_COLUMNS)


def get_visible(point_id: int, user) -> RiskPoint | None:
    """The risk point if the user may see it, else None (answered as 404)."""
    stmt = visible(select(RiskPoint).where(RiskPoint.id == point_id), scope_for(user))
    return db.session.scalar(stmt)


def visible_point(point_id: int, user) -> RiskPoint:
    """The point if the user may see it; 404 like a missing one otherwise (and audited)."""
    point = get_visible(point_id, user)
    if point is None:
        if db.session.get(RiskPoint, point_id) is not None:
            deny("risks.read", "risk_point", point_id, status=404, message="风险点不存在")
        raise NotFound("风险点不存在")
    return point


def point_id_of(ref: str) -> int:
    """The id of the point with this id or code (0 when there is none)."""
    if ref.isdigit():
        return int(ref)
    return db.session.scalar(select(RiskPoint.id).where(RiskPoint.code == ref)) or 0


def inspection_visible(inspection_id: int, user) -> bool:
    """Whether a user may see an inspection (and so its photos): they may see its point."""
    point_id = db.session.scalar(
        select(Inspection.risk_point_id).where(Inspection.id == inspection_id)
    )
    return point_id is not None and get_visible(point_id, user) is not None


attachments.register_owner("inspection", inspection_visible)


# --- the schedule and what answers show beside the columns ---------------------------------------


def schedule() -> dict[str, int]:
    """Inspection period in days by level (defaults for a level missing from the table)."""
    rows = db.session.execute(select(InspectionSchedule.level, InspectionSchedule.days)).all()
    return DEFAULT_SCHEDULE | dict(rows)


def schedule_rows() -> list[dict]:
    """The schedule in level order, with each level's Chinese name and source."""
    rows = {row.level: row for row in db.session.scalars(select(InspectionSchedule))}
    periods = schedule()
    return [
        {
            "level": level,
            "level_name": LEVEL_NAMES[level],
            "days": periods[level],
            "source": rows[level].source if level in rows else None,
        }
        for level in LEVELS
    ]


def categories() -> list[RiskCategory]:
    """Every risk category (active and inactive), in display order."""
    return db.session.scalars(
        select(RiskCategory).order_by(RiskCategory.sort_order, RiskCategory.id)
    ).all()


def category(category_id: int) -> RiskCategory:
    """A risk category; 404 when there is none."""
    found = db.session.get(RiskCategory, category_id)
    if found is None:
        raise NotFound(_("风险类别不存在"))
    return found


def is_overdue(point: RiskPoint, on: dt.date | None = None) -> bool:
    """An active point whose next inspection was due before `on` (today)."""
    on = on or clock.today()
    return point.status == "active" and point.next_due is not None and point.next_due < on


def decorate(points: list[RiskPoint]) -> list[RiskPoint]:
    """Attach what the output schemas show beside the columns: period, overdue, shape."""
    periods = schedule()
    on = clock.today()
    for point in points:
        point.inspection_days = periods[point.level]
        point.overdue = is_overdue(point, on)
        point.geometry_type = to_shape(point.geom).geom_type
    return points


ANCHOR_SQL = text(
    """
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
        SELECT CASE
                   WHEN GeometryType(r.geom) = 'POINT' THEN r.geom
                   WHEN ST_Intersects(ST_PointOnSurface(r.geom), c.geom)
                       THEN ST_PointOnSurface(r.geom)
                   -- the polygon's own point lies in another cell: take one in its own cell
                   ELSE ST_PointOnSurface(
                       ST_CollectionExtract(ST_Intersection(r.geom, c.geom), 3))
               END AS p
          FROM risk_points r JOIN grid_cells c ON c.id = r.grid_cell_id
         WHERE r.id = :id) s
    """
)


def anchor(point: RiskPoint) -> tuple[float, float]:
    """The point that stands for the risk point: itself, or a point on the polygon's surface
    (inside the point's own grid cell)."""
    row = db.session.execute(ANCHOR_SQL, {"id": point.id}).one()
    return row.lon, row.lat


# --- lists ---------------------------------------------------------------------------------------


def filtered(args: dict, scope: Scope):
    """The risk point query with the list's filters, scoped."""
    stmt = visible(select(RiskPoint), scope)
    if args.get("category"):
        stmt = stmt.where(
            RiskPoint.category_id.in_(
                select(RiskCategory.id).where(RiskCategory.name == args["category"])
            )
        )
    for name in ("level", "status"):
        if args.get(name):
            stmt = stmt.where(getattr(RiskPoint, name) == args[name])
    if args.get("region"):
        code = args["region"]
        region = db.session.scalar(select(Region).where(Region.code == code))
        prefix = region_prefix(code, region.level) if region else code
        stmt = stmt.where(RiskPoint.region_code.startswith(prefix, autoescape=True))
    if args.get("grid_cell"):
        stmt = stmt.where(RiskPoint.region_code == args["grid_cell"])
    if args.get("overdue") is not None:
        today = clock.today()
        if args["overdue"]:
            stmt = stmt.where(RiskPoint.status == "active", RiskPoint.next_due < today)
        else:
            stmt = stmt.where((RiskPoint.status != "active") | (RiskPoint.next_due >= today))
    return stmt


def list_page(args: dict, scope: Scope) -> dict:
    """One keyset page of the list, next inspection due first: {"items", "next"}."""
    limit = args["limit"]
    stmt = paging.nearest_due_first(
        filtered(args, scope), RiskPoint.next_due, RiskPoint.id, args.get("after"), limit
    )
    rows = db.session.scalars(stmt).all()
    items, after = paging.page(rows, limit, lambda p: (p.next_due, p.id))
    return {"items": decorate(items), "next": after}


# --- the map layer -------------------------------------------------------------------------------

POINTS_SELECT = """
    SELECT r.id, r.code, k.name AS category, k.restricted, r.subcategory, r.level,
           r.status, r.name, r.next_due, r.region_code,
           CASE WHEN k.restricted THEN ST_PointOnSurface(g.geom) ELSE r.geom END AS shape
      FROM risk_points r
      JOIN risk_categories k ON k.id = r.category_id
      JOIN grid_cells g ON g.id = r.grid_cell_id
     WHERE {visibility}
       AND (CAST(:minx AS float8) IS NULL
            OR r.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
       AND (CAST(:category AS text) IS NULL OR k.name = :category)
       AND (CAST(:level AS text) IS NULL OR r.level = :level)
       AND (:include_cleared OR r.status = 'active')
"""

POINTS_PROPERTIES = {
    "code": "code",
    "category": "category",
    "subcategory": "subcategory",
    "level": "level",
    "status": "status",
    "name": "CASE WHEN restricted THEN NULL ELSE name END",
    "next_due": "next_due",
    "overdue": "status = 'active' AND next_due < :today",
    "grid_cell": "region_code",
    "generalized": "restricted",
}


def points_geojson(args: dict, scope: Scope) -> str:
    """The map layer's FeatureCollection (text), built in PostGIS; no personal data.

    Key-population (restricted) points are drawn at their grid cell's inner point, unnamed.
    """
    condition, params = visibility_sql(scope, "r")
    sql = feature_collection_sql(
        POINTS_SELECT.format(visibility=condition),
        feature_id="code",
        geometry="shape",
        properties=POINTS_PROPERTIES,
        order_by="id",
    )
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    return db.session.execute(
        text(sql),
        {
            **params,
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "category": args.get("category"),
            "level": args.get("level"),
            "include_cleared": args["include_cleared"],
            "limit": args["limit"],
            "today": clock.today(),
        },
    ).scalar_one()


# --- the ledger (风险隐患排查台账) -----------------------------------------------------------

# (header, column width in characters; a CJK character counts about two)
LEDGER_COLUMNS = (
    ("编号", 18),
    ("所属乡镇", 12),
    ("所属村", 12),
    ("网格", 16),
    ("类别", 16),
    ("等级", 12),
    ("风险描述", 40),
    ("管控措施", 40),
    ("责任人", 16),
    ("排查周期", 10),
    ("最近排查", 12),
    ("下次排查", 12),
    ("状态", 12),
)


def ledger_rows(args: dict, scope: Scope) -> list[tuple]:
    """The ledger's rows for the filters, by code (at most MAX_EXPORT_ROWS, else 400)."""
    town, village = aliased(Region), aliased(Region)
    periods = schedule()
    today = clock.today()
    stmt = (
        select(
            RiskPoint.code,
            town.name,
            village.name,
            GridCell.name,
            RiskCategory.name,
            RiskCategory.restricted,
            RiskPoint.subcategory,
            RiskPoint.level,
            RiskPoint.name,
            RiskPoint.description,
            RiskPoint.measures,
            User.display_name,
            RiskPoint.last_inspected_on,
            RiskPoint.next_due,
            RiskPoint.status,
        )
        .join(RiskCategory, RiskCategory.id == RiskPoint.category_id)
        .join(User, User.id == RiskPoint.responsible_id)
    )
    stmt = placement.join_places(stmt, RiskPoint, town, village)
    rows = exports.capped_rows(
        stmt.where(
            RiskPoint.id.in_(filtered(args, scope).with_only_columns(RiskPoint.id))
        ).order_by(RiskPoint.code),
        MAX_EXPORT_ROWS,
        f"符合条件的风险点超过 {MAX_EXPORT_ROWS} 条，无法一次导出：请缩小筛选范围后分批导出",
    )
    out = []
    for r in rows:
        category_name = r[4] + (f"（{r.subcategory}）" if r.subcategory else "")
        # A key-population point has no description: its sub-category says what it is.
        described = r.subcategory if r.restricted else (r.description or r[8])
        status = STATUS_NAMES[r.status]
        if r.status == "active" and r.next_due and r.next_due < today:
            status += "（排查逾期）"
        out.append(
            (
                r.code,
                r[1],
                r[2],
                r[3],
                category_name,
                LEVEL_NAMES[r.level],
                described,
                r.measures,
                r.display_name,
                f"{periods[r.level]} 天",
                r.last_inspected_on,
                r.next_due,
                status,
            )
        )
    return out
