"""Risks API: register, list, detail, actions, inspections, map layers, ledger export, settings."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import quote

from flask import Response
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import aliased

from app import exports
from app.attachments import services as attachments
from app.audit import services as audit
from app.deadlines.calendar import SHANGHAI
from app.errors import ApiError
from app.extensions import Blueprint
from app.extensions import db
from app.geo.crs import transform_coordinates
from app.geo.models import GridCell
from app.geo.models import Region
from app.geo.schemas import FeatureCollectionSchema
from app.policy import deny
from app.policy import requires
from app.risks import schemas
from app.risks import services
from app.risks.models import LEVEL_NAMES
from app.risks.models import LEVELS
from app.risks.models import STATUS_NAMES
from app.risks.models import InspectionSchedule
from app.risks.models import RiskCategory
from app.risks.models import RiskPoint
from app.scoping import current_scope
from app.scoping import scope_for

blp = Blueprint(
    "risks", __name__, url_prefix="/api/v1", description="风险隐患排查台账 (risk points)"
)

GEOJSON = "application/geo+json"
MAX_PHOTOS = 10
MAX_EXPORT_ROWS = 50_000


def risk_error(exc: services.RiskError) -> ApiError:
    """A RiskError in the standard error shape."""
    return ApiError(exc.status, exc.message, exc.errors)


def visible_point(point_id: int) -> RiskPoint:
    """The point if the caller may see it; 404 like a missing one otherwise (and audited)."""
    point = services.get_visible(point_id, current_user)
    if point is None:
        if db.session.get(RiskPoint, point_id) is not None:
            deny("risks.read", "risk_point", point_id, status=404, message="风险点不存在")
        raise ApiError(404, "风险点不存在")
    return point


def detail(point: RiskPoint) -> RiskPoint:
    """A point with all the caller may see attached: geometry, history, inspections, photos."""
    from app.cases import services as cases
    from app.cases.models import Case

    db.session.refresh(point)
    services.decorate([point])
    point.geometry = json.loads(
        db.session.scalar(
            select(func.ST_AsGeoJSON(RiskPoint.geom, 7)).where(RiskPoint.id == point.id)
        )
    )
    point.lon, point.lat = services.anchor(point)
    inspections = point.inspections
    photos = attachments.for_owners("inspection", [i.id for i in inspections])
    case_ids = [i.case_id for i in inspections if i.case_id]
    numbers = dict(
        db.session.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids))).all()
    )
    for inspection in inspections:
        inspection.photos = photos.get(inspection.id, [])
        inspection.case_number = numbers.get(inspection.case_id)
    point.cases = list(
        db.session.scalars(
            cases.visible(
                select(Case.number).where(Case.risk_point_id == point.id),
                scope_for(current_user),
                current_user.role,
            ).order_by(Case.id)
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
    point.allowed_actions = services.allowed_actions(point, current_user)
    return point


# --- register, read ------------------------------------------------------------------------------


@blp.route("/risk-points", methods=["POST"])
@requires("risks.register")
@blp.arguments(schemas.RiskPointIn)
@blp.response(201, schemas.RiskPointOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="该位置不在您的辖区内")
@blp.alt_response(422, response="DEFAULT_ERROR", description="数据有误、几何无效、跨村或不在网格内")
def create_risk_point(data):
    """Register a risk point at a GeoJSON Point or Polygon (`crs=gcj02` converts it first).

    PostGIS places it in its grid cell and village (a polygon by the cell holding most of its
    area) and refuses invalid, empty, out-of-China and village-crossing shapes.
    """
    geometry = data["geometry"]
    crs = data.pop("crs")
    if crs != "wgs84" and geometry["coordinates"]:
        geometry["coordinates"] = transform_coordinates(geometry["coordinates"], crs)
    try:
        point = services.register(data, current_user)
    except services.RiskError as exc:
        raise risk_error(exc) from None
    db.session.commit()
    return detail(point), {"Location": url_for("risks.get_risk_point", point_id=point.id)}


@blp.route("/risk-points/<int:point_id>")
@requires("risks.read")
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_risk_point(point_id: int):
    """One risk point: geometry, history (level and status changes), inspections and photos."""
    return detail(visible_point(point_id))


def encode_cursor(point: RiskPoint) -> str:
    """An opaque cursor after a row: its next_due and id."""
    due = point.next_due.isoformat() if point.next_due else ""
    return base64.urlsafe_b64encode(f"{due}|{point.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.date | None, int]:
    """The (next_due, id) a cursor points after."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, ident = raw.split("|")
        return (dt.date.fromisoformat(due) if due else None), int(ident)
    except ValueError:
        raise ApiError(
            400, "after 游标无效", {"query": {"after": ["请使用上一页返回的 next"]}}
        ) from None


