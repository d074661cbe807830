"""Risk point operations: register, change level, clear, inspect, sweep; scoping and placement.

Services flush; the caller (a request or a command) commits. PostGIS does the spatial work:
validity, the China extent, the village crossing test and the majority grid cell.

Messages the pages show are translated (gettext, in the request's language; Chinese outside a
request); `gettext(NAME)` translates a domain name that app/web/labels.py marks for translation.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from flask_babel import gettext
from flask_babel import gettext as _
from geoalchemy2.shape import to_shape
from sqlalchemy import exc as sa_exc
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.attachments import services as attachments
from app.audit import services as audit
from app.deadlines.calendar import SHANGHAI
from app.extensions import db
from app.geo import services as geo
from app.geo.models import GridCell
from app.risks.models import LEVEL_NAMES
from app.risks.models import STATUS_NAMES
from app.risks.models import Inspection
from app.risks.models import InspectionSchedule
from app.risks.models import RiskCategory
from app.risks.models import RiskEvent
from app.risks.models import RiskPoint
from app.scoping import Scope
from app.scoping import scope_for

# Mainland China's extent (73–136°E, 3–54°N), as geography applies it to imports and locate.
CHINA_EXTENT = geo.CHINA_EXTENT
# A polygon lies in a village (or cell) when they share more than 1% of its area and more
# than 1 m² (for a polygon under 2 m², more than half of it). Boundaries never match exactly
# (cells are cut in a metric projection, villages digitised separately): slivers along a
# border are not crossings.
OVERLAP_TOLERANCE_M2 = 1.0
OVERLAP_SHARE = 0.01
REGION_RANK = {"village": 0, "town": 1, "county": 2}
REGION_LEVEL_NAMES = {"village": "村级", "town": "镇级", "county": "县级"}
DEFAULT_SCHEDULE = {"red": 7, "orange": 14, "yellow": 30, "blue": 90}
FIELD_ROLES = ("grid_worker", "mediator", "official")


class RiskError(Exception):
    """A request about a risk point that cannot be done: status, message, and field errors."""

    def __init__(self, status: int, message: str, errors: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def now() -> dt.datetime:
    """The current instant (UTC)."""
    return dt.datetime.now(dt.UTC)


# --- versions (optimistic concurrency for the pages' forms) --------------------------------------

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def version_of(row: RiskPoint | RiskCategory) -> str:
    """The version a form carries: the row's updated_at, in microseconds since 1970.

    Risk points and categories have no version column; every service that changes one sets
    updated_at (a schedule change too, as it re-plans points; the sweep's overdue mark does not:
    it is derived), so it serves as the version.
    """
    return str((row.updated_at - EPOCH) // dt.timedelta(microseconds=1))


def check_version(row: RiskPoint | RiskCategory, version: str, stale: str) -> None:
    """Lock the row, then refuse (409, nothing written) a version that is not its current one.

    The lock holds until the request commits, so two forms sent at once cannot both pass.
    """
    db.session.refresh(row, with_for_update=True)
    current = version_of(row)
    if version != current:
        raise RiskError(409, stale, {"version": {"yours": version, "current": current}})


def today() -> dt.date:
    """Today in Asia/Shanghai (tests monkeypatch this to move the clock)."""
    return dt.datetime.now(SHANGHAI).date()


def shanghai_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of an instant."""
    return moment.astimezone(SHANGHAI).date()


# --- visibility ----------------------------------------------------------------------------------


def visible(stmt, scope: Scope, role: str):
    """Restrict a select of RiskPoint to what a user may see (the one scoping rule for points).

    Everyone: points whose grid cell lies in their region subtree. Grid workers, as for cases:
    of those, the points in their own cells, the ones they registered and the ones they are
    responsible for.
    """
    stmt = stmt.where(scope.clause(RiskPoint.region_code))
    if role == "grid_worker":
        cells = list(scope.grid_cell_ids or ())
        stmt = stmt.where(
            RiskPoint.grid_cell_id.in_(cells)
            | (RiskPoint.registered_by_id == scope.user_id)
            | (RiskPoint.responsible_id == scope.user_id)
        )
    return stmt


