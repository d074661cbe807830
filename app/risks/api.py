"""Risks API: register, list, detail, actions, inspections, map layers, ledger export, settings.

A thin adapter: it parses the request, calls app.risks.queries (reads), app.risks.actions (the
action table, run through app.core.actions.run) or app.risks.services (writes), and answers.
The request boundary commits or rolls back (app/core/transaction.py).
"""

from __future__ import annotations

from flask import Response
from flask import jsonify
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import exports
from app.attachments import services as attachments
from app.audit import services as audit
from app.cases import idempotent
from app.core.actions import version_from
from app.core.errors import DomainError
from app.core.errors import Invalid
from app.extensions import Blueprint
from app.geo.crs import transform_coordinates
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.risks import actions
from app.risks import queries
from app.risks import schemas
from app.risks import services
from app.scoping import current_scope

blp = Blueprint(
    "risks", __name__, url_prefix="/api/v1", description="风险隐患排查台账 (risk points)"
)

GEOJSON = "application/geo+json"
MAX_PHOTOS = 10
BINARY = {"type": "string", "format": "binary"}


def answer(row, headers: dict | None = None):
    """A point's or category's answer, its version as the ETag (send it back in If-Match)."""
    return row, {"ETag": f'"{row.version}"', **(headers or {})}


def shown(point_id: int):
    """The point in full for the caller, with its ETag."""
    point = queries.visible_point(point_id, current_user)
    return answer(actions.detail(point, current_user))


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
    point = services.register(data, current_user)
    location = url_for("risks.get_risk_point", point_id=point.id)
    return answer(actions.detail(point, current_user), headers={"Location": location})


@blp.route("/risk-points/<int:point_id>")
@requires("risks.read")
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_risk_point(point_id: int):
    """One risk point: geometry, history (level and status changes), inspections and photos.

    The `ETag` is its version: send it back in `If-Match` (or `version`) with an action.
    """
    return shown(point_id)