def filtered(args: dict):
    """The risk point query with the list's filters, scoped to the caller."""
    stmt = services.visible(select(RiskPoint), current_scope(), current_user.role)
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
        prefix = code[: {"county": 6, "town": 9}.get(region.level, 12)] if region else code
        stmt = stmt.where(RiskPoint.region_code.startswith(prefix, autoescape=True))
    if args.get("grid_cell"):
        stmt = stmt.where(RiskPoint.region_code == args["grid_cell"])
    if args.get("overdue") is not None:
        today = services.today()
        if args["overdue"]:
            stmt = stmt.where(RiskPoint.status == "active", RiskPoint.next_due < today)
        else:
            stmt = stmt.where((RiskPoint.status != "active") | (RiskPoint.next_due >= today))
    return stmt


@blp.route("/risk-points")
@requires("risks.read")
@blp.arguments(schemas.RiskPointQuery, location="query")
@blp.response(200, schemas.RiskPointPage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_risk_points(args):
    """Risk points in the caller's scope, next inspection due first, by keyset pages (`after`).

    At most `limit` (default 50, cap 200) per page; `next` is the cursor of the following page.
    """
    stmt = filtered(args)
    if args.get("after"):
        due, ident = decode_cursor(args["after"])
        if due is None:
            stmt = stmt.where(RiskPoint.next_due.is_(None), RiskPoint.id > ident)
        else:
            stmt = stmt.where(
                (RiskPoint.next_due > due)
                | ((RiskPoint.next_due == due) & (RiskPoint.id > ident))
                | RiskPoint.next_due.is_(None)
            )
    limit = args["limit"]
    rows = db.session.scalars(
        stmt.order_by(RiskPoint.next_due.asc().nulls_last(), RiskPoint.id).limit(limit + 1)
    ).all()
    items = services.decorate(rows[:limit])
    return {"items": items, "next": encode_cursor(items[-1]) if len(rows) > limit else None}


# --- actions -------------------------------------------------------------------------------------


def act(point_id: int, schema, action):
    """Load the body, run the action on a visible point, commit, answer the point."""
    point = visible_point(point_id)
    try:
        data = schema().load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        raise ApiError(422, _("提交的数据有误"), {"json": exc.messages}) from None
    try:
        action(point, data)
    except services.RiskError as exc:
        raise risk_error(exc) from None
    db.session.commit()
    return detail(point)


def json_body(schema) -> dict:
    """OpenAPI requestBody for a JSON body these views load themselves (after the 404 check)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@blp.route("/risk-points/<int:point_id>/actions/change_level", methods=["POST"])
@requires("risks.register")
@blp.doc(**json_body(schemas.ChangeLevelIn))
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="风险点已消除")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由，或等级未变化")
def change_level(point_id: int):
    """Change the level (`level`, `reason` required); recorded in the history."""
    return act(
        point_id,
        schemas.ChangeLevelIn,
        lambda p, d: services.change_level(p, current_user, d["level"], d["reason"]),
    )


@blp.route("/risk-points/<int:point_id>/actions/request_clear", methods=["POST"])
@requires("risks.register")
@blp.doc(**json_body(schemas.RiskReasonIn))
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="已消除，或已有待审批的申请")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由")
def request_clear(point_id: int):
    """Ask an official to clear the point (`reason` required)."""
    return act(
        point_id,
        schemas.RiskReasonIn,
        lambda p, d: services.request_clear(p, current_user, d["reason"]),
    )


@blp.route("/risk-points/<int:point_id>/actions/approve_clear", methods=["POST"])
@requires("risks.approve")
@blp.doc(**json_body(schemas.ApproveClearIn))
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="申请人层级高于审批人")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="已消除，或没有待审批的申请")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由或 approved")
def approve_clear(point_id: int):
    """An official decides a request (`approved`, `reason`), or clears directly with a reason."""
    return act(
        point_id,
        schemas.ApproveClearIn,
        lambda p, d: services.approve_clear(p, current_user, d["approved"], d["reason"]),
    )


# --- inspections ---------------------------------------------------------------------------------


def inspection_input() -> tuple[dict, list[attachments.Upload]]:
    """The inspection's fields and checked photos, from JSON or multipart/form-data."""
    if request.mimetype == "multipart/form-data":
        unknown = set(request.files) - {"photos"}
        if unknown:
            raise ApiError(
                422, "只接受名为 photos 的文件字段", {"files": {k: ["未知字段"] for k in unknown}}
            )
        # Empty form fields are "not given"; the CSRF token is the security layer's.
        raw = {k: v for k, v in request.form.items() if v != "" and k != "csrf_token"}
        files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
    else:
        raw, files = request.get_json(silent=True) or {}, []
    try:
        data = schemas.InspectionIn().load(raw)
    except ValidationError as exc:
        raise ApiError(422, _("提交的数据有误"), {"json": exc.messages}) from None
    if len(files) > MAX_PHOTOS:
        raise ApiError(
            422,
            _("每次最多上传 %(n)s 张照片", n=MAX_PHOTOS),
            {"photos": [_("最多 %(n)s 个", n=MAX_PHOTOS)]},
        )
    uploads = []
    for file in files:
        try:
            uploads.append(attachments.read_upload(file))
        except attachments.AttachmentError as exc:
            raise ApiError(exc.status, exc.message, {"photos": [exc.message]}) from None
    return data, uploads


@blp.route("/risk-points/<int:point_id>/inspections", methods=["POST"])
@requires("risks.inspect")
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": schemas.InspectionIn},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "InspectionIn 的各字段（表单文本），另加 photos 文件",
                    "properties": {
                        "photos": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "JPEG、PNG 或 PDF，每个不超过 10 MB，最多 10 个",
                        }
                    },
                }
            },
        },
    }
)
@blp.response(201, schemas.InspectionResult)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="风险点已消除")
@blp.alt_response(413, response="DEFAULT_ERROR", description="照片超过 10 MB")
@blp.alt_response(422, response="DEFAULT_ERROR", description="数据有误，或照片不是 JPEG/PNG/PDF")
def record_inspection(point_id: int):
    """Record an inspection: JSON, or multipart/form-data with `photos` (JPEG, PNG or PDF,
    checked by content, 10 MB each, at most 10). With `open_case: true` an abnormal inspection
    also reports a case (kind, category, title, description) linked to the point."""
    point = visible_point(point_id)
    data, uploads = inspection_input()
    try:
        inspection, case = services.record_inspection(point, current_user, data, uploads)
    except services.RiskError as exc:
        raise risk_error(exc) from None
    db.session.commit()
    inspection.photos = attachments.for_owners("inspection", [inspection.id]).get(inspection.id, [])
    inspection.case_number = case.number if case else None
    db.session.refresh(point)
    return {
        "inspection": inspection,
        "case_number": inspection.case_number,
        "next_due": point.next_due,
        "overdue": services.is_overdue(point),
    }


