"""Risk point writes: register, change level, clear, inspect, sweep, categories, the schedule;
placement; and the read side that needs cases (the detail's linked cases, the risk map).

Services flush; the caller (the request boundary or a command) commits. PostGIS does the
spatial work: validity, the China extent, the village crossing test and the majority grid cell.
The read side without cases is app/risks/queries.py; the action table is app/risks/actions.py.

Messages the pages show are translated (gettext, in the request's language; Chinese outside a
request); `gettext(NAME)` translates a domain name that app/web/labels.py marks for translation.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from flask_babel import gettext
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.attachments import services as attachments
from app.audit import services as audit
from app.cases import services as cases
from app.cases.models import Case
from app.cases.workflow import OPEN_STATES
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.geojson import feature_collection_sql
from app.extensions import db
from app.geo import placement as geo_placement
from app.geo import services as geo
from app.geo.models import GridCell
from app.risks import queries
from app.risks.models import LEVEL_NAMES
from app.risks.models import STATUS_NAMES
from app.risks.models import Inspection
from app.risks.models import InspectionSchedule
from app.risks.models import RiskCategory
from app.risks.models import RiskEvent
from app.risks.models import RiskPoint
from app.risks.queries import anchor
from app.risks.queries import decorate
from app.risks.queries import is_overdue
from app.risks.queries import schedule
from app.scoping import Scope
from app.scoping import scope_for
from app.warnings import jobs as warning_jobs

__all__ = ["anchor", "decorate", "is_overdue", "schedule"]  # read helpers the writes use too

# Mainland China's extent (73–136°E, 3–54°N), as geography applies it to imports and locate.
CHINA_EXTENT = geo.CHINA_EXTENT
# A polygon lies in a village (or cell) when they share more than 1% of its area and more
# than 1 m² (for a polygon under 2 m², more than half of it). Boundaries never match exactly
# (cells are cut in a metric projection, villages digitised separately): slivers along a
# border are not crossings.
OVERLAP_TOLERANCE_M2 = 1.0
OVERLAP_SHARE = 0.01
REGION_RANK = {"village": 0, "town": 1, "county": 2, "prefecture": 3, "province": 4}
REGION_LEVEL_NAMES = {"village": "村级", "town": "镇级", "county": "县级"}
FIELD_ROLES = ("grid_worker", "mediator", "official")


# --- categories and the schedule (data an admin changes) -----------------------------------------


def name_taken(name: str, except_id: int | None = None) -> bool:
    """Whether another category has this name."""
    stmt = select(RiskCategory.id).where(RiskCategory.name == name)
    if except_id is not None:
        stmt = stmt.where(RiskCategory.id != except_id)
    return db.session.scalar(stmt) is not None


def name_conflict(name: str) -> Conflict:
    """409: the category name is taken."""
    message = _("风险类别“%(name)s”已存在", name=name)
    return Conflict(message, errors={"json": {"name": [message]}})


def create_category(data: dict, user) -> RiskCategory:
    """Add a risk category (data as CategoryIn loads it); 409 when the name is taken."""
    if name_taken(data["name"]):
        raise name_conflict(data["name"])
    category = RiskCategory(**data, updated_at=clock.now())
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


def update_category(category: RiskCategory, data: dict, user) -> RiskCategory:
    """Rename, re-order, (de)activate a category or change its sub-categories (CategoryUpdate).

    409 for a taken name and for changing `restricted` once points use the category. The
    version the caller saw is checked before (app/risks/actions.py, `check_version`); the
    version column refuses a change that went stale meanwhile at flush.
    """
    if data.get("name") and name_taken(data["name"], category.id):
        raise name_conflict(data["name"])
    if "restricted" in data and data["restricted"] != category.restricted:
        used = db.session.scalar(
            select(func.count()).select_from(RiskPoint).where(RiskPoint.category_id == category.id)
        )
        if used:
            # Existing points were registered under the other rule (with or without free text).
            message = _("该类别已有 %(n)s 个风险点，不能改动重点人群标记", n=used)
            raise Conflict(message, errors={"json": {"restricted": [message]}})
    before = {k: getattr(category, k) for k in data}
    for key, value in data.items():
        setattr(category, key, value)
    category.updated_at = clock.now()
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


def due_after(point: RiskPoint, periods: dict[str, int] | None = None) -> dt.date:
    """Last inspection (or, never inspected, registration) + the level's period."""
    periods = periods or schedule()
    start = point.last_inspected_on or clock.local_date(point.registered_at)
    return start + dt.timedelta(days=periods[point.level])