def visibility_sql(scope: Scope, role: str, alias: str = "r") -> tuple[str, dict]:
    """The same rule as `visible`, as a SQL condition with parameters, for hand-written SQL.

    The parameter names match app.cases.services.visibility_sql's, so both can share a query.
    """
    condition = f"{alias}.region_code LIKE :scope_prefix || '%'"
    params = {"scope_prefix": scope.prefix}
    if role == "grid_worker":
        condition += (
            f" AND ({alias}.grid_cell_id = ANY(:scope_cells) OR {alias}.registered_by_id ="
            f" :scope_user OR {alias}.responsible_id = :scope_user)"
        )
        params |= {"scope_cells": list(scope.grid_cell_ids or ()), "scope_user": scope.user_id}
    return condition, params


def get_visible(point_id: int, user) -> RiskPoint | None:
    """The risk point if the user may see it, else None (answered as 404)."""
    stmt = visible(select(RiskPoint).where(RiskPoint.id == point_id), scope_for(user), user.role)
    return db.session.scalar(stmt)


def inspection_visible(inspection_id: int, user) -> bool:
    """Whether a user may see an inspection (and so its photos): they may see its point."""
    point_id = db.session.scalar(
        select(Inspection.risk_point_id).where(Inspection.id == inspection_id)
    )
    return point_id is not None and get_visible(point_id, user) is not None


attachments.register_owner("inspection", inspection_visible)


# --- categories and the schedule (data an admin changes) -----------------------------------------


def name_taken(name: str, except_id: int | None = None) -> bool:
    """Whether another category has this name."""
    stmt = select(RiskCategory.id).where(RiskCategory.name == name)
    if except_id is not None:
        stmt = stmt.where(RiskCategory.id != except_id)
    return db.session.scalar(stmt) is not None


def name_conflict(name: str) -> RiskError:
    """409: the category name is taken."""
    message = _("风险类别“%(name)s”已存在", name=name)
    return RiskError(409, message, {"json": {"name": [message]}})


def create_category(data: dict, user) -> RiskCategory:
    """Add a risk category (data as CategoryIn loads it); 409 when the name is taken."""
    if name_taken(data["name"]):
        raise name_conflict(data["name"])
    category = RiskCategory(**data, updated_at=now())
    db.session.add(category)
    db.session.flush()
    audit.record(
        "risks.category_create",
        actor=user,
        object_type="risk_category",
        object_id=category.id,
        detail=data,
    )
    return category


def update_category(
    category: RiskCategory, data: dict, user, *, version: str | None = None
) -> RiskCategory:
    """Rename, re-order, (de)activate a category or change its sub-categories (CategoryUpdate).

    409 for a taken name, for changing `restricted` once points use the category, and (pages
    send the `version` they showed) for a category changed by someone else meanwhile.
    """
    if version is not None:
        check_version(category, version, _("该风险类别已被他人修改，您的修改没有保存"))
    if data.get("name") and name_taken(data["name"], category.id):
        raise name_conflict(data["name"])
    if "restricted" in data and data["restricted"] != category.restricted:
        used = db.session.scalar(
            select(func.count()).select_from(RiskPoint).where(RiskPoint.category_id == category.id)
        )
        if used:
            # Existing points were registered under the other rule (with or without free text).
            message = _("该类别已有 %(n)s 个风险点，不能改动重点人群标记", n=used)
            raise RiskError(409, message, {"json": {"restricted": [message]}})
    before = {k: getattr(category, k) for k in data}
    for key, value in data.items():
        setattr(category, key, value)
    category.updated_at = now()
    audit.record(
        "risks.category_update",
        actor=user,
        object_type="risk_category",
        object_id=category.id,
        detail={"before": before, "after": data},
    )
    db.session.flush()
    return category


def category_named(name: str) -> RiskCategory | None:
    """The active category with this name."""
    return db.session.scalar(
        select(RiskCategory).where(RiskCategory.name == name, RiskCategory.active)
    )


def schedule() -> dict[str, int]:
    """Inspection period in days by level (defaults for a level missing from the table)."""
    rows = db.session.execute(select(InspectionSchedule.level, InspectionSchedule.days)).all()
    return DEFAULT_SCHEDULE | dict(rows)


def due_after(point: RiskPoint, periods: dict[str, int] | None = None) -> dt.date:
    """Last inspection (or, never inspected, registration) + the level's period."""
    periods = periods or schedule()
    start = point.last_inspected_on or shanghai_date(point.registered_at)
    return start + dt.timedelta(days=periods[point.level])