# --- map layers: points, and the risk score per grid cell ----------------------------------------


@blp.route("/risk-points.geojson")
@requires("risks.read")
@blp.arguments(schemas.RiskGeoQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
@blp.alt_response(400, response="DEFAULT_ERROR")
def risk_points_geojson(args):
    """Risk points as GeoJSON, built in PostGIS, in the caller's scope, with no personal data.

    Key-population (restricted) points are shown at their grid cell's inner point, not at the
    household (`generalized: true`), and without a name.
    """
    condition, params = services.visibility_sql(current_scope(), current_user.role, alias="r")
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    body = db.session.execute(
        text(
            f"""
            WITH sel AS (
                SELECT r.id, r.code, k.name AS category, k.restricted, r.subcategory, r.level,
                       r.status, r.name, r.next_due, r.region_code,
                       CASE WHEN k.restricted THEN ST_PointOnSurface(g.geom) ELSE r.geom END
                           AS shape
                  FROM risk_points r
                  JOIN risk_categories k ON k.id = r.category_id
                  JOIN grid_cells g ON g.id = r.grid_cell_id
                 WHERE {condition}
                   AND (CAST(:minx AS float8) IS NULL
                        OR r.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
                   AND (CAST(:category AS text) IS NULL OR k.name = :category)
                   AND (CAST(:level AS text) IS NULL OR r.level = :level)
                   AND (:include_cleared OR r.status = 'active')
                 ORDER BY r.id
                 LIMIT :limit + 1)
            SELECT json_build_object(
                'type', 'FeatureCollection',
                'features', coalesce(json_agg(json_build_object(
                    'type', 'Feature',
                    'id', code,
                    'geometry', ST_AsGeoJSON(shape, 6)::json,
                    'properties', json_build_object(
                        'code', code, 'category', category, 'subcategory', subcategory,
                        'level', level, 'status', status,
                        'name', CASE WHEN restricted THEN NULL ELSE name END,
                        'next_due', next_due,
                        'overdue', status = 'active' AND next_due < :today,
                        'grid_cell', region_code, 'generalized', restricted))
                    ORDER BY id) FILTER (WHERE rn <= :limit), '[]'::json),
                'numberReturned', least(count(*), :limit),
                'truncated', count(*) > :limit)::text
              FROM (SELECT sel.*, row_number() OVER (ORDER BY id) AS rn FROM sel) s
            """
        ),
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
            "today": services.today(),
        },
    ).scalar_one()
    return Response(body, mimetype=GEOJSON)


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