@blp.route("/risk-points/<int:point_id>/location", methods=["POST"])
@requires("risks.locate")
@blp.arguments(schemas.LocationIn)
@blp.response(200, schemas.LocationOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def reveal_location(data, point_id: int):
    """The exact registered place of a point (a key-population point's detail shows only its grid
    cell's inner point). For such a point the reveal is recorded in the audit log with `reason`.
    """
    point = queries.visible_point(point_id, current_user)
    return services.exact_location(point, current_user, data["reason"])


@blp.route("/risk-points")
@requires("risks.read")
@blp.arguments(schemas.RiskPointQuery, location="query")
@blp.response(200, schemas.RiskPointPage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_risk_points(args):
    """Risk points in the caller's scope, next inspection due first, by keyset pages (`after`).

    At most `limit` (default 50, cap 200) per page; `next` is the cursor of the following page.
    """
    return queries.list_page(args, current_scope())


# --- actions (app/risks/actions.py) --------------------------------------------------------------


def act(point_id: int, action: str):
    """Run one action of the table on a visible point with the version the caller saw; answer
    the point."""
    point = queries.visible_point(point_id, current_user)
    body = request.get_json(silent=True)
    body = {} if body is None else body
    version = version_from(request.headers.get("If-Match"), body if isinstance(body, dict) else {})
    actions.perform(action, point, current_user, body, version)
    return answer(actions.detail(point, current_user))


def json_body(schema) -> dict:
    """OpenAPI requestBody for a JSON body these views load themselves (after the 404 check)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": '风险点的版本（ETag），如 "3"；或在请求体中给出 version',
}


@blp.route(
    "/risk-points/<int:point_id>/actions/change_level", methods=["POST"], parameters=[IF_MATCH]
)
@requires(actions.ACTIONS["change_level"].permission)
@blp.doc(**json_body(schemas.ChangeLevelIn))
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期，或风险点已消除")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由，或等级未变化")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def change_level(point_id: int):
    """Change the level (`level`, `reason` required, with the version); in the history."""
    return act(point_id, "change_level")


@blp.route(
    "/risk-points/<int:point_id>/actions/request_clear", methods=["POST"], parameters=[IF_MATCH]
)
@requires(actions.ACTIONS["request_clear"].permission)
@blp.doc(**json_body(schemas.RiskReasonIn))
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(
    409, response="DEFAULT_ERROR", description="版本已过期、已消除，或已有待审批的申请"
)
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def request_clear(point_id: int):
    """Ask an official to clear the point (`reason` required, with the version)."""
    return act(point_id, "request_clear")


@blp.route(
    "/risk-points/<int:point_id>/actions/approve_clear", methods=["POST"], parameters=[IF_MATCH]
)
@requires(actions.ACTIONS["approve_clear"].permission)
@blp.doc(**json_body(schemas.ApproveClearIn))
@blp.response(200, schemas.RiskPointOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="申请人层级高于审批人")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(
    409, response="DEFAULT_ERROR", description="版本已过期、已消除，或没有待审批的申请"
)
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由或 approved")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def approve_clear(point_id: int):
    """An official decides a request (`approved`, `reason`), or clears directly with a reason."""
    return act(point_id, "approve_clear")


# --- inspections ---------------------------------------------------------------------------------


def inspection_body() -> tuple[dict, list]:
    """The inspection's fields and its photo files, from JSON or multipart/form-data."""
    if request.mimetype == "multipart/form-data":
        unknown = set(request.files) - {"photos"}
        if unknown:
            raise Invalid(
                "只接受名为 photos 的文件字段", errors={"files": {k: ["未知字段"] for k in unknown}}
            )
        # Empty form fields are "not given"; the CSRF token is the security layer's.
        raw = {k: v for k, v in request.form.items() if v != "" and k != "csrf_token"}
        # Text to the JSON types the schema takes (anything else stays text and is refused).
        if raw.get("open_case") in ("true", "false"):
            raw["open_case"] = raw["open_case"] == "true"
        if str(raw.get("version", "")).isascii() and str(raw.get("version", "")).isdigit():
            raw["version"] = int(raw["version"])
        files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
        return raw, files
    body = request.get_json(silent=True)
    return ({} if body is None else body), []


def checked_photos(files: list) -> list[attachments.Upload]:
    """The photos, each checked by content (after the body's fields loaded)."""
    if len(files) > MAX_PHOTOS:
        raise Invalid(
            _("每次最多上传 %(n)s 张照片", n=MAX_PHOTOS),
            errors={"photos": [_("最多 %(n)s 个", n=MAX_PHOTOS)]},
        )
    uploads = []
    for file in files:
        try:
            uploads.append(attachments.read_upload(file))
        except attachments.AttachmentError as exc:
            raise DomainError(exc.status, exc.message, {"photos": [exc.message]}) from None
    return uploads


@blp.route("/risk-points/<int:point_id>/inspections", methods=["POST"])
@requires(actions.ACTIONS["inspect"].permission)
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
@blp.alt_response(409, response="DEFAULT_ERROR", description="风险点已消除，或版本已过期")
@blp.alt_response(413, response="DEFAULT_ERROR", description="照片超过 10 MB")
@blp.alt_response(422, response="DEFAULT_ERROR", description="数据有误，或照片不是 JPEG/PNG/PDF")
def record_inspection(point_id: int):
    """Record an inspection: JSON, or multipart/form-data with `photos` (JPEG, PNG or PDF,
    checked by content, 10 MB each, at most 10). With `open_case: true` an abnormal inspection
    also reports a case (kind, category, title, description) linked to the point. The version
    is optional here (checked when given: If-Match or `version`). With an `Idempotency-Key`
    header a retry answers as the first request did and records nothing more (the outbox)."""
    point = queries.visible_point(point_id, current_user)
    key = idempotent.key()  # an outbox's retry answers as the first (docs/field.md)
    if (replayed := idempotent.replay(key)) is not None:
        return replayed
    body, files = inspection_body()
    version = version_from(
        request.headers.get("If-Match"),
        body if isinstance(body, dict) else {},
        form=request.mimetype == "multipart/form-data",
    )

    def apply(p, user, data):
        return services.record_inspection(p, user, data, checked_photos(files))

    inspection, case = actions.perform("inspect", point, current_user, body, version, apply)
    answer = services.inspection_answer(inspection, case, point)
    if key is not None:
        dumped = schemas.InspectionResult().dump(answer)
        idempotent.remember(key, 201, dumped)
        return jsonify(dumped), 201  # as dumped: the same JSON its retries replay
    return answer


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
    return Response(queries.points_geojson(args, current_scope()), mimetype=GEOJSON)


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
    return Response(services.risk_map(args, current_scope()), mimetype=GEOJSON)


# --- the ledger export (风险隐患排查台账) ----------------------------------------------


def export(args: dict, fmt: str) -> Response:
    """Build, audit and answer one export of the ledger."""
    rows = queries.ledger_rows(args, current_scope())
    audit.record(
        "risks.export",
        object_type="risk_points",
        region_code=exports.audit_region(args, current_user),
        detail={
            "format": fmt,
            "filters": {k: v for k, v in args.items() if v is not None},
            "rows": len(rows),
        },
    )
    return exports.ledger_file(
        fmt,
        sheet="风险隐患排查台账",
        columns=queries.LEDGER_COLUMNS,
        rows=rows,
        ascii_name="gridgov-risks",
    )


@blp.route("/risk-points/export.xlsx")
@requires("risks.export")
@blp.arguments(schemas.RiskExportQuery, location="query")
@blp.response(
    200, BINARY, content_type=exports.XLSX_MIMETYPE, description="风险隐患排查台账（Excel）"
)
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 50000 条")
def export_xlsx(args):
    """The risk ledger (风险隐患排查台账) as Excel, with the list's filters; audited."""
    return export(args, "xlsx")


@blp.route("/risk-points/export.csv")
@requires("risks.export")
@blp.arguments(schemas.RiskExportQuery, location="query")
@blp.response(
    200,
    BINARY,
    content_type=exports.CSV_MIMETYPE,
    description="风险隐患排查台账（CSV，UTF-8 带 BOM）",
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
    """Every risk category (active and inactive), in display order, each with its version."""
    return queries.categories()


@blp.route("/risk-categories", methods=["POST"])
@requires("risks.manage")
@blp.arguments(schemas.CategoryIn)
@blp.response(201, schemas.CategoryOut)
@blp.alt_response(409, response="DEFAULT_ERROR", description="名称已存在")
@blp.alt_response(422, response="DEFAULT_ERROR")
def create_category(data):
    """Add a risk category."""
    return answer(services.create_category(data, current_user))


@blp.route("/risk-categories/<int:category_id>", methods=["PUT"], parameters=[IF_MATCH])
@requires("risks.manage")
@blp.arguments(schemas.CategoryUpdate)
@blp.response(200, schemas.CategoryOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(
    409,
    response="DEFAULT_ERROR",
    description="版本已过期、名称已存在，或已有风险点时改动重点人群标记",
)
@blp.alt_response(422, response="DEFAULT_ERROR")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_category(data, category_id: int):
    """Rename, re-order, (de)activate a category or change its sub-categories, with the version
    the caller saw (`If-Match` or `version`)."""
    category = queries.category(category_id)
    version = version_from(request.headers.get("If-Match"), data)
    data.pop("version", None)
    actions.check_version(category, version, message=actions.CATEGORY_STALE)
    return answer(services.update_category(category, data, current_user))


@blp.route("/inspection-schedule")
@requires("risks.manage")
@blp.response(200, schemas.ScheduleOut(many=True))
def get_schedule():
    """How often points of each level are inspected (days)."""
    return queries.schedule_rows()


@blp.route("/inspection-schedule", methods=["PUT"])
@requires("risks.manage")
@blp.arguments(schemas.ScheduleIn)
@blp.response(200, schemas.ScheduleOut(many=True))
@blp.alt_response(422, response="DEFAULT_ERROR")
def put_schedule(data):
    """Change the period of any levels; active points' next due dates follow at once."""
    services.update_schedule(data, current_user)
    return queries.schedule_rows()