def is_overdue(point: RiskPoint, on: dt.date | None = None) -> bool:
    """An active point whose next inspection was due before `on` (today)."""
    on = on or today()
    return point.status == "active" and point.next_due is not None and point.next_due < on


def refresh_due(point: RiskPoint, periods: dict[str, int] | None = None) -> None:
    """Recompute next_due; an inspection no longer overdue loses the sweep's mark."""
    point.next_due = due_after(point, periods)
    if point.next_due >= today():
        point.overdue_since = None


def update_schedule(changes: dict[str, int], user) -> dict[str, int]:
    """Change periods; the next due date of every active point of those levels follows."""
    for level, days in changes.items():
        row = db.session.get(InspectionSchedule, level) or InspectionSchedule(level=level)
        before = row.days
        row.days, row.updated_at = days, now()
        db.session.add(row)
        db.session.flush()
        db.session.execute(
            text(
                """
                UPDATE risk_points
                   SET next_due = coalesce(last_inspected_on,
                                           CAST(registered_at AT TIME ZONE 'Asia/Shanghai' AS date))
                                  + :days,
                       updated_at = now()
                 WHERE status = 'active' AND level = :level
                """
            ),
            {"days": days, "level": level},
        )
        db.session.execute(
            text(
                """
                UPDATE risk_points SET overdue_since = NULL
                 WHERE level = :level AND overdue_since IS NOT NULL AND next_due >= :today
                """
            ),
            {"level": level, "today": today()},
        )
        audit.record(
            "risks.schedule",
            actor=user,
            object_type="inspection_schedule",
            object_id=level,
            detail={"before": before, "after": days},
        )
    db.session.flush()
    db.session.expire_all()
    return schedule()


# --- placement -----------------------------------------------------------------------------------

CHECK_SQL = text(
    """
    WITH g AS (SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(:geojson), 4326)) AS geom),
    c AS (SELECT geom, ST_IsEmpty(geom) AS empty, ST_IsValid(geom) AS valid FROM g)
    SELECT GeometryType(geom) AS type, empty, valid, ST_IsValidReason(geom) AS reason,
           -- GEOS may throw on invalid input: the rest only for valid, non-empty shapes
           CASE WHEN valid AND NOT empty THEN
               ST_CoveredBy(geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)) END
               AS in_china,
           CASE WHEN valid AND NOT empty THEN ST_X(ST_PointOnSurface(geom)) END AS lon,
           CASE WHEN valid AND NOT empty THEN ST_Y(ST_PointOnSurface(geom)) END AS lat,
           CASE WHEN valid AND NOT empty THEN ST_Area(geom::geography) END AS area
      FROM c
    """
)

# The current villages a polygon overlaps, and the grid cell holding most of its area.
POLYGON_PLACEMENT_SQL = text(
    """
    WITH g AS (SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(:geojson), 4326)) AS geom),
    villages AS (
        SELECT v.code, v.name, ST_Area(ST_Intersection(v.boundary, g.geom)::geography) AS area
          FROM g JOIN regions v ON ST_Intersects(v.boundary, g.geom)
         WHERE v.level = 'village' AND (v.valid_to IS NULL OR v.valid_to > current_date)
    ),
    cells AS (
        SELECT c.code, ST_Area(ST_Intersection(c.geom, g.geom)::geography) AS area
          FROM g JOIN grid_cells c ON ST_Intersects(c.geom, g.geom)
          JOIN regions v ON v.id = c.village_id
         WHERE v.valid_to IS NULL OR v.valid_to > current_date
    )
    SELECT 'village' AS what, code, name, area FROM villages
     WHERE area > least(greatest(:tolerance, :share * :total), 0.5 * :total)
    UNION ALL
    (SELECT 'cell', code, NULL, area FROM cells
      WHERE area > least(greatest(:tolerance, :share * :total), 0.5 * :total)
      -- most of the area wins; an exact tie goes to the lowest code, like a point on a border
      ORDER BY area DESC, code
      LIMIT 1)
    """
)

VALIDITY_REASONS = {
    "Self-intersection": "边界自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points": "顶点过少",
    "Hole lies outside shell": "内环在外环之外",
    "Interior is disconnected": "内部不连通",
    "Nested holes": "内环嵌套",
    "Invalid Coordinate": "坐标无效",
}