RISK_MAP_SQL = """
WITH cells AS (
    SELECT g.id, g.code, g.name, g.geom, v.code AS village_code, v.name AS village_name
      FROM grid_cells g JOIN regions v ON v.id = g.village_id
     WHERE g.code LIKE :scope_prefix || '%'
       AND (v.valid_to IS NULL OR v.valid_to > current_date)
       AND (CAST(:village AS text) IS NULL OR v.code = :village)
       AND (CAST(:minx AS float8) IS NULL
            OR ST_Intersects(g.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)))
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
     WHERE c.state IN ('reported', 'accepted', 'in_progress') AND {case_visibility}
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
), scored AS (
    SELECT parts.*,
           :w_red_points * red_points + :w_orange_points * orange_points
             + :w_yellow_points * yellow_points + :w_blue_points * blue_points
             + :w_overdue_inspections * overdue_inspections AS points_score,
           :w_open_cases * open_cases + :w_open_petitions * open_petitions
             + :w_yellow_warnings * yellow_warnings + :w_red_warnings * red_warnings
             AS cases_score,
           row_number() OVER (ORDER BY code) AS rn
      FROM parts
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', code,
        'geometry', ST_AsGeoJSON(geom, 6)::json,
        'properties', json_build_object(
            'code', code, 'name', name, 'village_code', village_code,
            'village_name', village_name,
            'score', points_score + cases_score,
            'components', json_build_object(
                'red_points', red_points, 'orange_points', orange_points,
                'yellow_points', yellow_points, 'blue_points', blue_points,
                'overdue_inspections', overdue_inspections,
                'open_cases', open_cases, 'open_petitions', open_petitions,
                'yellow_warnings', yellow_warnings, 'red_warnings', red_warnings,
                'points_score', points_score, 'cases_score', cases_score)))
        ORDER BY code) FILTER (WHERE rn <= :limit), '[]'::json),
    'weights', CAST(:weights AS json),
    'numberReturned', least(count(*), :limit),
    'truncated', count(*) > :limit)::text
  FROM scored
"""