def refresh_due(point: RiskPoint, periods: dict[str, int] | None = None) -> None:
    """Recompute next_due; an inspection no longer overdue loses the sweep's mark."""
    point.next_due = due_after(point, periods)
    if point.next_due >= clock.today():
        point.overdue_since = None


def update_schedule(changes: dict[str, int], user) -> dict[str, int]:
    """Change periods; the next due date of every active point of those levels follows."""
    for level, days in changes.items():
        row = db.session.get(InspectionSchedule, level) or InspectionSchedule(level=level)
        before = row.days
        row.days, row.updated_at = days, clock.now()
        db.session.add(row)
        db.session.flush()
        db.session.execute(
            text(
                """
                UPDATE risk_points
                   SET next_due = coalesce(last_inspected_on,
                                           CAST(registered_at AT TIME ZONE 'Asia/Shanghai' AS date))
                                  + :days,
                       updated_at = now(),
                       version = version + 1
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
            {"level": level, "today": clock.today()},
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


OUTSIDE_SCOPE = "该位置不在您的辖区内：只能登记本辖区的风险点"


def geometry_refused(message: str) -> Invalid:
    """A 422 about the geometry field."""
    return Invalid(message, errors={"json": {"geometry": [message]}})


def place(geometry: dict, user) -> Placement:
    """Check a WGS84 Point or Polygon and find its grid cell; nothing is written.

    422: invalid (with PostGIS's reason), empty, outside China, across villages, or outside
    every cell (naming the nearest village of the caller's jurisdiction); 403: outside the
    caller's jurisdiction. A point is placed by the one rule (app.geo.placement); a polygon
    goes to the cell holding most of its area.
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
        found = geo_placement.place_point(
            row.lon, row.lat, scope, field="geometry", outside_scope=OUTSIDE_SCOPE
        )
        return Placement(found.cell, geojson, row.lon, row.lat)
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
    if not cells:
        raise geo_placement.outside_every_cell(row.lon, row.lat, scope, "geometry")
    if not scope.contains(cells[0].code):
        raise Forbidden(OUTSIDE_SCOPE)
    cell = db.session.scalar(select(GridCell).where(GridCell.code == cells[0].code))
    return Placement(cell, geojson, row.lon, row.lat)


# --- registration --------------------------------------------------------------------------------


def responsible_for(responsible_id: int | None, cell: GridCell, user):
    """The responsible person (专人管控): an active field user the caller can see, whose
    jurisdiction holds the point. Defaults to the caller."""
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
        raise Invalid(problem, errors={"json": {"responsible_id": [problem]}})
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
        raise Invalid(
            "风险类别不存在或已停用",
            errors={"json": {"category": [f"类别应为以下之一：{', '.join(names)}"]}},
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
        raise Invalid("风险点信息有误", errors={"json": errors})
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
    moment = registered_at or clock.now()
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
    audit_point(point, user, "register", {"category": category.name, "level": point.level})
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
        at=at or clock.now(),
    )
    db.session.add(event)
    return event


# --- level and status ----------------------------------------------------------------------------


def require_state(point: RiskPoint, states=frozenset({"active"})) -> None:
    """409 unless the point is in one of `states` (by default: still under control, 在控)."""
    if point.status not in states:
        raise Conflict(
            _("风险点已%(status)s，不能再办理此操作", status=gettext(STATUS_NAMES[point.status]))
        )


require_active = require_state


def change_level(point: RiskPoint, user, level: str, reason: str) -> RiskPoint:
    """Change the colour (with a reason); the next inspection is re-planned on the new period."""
    require_active(point)
    # Read before changing the row: a query's autoflush would write it twice (two versions).
    periods = schedule()
    if level == point.level:
        raise Invalid(
            _("等级未变化"),
            errors={"json": {"level": [_("当前已是%(level)s", level=gettext(LEVEL_NAMES[level]))]}},
        )
    before = point.level
    point.level = level
    point.updated_at = clock.now()
    refresh_due(point, periods)
    add_event(point, user, "change_level", before, level, point.status, point.status, reason)
    audit_point(point, user, "change_level", {"from": before, "to": level})
    return point


def audit_point(point: RiskPoint, user, action: str, detail: dict | None = None) -> None:
    """Audit `risks.<action>` on the point, and flush the change."""
    audit.record(
        f"risks.{action}",
        actor=user,
        object_type="risk_point",
        object_id=point.code,
        region_code=point.region_code,
        detail=detail,
    )
    db.session.flush()


def request_clear(point: RiskPoint, user, reason: str) -> RiskPoint:
    """Ask for the point to be cleared (申请消除); an official decides."""
    require_active(point)
    if point.clear_requested_at is not None:
        raise Conflict(_("已有待审批的消除申请"))
    point.clear_requested_at = clock.now()
    point.clear_requested_by = user
    point.clear_reason = reason
    point.updated_at = point.clear_requested_at
    add_event(point, user, "request_clear", point.level, point.level, "active", "active", reason)
    audit_point(point, user, "request_clear")
    return point


def approve_clear(point: RiskPoint, user, approved: bool, reason: str) -> RiskPoint:
    """An official approves or refuses a pending request, or clears the point directly.

    A request is decided by an official at the requester's level or higher (a village grid
    worker's by the village, town or county; a town mediator's by the town or county).
    """
    require_active(point)
    requester = point.clear_requested_by
    if requester is not None:
        if not may_decide(point, user):
            raise Forbidden(
                _(
                    "该消除申请须由%(level)s或更高层级的干部审批",
                    level=gettext(REGION_LEVEL_NAMES[requester.region.level]),
                )
            )
    elif not approved:
        raise Conflict(_("没有待审批的消除申请"))
    request_data = (
        {"requested_by": requester.display_name, "request_reason": point.clear_reason}
        if requester is not None
        else {"direct": True}
    )
    moment = clock.now()
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
    audit_point(point, user, action)
    return point


def may_decide(point: RiskPoint, user) -> bool:
    """Whether the user's level may decide the point's pending request (or there is none)."""
    requester = point.clear_requested_by
    return requester is None or (
        REGION_RANK[user.region.level] >= REGION_RANK[requester.region.level]
    )


# --- inspections ---------------------------------------------------------------------------------


def record_inspection(
    point: RiskPoint, user, data: dict, uploads: list[attachments.Upload] = ()
) -> tuple[Inspection, object | None]:
    """Record an inspection with its photos; an abnormal one may open a linked case."""
    require_active(point)
    periods = schedule()  # before changing the row (one UPDATE, one version)
    on = data.get("inspected_on") or clock.today()
    if on > clock.today():
        raise Invalid(
            _("排查日期不能晚于今天"), errors={"json": {"inspected_on": [_("不能晚于今天")]}}
        )
    if on < clock.local_date(point.registered_at):
        raise Invalid(
            _("排查日期不能早于登记日期"),
            errors={"json": {"inspected_on": [_("不能早于登记日期")]}},
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
    point.updated_at = clock.now()
    refresh_due(point, periods)
    warning_jobs.defer_risk_point_scan(point.id)  # 研判预警: abnormal streaks (app/warnings)
    case = None
    if data.get("open_case"):
        case = open_case(point, user, data)
        inspection.case_id = case.id
    audit_point(
        point,
        user,
        "inspect",
        {
            "inspection": inspection.id,
            "result": inspection.result,
            "photos": len(uploads),
            "case": case.number if case else None,
        },
    )
    return inspection, case


def open_case(point: RiskPoint, user, data: dict):
    """Report a case at the risk point's location, linked to it (one step from an inspection)."""
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
    return cases.report(report, user)


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
    on = on or clock.today()
    db.session.flush()
    db.session.execute(UNMARK_SQL, {"on": on})
    marked = len(db.session.execute(MARK_OVERDUE_SQL, {"on": on}).all())
    if marked:
        audit.record("risks.sweep", actor=False, detail={"on": on.isoformat(), "marked": marked})
    db.session.expire_all()
    return marked


# --- the read side that needs cases (app.risks.queries must not import app.cases) ----------------

# Who sees a case (the cases package's rule, through the shared Scope): as for risk points, a
# grid worker sees their cells' cases and the ones they reported.
CASE_OWN_COLUMNS = ("reporter_id",)


def generalized_point(point: RiskPoint) -> dict:
    """The GeoJSON Point that stands for a restricted point: its grid cell's inner point."""
    return json.loads(
        db.session.scalar(
            select(func.ST_AsGeoJSON(func.ST_PointOnSurface(GridCell.geom), 7)).where(
                GridCell.id == point.grid_cell_id
            )
        )
    )


def exact_location(point: RiskPoint, user, reason: str) -> dict:
    """The registered geometry of a point, for a role that needs the exact place (policy
    `risks.locate`); for a restricted (key-population) point the reveal is audited with its reason.
    """
    geometry = json.loads(
        db.session.scalar(
            select(func.ST_AsGeoJSON(RiskPoint.geom, 7)).where(RiskPoint.id == point.id)
        )
    )
    lon, lat = anchor(point)
    if point.category.restricted:
        audit.record(
            "risk_point.location_revealed",
            actor=user,
            object_type="risk_point",
            object_id=point.id,
            region_code=point.region_code,
            detail={"code": point.code, "reason": reason},
        )
    return {"geometry": geometry, "lon": lon, "lat": lat, "generalized": False}


def detail(point: RiskPoint, user) -> RiskPoint:
    """A point with all the user may see attached: geometry, history, inspections, photos,
    linked cases, the pending request and the actions the user may take now."""
    db.session.refresh(point)
    decorate([point])
    point.generalized = point.category.restricted
    if point.generalized:
        # A key-population point is shown at its grid cell's inner point, never at the household
        # (docs/risks.md); the exact place is `exact_location`, for the roles that need it, audited.
        point.geometry = generalized_point(point)
        point.lon, point.lat = point.geometry["coordinates"]
    else:
        point.geometry = json.loads(
            db.session.scalar(
                select(func.ST_AsGeoJSON(RiskPoint.geom, 7)).where(RiskPoint.id == point.id)
            )
        )
        point.lon, point.lat = anchor(point)
    inspections = point.inspections
    photos = attachments.for_owners("inspection", [i.id for i in inspections])
    case_ids = [i.case_id for i in inspections if i.case_id]
    numbers = dict(
        db.session.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids))).all()
    )
    for inspection in inspections:
        inspection.photos = photos.get(inspection.id, [])
        inspection.case_number = numbers.get(inspection.case_id)
    scope = scope_for(user)
    own = tuple(getattr(Case, column) for column in CASE_OWN_COLUMNS)
    point.cases = list(
        db.session.scalars(
            select(Case.number)
            .where(
                Case.risk_point_id == point.id,
                scope.clause(Case.region_code, Case.grid_cell_id, own),
            )
            .order_by(Case.id)
        )
    )
    point.clear_request = (
        {
            "at": point.clear_requested_at,
            "by": point.clear_requested_by.display_name,
            "reason": point.clear_reason,
        }
        if point.clear_requested_at
        else None
    )
    return point


def inspection_answer(inspection: Inspection, case, point: RiskPoint) -> dict:
    """What recording an inspection answers: the row with its photos, the case, the new plan."""
    inspection.photos = attachments.for_owners("inspection", [inspection.id]).get(inspection.id, [])
    inspection.case_number = case.number if case else None
    db.session.refresh(point)
    return {
        "inspection": inspection,
        "case_number": inspection.case_number,
        "next_due": point.next_due,
        "overdue": is_overdue(point),
    }


# The risk score of a grid cell (docs/risks.md): each active risk point by colour, each overdue
# inspection, each open case (a petition counts more) and each warning on an open case.
SCORE_WEIGHTS = {
    "red_points": 10,
    "orange_points": 5,
    "yellow_points": 2,
    "blue_points": 1,
    "overdue_inspections": 1,
    "open_cases": 1,
    "open_petitions": 1.5,
    "yellow_warnings": 1,
    "red_warnings": 2,
}
COMPONENTS = tuple(SCORE_WEIGHTS) + ("points_score", "cases_score")

RISK_MAP_SELECT = """
WITH cells AS (
    SELECT g.id, g.code, g.name, g.geom, v.code AS village_code, v.name AS village_name
      FROM grid_cells g JOIN regions v ON v.id = g.village_id
     WHERE {cell_visibility}
       AND (v.valid_to IS NULL OR v.valid_to > current_date)
       AND (CAST(:village AS text) IS NULL OR v.code = :village)
       AND (CAST(:minx AS float8) IS NULL
            OR ST_Intersects(g.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)))
     -- only the cells answered are scored
     ORDER BY g.code
     LIMIT :limit + 1
), points AS (
    SELECT r.grid_cell_id,
           count(*) FILTER (WHERE r.level = 'red') AS red_points,
           count(*) FILTER (WHERE r.level = 'orange') AS orange_points,
           count(*) FILTER (WHERE r.level = 'yellow') AS yellow_points,
           count(*) FILTER (WHERE r.level = 'blue') AS blue_points,
           count(*) FILTER (WHERE r.next_due < :today) AS overdue_inspections
      FROM risk_points r
     WHERE r.status = 'active' AND {risk_visibility}
       AND r.grid_cell_id IN (SELECT id FROM cells)
     GROUP BY r.grid_cell_id
), open_cases AS (
    SELECT c.grid_cell_id,
           count(*) FILTER (WHERE c.kind <> 'petition') AS open_cases,
           count(*) FILTER (WHERE c.kind = 'petition') AS open_petitions,
           count(*) FILTER (WHERE c.warning = 'yellow') AS yellow_warnings,
           count(*) FILTER (WHERE c.warning = 'red') AS red_warnings
      FROM cases c
     WHERE c.state = ANY(:open_states) AND {case_visibility}
       AND c.grid_cell_id IN (SELECT id FROM cells)
     GROUP BY c.grid_cell_id
), parts AS (
    SELECT cells.*,
           coalesce(p.red_points, 0) AS red_points,
           coalesce(p.orange_points, 0) AS orange_points,
           coalesce(p.yellow_points, 0) AS yellow_points,
           coalesce(p.blue_points, 0) AS blue_points,
           coalesce(p.overdue_inspections, 0) AS overdue_inspections,
           coalesce(o.open_cases, 0) AS open_cases,
           coalesce(o.open_petitions, 0) AS open_petitions,
           coalesce(o.yellow_warnings, 0) AS yellow_warnings,
           coalesce(o.red_warnings, 0) AS red_warnings
      FROM cells
      LEFT JOIN points p ON p.grid_cell_id = cells.id
      LEFT JOIN open_cases o ON o.grid_cell_id = cells.id
)
SELECT parts.*,
       :w_red_points * red_points + :w_orange_points * orange_points
         + :w_yellow_points * yellow_points + :w_blue_points * blue_points
         + :w_overdue_inspections * overdue_inspections AS points_score,
       :w_open_cases * open_cases + :w_open_petitions * open_petitions
         + :w_yellow_warnings * yellow_warnings + :w_red_warnings * red_warnings
         AS cases_score
  FROM parts
"""


def risk_map(args: dict, scope: Scope) -> str:
    """Grid cells in scope with their risk score and every component, as a FeatureCollection.

    Only the points and cases the scope may see are counted.
    """
    cell_condition, params = scope.sql("g", code="code")
    risk_condition, risk_params = queries.visibility_sql(scope, "r")
    case_condition, case_params = scope.sql("c", cell="grid_cell_id", own=CASE_OWN_COLUMNS)
    components = ", ".join(f"'{name}', {name}" for name in COMPONENTS)
    sql = feature_collection_sql(
        RISK_MAP_SELECT.format(
            cell_visibility=cell_condition,
            risk_visibility=risk_condition,
            case_visibility=case_condition,
        ),
        feature_id="code",
        geometry="geom",
        properties={
            "code": "code",
            "name": "name",
            "village_code": "village_code",
            "village_name": "village_name",
            "score": "points_score + cases_score",
            "components": f"json_build_object({components})",
        },
        order_by="code",
        members={"weights": "CAST(:weights AS json)"},
    )
    # Weights are bound as numeric so that 1.5 stays exact and integers stay integers.
    for name in SCORE_WEIGHTS:
        sql = sql.replace(f":w_{name}", f"CAST(:w_{name} AS numeric)")
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    return db.session.execute(
        text(sql),
        {
            **params,
            **risk_params,
            **case_params,
            **{f"w_{name}": weight for name, weight in SCORE_WEIGHTS.items()},
            "weights": json.dumps(SCORE_WEIGHTS),
            "open_states": sorted(OPEN_STATES),
            "village": args.get("village"),
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "limit": args["limit"],
            "today": clock.today(),
        },
    ).scalar_one()