def _reason_text(reason: str) -> str:
    """GEOS's reason with a Chinese gloss: 'Self-intersection[118.01 37.32]' → 边界自相交…."""
    for english, chinese in VALIDITY_REASONS.items():
        if reason.startswith(english):
            return f"{chinese}（{reason}）"
    return reason


@dataclass
class Placement:
    """Where a risk point lies, and its checked geometry as GeoJSON text."""

    cell: GridCell
    geojson: str
    lon: float
    lat: float


def geometry_refused(message: str, **errors) -> RiskError:
    """A 422 about the geometry field."""
    return RiskError(422, message, {"json": {"geometry": [message]}, **errors})


def place(geometry: dict, user) -> Placement:
    """Check a WGS84 Point or Polygon and find its grid cell; nothing is written.

    422: invalid (with PostGIS's reason), empty, outside China, across villages, or outside
    every cell (naming the nearest village); 403: outside the caller's jurisdiction.
    """
    geojson = json.dumps(geometry)
    minx, miny, maxx, maxy = CHINA_EXTENT
    params = {"geojson": geojson, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
    try:
        with db.session.begin_nested():
            row = db.session.execute(CHECK_SQL, params).one()
    except (sa_exc.DataError, sa_exc.InternalError):
        raise geometry_refused("几何对象无法解析，请检查 GeoJSON 坐标") from None
    if row.empty:
        raise geometry_refused("几何对象为空")
    if not row.valid:
        raise geometry_refused(f"多边形无效：{_reason_text(row.reason)}")
    if not row.in_china:
        raise geometry_refused("位置不在中国境内（经度 73–136°E，纬度 3–54°N）")
    scope = scope_for(user)
    if row.type == "POINT":
        found = geo.locate(row.lon, row.lat)
        cell_code = found["grid_cell"]["code"] if found else None
    else:
        hits = db.session.execute(
            POLYGON_PLACEMENT_SQL,
            {
                "geojson": geojson,
                "tolerance": OVERLAP_TOLERANCE_M2,
                "share": OVERLAP_SHARE,
                "total": row.area,
            },
        ).all()
        villages = sorted((h for h in hits if h.what == "village"), key=lambda h: h.code)
        if len(villages) > 1:
            # Name only the villages the caller may see: the rest are counted, not named.
            named = [f"{v.name}（{v.code}）" for v in villages if scope.contains(v.code)]
            message = f"风险点范围跨越 {len(villages)} 个村，请按村分别登记"
            if named:
                message += "：" + "、".join(named) + (" 等" if len(named) < len(villages) else "")
            raise geometry_refused(message)
        cells = [h for h in hits if h.what == "cell"]
        cell_code = cells[0].code if cells else None
    if cell_code is None:
        # Only villages of the caller's jurisdiction are ever named.
        nearest = geo.nearest_village(row.lon, row.lat, scope.prefix)
        hint = f"；最近的村是 {nearest['name']}（{nearest['code']}，约 {nearest['distance_m']} 米）"
        raise RiskError(
            422,
            "该位置不在任何网格内" + (hint if nearest else ""),
            {"json": {"geometry": ["该位置不在任何网格内"]}, "nearest_village": nearest},
        )
    if not scope.contains(cell_code):
        raise RiskError(403, "该位置不在您的辖区内：只能登记本辖区的风险点")
    cell = db.session.scalar(select(GridCell).where(GridCell.code == cell_code))
    return Placement(cell, geojson, row.lon, row.lat)


# --- registration --------------------------------------------------------------------------------


def responsible_for(responsible_id: int | None, cell: GridCell, user):
    """The responsible person (专人管控): an active field user the caller can see, whose
    jurisdiction holds the point. Defaults to the caller."""
    from app.accounts.models import User

    if responsible_id is None or responsible_id == user.id:
        return user
    person = db.session.get(User, responsible_id)
    problem = "责任人须为本辖区内在岗的网格员、调解员或干部，且其辖区包含该风险点"
    if (
        person is None
        or not person.active
        or person.role not in FIELD_ROLES
        or not scope_for(user).contains(person.region.code)
        or not scope_for(person).contains(cell.code)
    ):
        raise RiskError(422, problem, {"json": {"responsible_id": [problem]}})
    return person


def check_category(data: dict) -> RiskCategory:
    """The category exists and is active; key-population rules (个人信息保护法 第二十八条)."""
    category = category_named(data["category"])
    if category is None:
        names = db.session.scalars(
            select(RiskCategory.name)
            .where(RiskCategory.active)
            .order_by(RiskCategory.sort_order, RiskCategory.id)
        ).all()
        raise RiskError(
            422,
            "风险类别不存在或已停用",
            {"json": {"category": [f"类别应为以下之一：{', '.join(names)}"]}},
        )
    errors = {}
    sub = data.get("subcategory")
    if category.subcategories and sub not in category.subcategories:
        errors["subcategory"] = [f"{category.name}的子类应为：{', '.join(category.subcategories)}"]
    if category.restricted:
        for name in ("name", "description"):
            if data.get(name):
                errors[name] = [
                    f"{category.name}风险点不填{'名称' if name == 'name' else '描述'}：只记录子类、"
                    "管控措施和责任人，不得记录诊断、违法犯罪记录等敏感个人信息"
                    "（个人信息保护法 第二十八条）"
                ]
    elif not data.get("name"):
        errors["name"] = ["风险点名称必填"]
    if errors:
        raise RiskError(422, "风险点信息有误", {"json": errors})
    return category


def register(
    data: dict,
    user,
    *,
    code: str | None = None,
    registered_at: dt.datetime | None = None,
) -> RiskPoint:
    """Register a risk point (geometry already in WGS84); `code`/`registered_at` for imports."""
    category = check_category(data)
    placement = place(data["geometry"], user)
    responsible = responsible_for(data.get("responsible_id"), placement.cell, user)
    village = placement.cell.village
    town, county = village.parent, village.parent.parent
    point_id = db.session.scalar(
        text("SELECT nextval(pg_get_serial_sequence('risk_points', 'id'))")
    )
    moment = registered_at or now()
    point = RiskPoint(
        id=point_id,
        code=code or f"{county.code[:6]}-FX-{point_id:06d}",
        category=category,
        subcategory=data.get("subcategory"),
        level=data["level"],
        status="active",
        name=data.get("name") or f"{category.name}·{data.get('subcategory') or '重点关注'}",
        description=None if category.restricted else data.get("description"),
        measures=data["measures"],
        responsible=responsible,
        geom=text_geometry(placement.geojson),
        grid_cell=placement.cell,
        village=village,
        town=town,
        county=county,
        region_code=placement.cell.code,
        registered_at=moment,
        registered_by=user,
        created_at=moment,
        updated_at=moment,
    )
    point.next_due = due_after(point)
    db.session.add(point)
    db.session.flush()
    add_event(point, user, "register", None, point.level, None, "active", at=moment)
    audit.record(
        "risks.register",
        actor=user,
        object_type="risk_point",
        object_id=point.code,
        region_code=point.region_code,
        detail={"category": category.name, "level": point.level},
    )
    return point


def text_geometry(geojson: str):
    """A SQL expression making the geometry from checked GeoJSON (PostGIS parses, not Python).

    Heights are dropped: the column is 2D, and a phone's altitude means nothing here.
    """
    return func.ST_Force2D(func.ST_SetSRID(func.ST_GeomFromGeoJSON(geojson), 4326))


def add_event(
    point: RiskPoint,
    actor,
    action: str,
    from_level: str | None,
    to_level: str | None,
    from_status: str | None,
    to_status: str | None,
    reason: str | None = None,
    data: dict | None = None,
    at: dt.datetime | None = None,
) -> RiskEvent:
    """Append to the point's history."""
    event = RiskEvent(
        risk_point_id=point.id,
        actor=actor,
        action=action,
        from_level=from_level,
        to_level=to_level,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data={k: v for k, v in (data or {}).items() if v is not None},
        # The time of the change itself, not of the transaction (now() in SQL).
        at=at or now(),
    )
    db.session.add(event)
    return event


# --- level and status ----------------------------------------------------------------------------


def require_active(point: RiskPoint) -> None:
    """409 unless the point is still under control (在控)."""
    if point.status != "active":
        raise RiskError(
            409,
            _("风险点已%(status)s，不能再办理此操作", status=gettext(STATUS_NAMES[point.status])),
        )


def require_version(point: RiskPoint, version: str | None) -> None:
    """When a page sends the version it showed: 409 if the point changed since (nothing saved)."""
    if version is not None:
        check_version(point, version, _("该风险点已被他人修改，您的操作没有保存"))


def change_level(
    point: RiskPoint, user, level: str, reason: str, *, version: str | None = None
) -> RiskPoint:
    """Change the colour (with a reason); the next inspection is re-planned on the new period."""
    require_version(point, version)
    require_active(point)
    if level == point.level:
        raise RiskError(
            422,
            _("等级未变化"),
            {"json": {"level": [_("当前已是%(level)s", level=gettext(LEVEL_NAMES[level]))]}},
        )
    before = point.level
    point.level = level
    point.updated_at = now()
    refresh_due(point)
    add_event(point, user, "change_level", before, level, point.status, point.status, reason)
    audit.record(
        "risks.change_level",
        actor=user,
        object_type="risk_point",
        object_id=point.code,
        region_code=point.region_code,
        detail={"from": before, "to": level},
    )
    db.session.flush()
    return point


def request_clear(point: RiskPoint, user, reason: str, *, version: str | None = None) -> RiskPoint:
    """Ask for the point to be cleared (申请消除); an official decides."""
    require_version(point, version)
    require_active(point)
    if point.clear_requested_at is not None:
        raise RiskError(409, _("已有待审批的消除申请"))
    point.clear_requested_at = now()
    point.clear_requested_by = user
    point.clear_reason = reason
    point.updated_at = point.clear_requested_at
    add_event(point, user, "request_clear", point.level, point.level, "active", "active", reason)
    audit.record(
        "risks.request_clear",
        actor=user,
        object_type="risk_point",
        object_id=point.code,
        region_code=point.region_code,
    )
    db.session.flush()
    return point


def approve_clear(
    point: RiskPoint, user, approved: bool, reason: str, *, version: str | None = None
) -> RiskPoint:
    """An official approves or refuses a pending request, or clears the point directly.

    A request is decided by an official at the requester's level or higher (a village grid
    worker's by the village, town or county; a town mediator's by the town or county).
    """
    require_version(point, version)
    require_active(point)
    requester = point.clear_requested_by
    if requester is not None:
        needed = requester.region.level
        if REGION_RANK[user.region.level] < REGION_RANK[needed]:
            raise RiskError(
                403,
                _(
                    "该消除申请须由%(level)s或更高层级的干部审批",
                    level=gettext(REGION_LEVEL_NAMES[needed]),
                ),
            )
    elif not approved:
        raise RiskError(409, _("没有待审批的消除申请"))
    request_data = (
        {"requested_by": requester.display_name, "request_reason": point.clear_reason}
        if requester is not None
        else {"direct": True}
    )
    moment = now()
    point.clear_requested_at = point.clear_requested_by_id = point.clear_reason = None
    point.clear_requested_by = None
    point.updated_at = moment
    if approved:
        point.status = "cleared"
        point.cleared_at = moment
        point.next_due = None
        point.overdue_since = None
        action = "approve_clear" if requester is not None else "clear"
        add_event(
            point, user, action, point.level, point.level, "active", "cleared", reason, request_data
        )
    else:
        action = "refuse_clear"
        add_event(
            point, user, action, point.level, point.level, "active", "active", reason, request_data
        )
    audit.record(
        f"risks.{action}",
        actor=user,
        object_type="risk_point",
        object_id=point.code,
        region_code=point.region_code,
    )
    db.session.flush()
    return point


def allowed_actions(point: RiskPoint, user) -> list[str]:
    """The actions the user may take on the point now."""
    from app.policy import allows

    if point.status != "active":
        return []
    actions = []
    if allows(user.role, "risks.register"):
        actions.append("change_level")
        if point.clear_requested_at is None:
            actions.append("request_clear")
    if allows(user.role, "risks.approve"):
        requester = point.clear_requested_by
        if (
            requester is None
            or REGION_RANK[user.region.level] >= REGION_RANK[requester.region.level]
        ):
            actions.append("approve_clear")
    if allows(user.role, "risks.inspect"):
        actions.append("inspect")
    return actions


# --- inspections ---------------------------------------------------------------------------------

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


def record_inspection(
    point: RiskPoint, user, data: dict, uploads: list[attachments.Upload] = ()
) -> tuple[Inspection, object | None]:
    """Record an inspection with its photos; an abnormal one may open a linked case."""
    require_active(point)
    on = data.get("inspected_on") or today()
    if on > today():
        raise RiskError(
            422, _("排查日期不能晚于今天"), {"json": {"inspected_on": [_("不能晚于今天")]}}
        )
    if on < shanghai_date(point.registered_at):
        raise RiskError(
            422, _("排查日期不能早于登记日期"), {"json": {"inspected_on": [_("不能早于登记日期")]}}
        )
    inspection = Inspection(
        risk_point_id=point.id,
        inspected_on=on,
        inspector_id=user.id,
        result=data["result"],
        notes=data.get("notes"),
    )
    db.session.add(inspection)
    db.session.flush()
    for upload in uploads:
        attachments.store(upload, "inspection", inspection.id, user)
    if point.last_inspected_on is None or on > point.last_inspected_on:
        point.last_inspected_on = on
    point.updated_at = now()
    refresh_due(point)
    case = None
    if data.get("open_case"):
        case = open_case(point, user, data)
        inspection.case_id = case.id
    audit.record(
        "risks.inspect",
        actor=user,
        object_type="risk_point",
        object_id=point.code,
        region_code=point.region_code,
        detail={
            "inspection": inspection.id,
            "result": inspection.result,
            "photos": len(uploads),
            "case": case.number if case else None,
        },
    )
    db.session.flush()
    return inspection, case


def open_case(point: RiskPoint, user, data: dict):
    """Report a case at the risk point's location, linked to it (one step from an inspection)."""
    from app.cases import services as cases

    lon, lat = anchor(point)
    report = {
        "kind": data["kind"],
        "category": data["category"],
        "source": "grid_patrol",
        "complexity": data.get("complexity"),
        "title": data["title"],
        "description": data.get("description") or data["notes"],
        "lon": lon,
        "lat": lat,
        "parties": [],
        "group_visit": False,
        "risk_point_id": point.id,
        "note": f"风险点 {point.code} 排查异常，一并立案",
    }
    try:
        return cases.report(report, user)
    except cases.CaseError as exc:
        raise RiskError(exc.status, exc.message, exc.errors) from None


# --- the sweep -----------------------------------------------------------------------------------

MARK_OVERDUE_SQL = text(
    """
    WITH marked AS (
        UPDATE risk_points
           SET overdue_since = next_due + 1
         WHERE status = 'active' AND next_due < :on AND overdue_since IS NULL
        RETURNING id, level, next_due
    )
    INSERT INTO risk_events (risk_point_id, action, from_level, to_level, from_status, to_status,
                             reason, data)
    SELECT id, 'inspection_overdue', level, level, 'active', 'active',
           '排查逾期（应于 ' || to_char(next_due, 'YYYY-MM-DD') || ' 前排查）',
           jsonb_build_object('next_due', next_due)
      FROM marked
    RETURNING risk_point_id
    """
)

UNMARK_SQL = text(
    """
    UPDATE risk_points SET overdue_since = NULL
     WHERE overdue_since IS NOT NULL AND (status <> 'active' OR next_due >= :on)
    """
)


def sweep_inspections(on: dt.date | None = None) -> int:
    """Mark active points whose inspection is overdue (once, with a history entry); idempotent.

    Returns how many points were newly marked. Concurrent sweeps cannot mark a point twice: the
    UPDATE re-checks `overdue_since IS NULL` on the row it locks.
    """
    on = on or today()
    db.session.flush()
    db.session.execute(UNMARK_SQL, {"on": on})
    marked = len(db.session.execute(MARK_OVERDUE_SQL, {"on": on}).all())
    if marked:
        audit.record("risks.sweep", actor=False, detail={"on": on.isoformat(), "marked": marked})
    db.session.expire_all()
    return marked


# --- output helpers ------------------------------------------------------------------------------


def decorate(points: list[RiskPoint]) -> list[RiskPoint]:
    """Attach what the output schemas show beside the columns: period, overdue, shape."""
    periods = schedule()
    on = today()
    for point in points:
        point.inspection_days = periods[point.level]
        point.overdue = is_overdue(point, on)
        point.geometry_type = to_shape(point.geom).geom_type
    return points