@blp.route("/grid-cells/risk")
@requires("risks.read")
@blp.arguments(schemas.RiskMapQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
@blp.alt_response(400, response="DEFAULT_ERROR")
def risk_map(args):
    """Grid cells in scope with their risk score and every component of it, built in SQL.

    score = 10·red + 5·orange + 2·yellow + 1·blue active points + 1·overdue inspection
          + 1·open case + 1.5·open petition + 1·yellow warning + 2·red warning (docs/risks.md).
    Only the points and cases the caller may see are counted.
    """
    from app.cases import services as cases

    scope = current_scope()
    risk_condition, risk_params = services.visibility_sql(scope, current_user.role, alias="r")
    case_condition, case_params = cases.visibility_sql(scope, current_user.role, alias="c")
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    sql = RISK_MAP_SQL.format(risk_visibility=risk_condition, case_visibility=case_condition)
    # Weights are bound as numeric so that 1.5 stays exact and integers stay integers.
    for name in SCORE_WEIGHTS:
        sql = sql.replace(f":w_{name}", f"CAST(:w_{name} AS numeric)")
    body = db.session.execute(
        text(sql),
        {
            **risk_params,
            **case_params,
            **{f"w_{name}": weight for name, weight in SCORE_WEIGHTS.items()},
            "weights": json.dumps(SCORE_WEIGHTS),
            "village": args.get("village"),
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "limit": args["limit"],
            "today": services.today(),
        },
    ).scalar_one()
    return Response(body, mimetype=GEOJSON)


# --- the ledger export (风险隐患排查台账) ----------------------------------------------

# (header, column width in characters; a CJK character counts about two)
COLUMNS = (
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
HEADERS = tuple(title for title, _ in COLUMNS)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"
BINARY = {"type": "string", "format": "binary"}


def ledger_rows(args: dict) -> list[tuple]:
    """The ledger's rows for the caller's filters, by code (at most MAX_EXPORT_ROWS)."""
    from app.accounts.models import User

    town, village = aliased(Region), aliased(Region)
    periods = services.schedule()
    today = services.today()
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
        .join(town, town.id == RiskPoint.town_id)
        .join(village, village.id == RiskPoint.village_id)
        .join(GridCell, GridCell.id == RiskPoint.grid_cell_id)
        .join(RiskCategory, RiskCategory.id == RiskPoint.category_id)
        .join(User, User.id == RiskPoint.responsible_id)
        .where(RiskPoint.id.in_(filtered(args).with_only_columns(RiskPoint.id)))
        .order_by(RiskPoint.code)
        .limit(MAX_EXPORT_ROWS + 1)
    )
    rows = db.session.execute(stmt).all()
    if len(rows) > MAX_EXPORT_ROWS:
        raise ApiError(
            400,
            f"符合条件的风险点超过 {MAX_EXPORT_ROWS} 条，无法一次导出：请缩小筛选范围后分批导出",
            {"max_rows": MAX_EXPORT_ROWS},
        )
    out = []
    for r in rows:
        category = r[4] + (f"（{r.subcategory}）" if r.subcategory else "")
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
                category,
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


def export(args: dict, fmt: str) -> Response:
    """Build, audit and answer one export of the ledger."""
    rows = ledger_rows(args)
    body = (
        exports.xlsx_bytes("风险隐患排查台账", COLUMNS, rows)
        if fmt == "xlsx"
        else exports.csv_bytes(HEADERS, rows)
    )
    audit.record(
        "risks.export",
        object_type="risk_points",
        region_code=args.get("grid_cell") or args.get("region") or current_user.region.code,
        detail={
            "format": fmt,
            "filters": {k: v for k, v in args.items() if v is not None},
            "rows": len(rows),
        },
    )
    db.session.commit()
    stamp = services.now().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    response = Response(
        body, mimetype=XLSX_MIMETYPE if fmt == "xlsx" else f"{CSV_MIMETYPE}; charset=utf-8"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="gridgov-risks-{stamp}.{fmt}"; '
        f"filename*=UTF-8''{quote(f'风险隐患排查台账-{stamp}.{fmt}')}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/risk-points/export.xlsx")
@requires("risks.export")
@blp.arguments(schemas.RiskExportQuery, location="query")
@blp.response(200, BINARY, content_type=XLSX_MIMETYPE, description="风险隐患排查台账（Excel）")
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 50000 条")
def export_xlsx(args):
    """The risk ledger (风险隐患排查台账) as Excel, with the list's filters; audited."""
    return export(args, "xlsx")


@blp.route("/risk-points/export.csv")
@requires("risks.export")
@blp.arguments(schemas.RiskExportQuery, location="query")
@blp.response(
    200, BINARY, content_type=CSV_MIMETYPE, description="风险隐患排查台账（CSV，UTF-8 带 BOM）"
)
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 50000 条")
def export_csv(args):
    """The risk ledger as CSV (UTF-8 with BOM), with the list's filters; audited."""
    return export(args, "csv")


# --- categories and the inspection schedule (data an admin changes) ------------------------------


@blp.route("/risk-categories")
@requires("risks.categories")
@blp.response(200, schemas.CategoryOut(many=True))
def list_categories():
    """Every risk category (active and inactive), in display order."""
    return db.session.scalars(
        select(RiskCategory).order_by(RiskCategory.sort_order, RiskCategory.id)
    ).all()


@blp.route("/risk-categories", methods=["POST"])
@requires("risks.manage")
@blp.arguments(schemas.CategoryIn)
@blp.response(201, schemas.CategoryOut)
@blp.alt_response(409, response="DEFAULT_ERROR", description="名称已存在")
@blp.alt_response(422, response="DEFAULT_ERROR")
def create_category(data):
    """Add a risk category."""
    try:
        category = services.create_category(data, current_user)
    except services.RiskError as exc:
        raise risk_error(exc) from None
    db.session.commit()
    return category


@blp.route("/risk-categories/<int:category_id>", methods=["PUT"])
@requires("risks.manage")
@blp.arguments(schemas.CategoryUpdate)
@blp.response(200, schemas.CategoryOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(
    409, response="DEFAULT_ERROR", description="名称已存在，或已有风险点时改动重点人群标记"
)
@blp.alt_response(422, response="DEFAULT_ERROR")
def update_category(data, category_id: int):
    """Rename, re-order, (de)activate a category or change its sub-categories."""
    category = db.session.get(RiskCategory, category_id)
    if category is None:
        raise ApiError(404, "风险类别不存在")
    try:
        services.update_category(category, data, current_user)
    except services.RiskError as exc:
        raise risk_error(exc) from None
    db.session.commit()
    return category


def schedule_rows() -> list[dict]:
    """The schedule in level order, with each level's Chinese name and source."""
    rows = {row.level: row for row in db.session.scalars(select(InspectionSchedule))}
    periods = services.schedule()
    return [
        {
            "level": level,
            "level_name": LEVEL_NAMES[level],
            "days": periods[level],
            "source": rows[level].source if level in rows else None,
        }
        for level in LEVELS
    ]


@blp.route("/inspection-schedule")
@requires("risks.manage")
@blp.response(200, schemas.ScheduleOut(many=True))
def get_schedule():
    """How often points of each level are inspected (days)."""
    return schedule_rows()


@blp.route("/inspection-schedule", methods=["PUT"])
@requires("risks.manage")
@blp.arguments(schemas.ScheduleIn)
@blp.response(200, schemas.ScheduleOut(many=True))
@blp.alt_response(422, response="DEFAULT_ERROR")
def put_schedule(data):
    """Change the period of any levels; active points' next due dates follow at once."""
    services.update_schedule(data, current_user)
    db.session.commit()
    return schedule_rows()
