"""Cases API: report (idempotent), list, detail, workflow actions, reveal, map layer, nearby."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlencode

from flask import Response
from flask import current_app
from flask import request
from flask import url_for
from flask_login import current_user

from app.cases import idempotent
from app.cases import queries
from app.cases import reported
from app.cases import schemas
from app.cases import services
from app.core import actions
from app.core.dump import json_answer
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.deadlines import policy
from app.deadlines import years
from app.extensions import Blueprint
from app.geo.crs import to_wgs84
from app.geo.schemas import BBox
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="事件 (cases)")

KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def with_etag(body: dict, status: int = 200) -> Response:
    """A case's JSON answer carrying its version as the ETag (send it back in If-Match).

    The version is read from the body, so a committed (expired) case is not reloaded for it.
    """
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    response.headers["ETag"] = f'"{body["version"]}"'
    return response


# --- report --------------------------------------------------------------------------------------


@blp.route("/cases", methods=["POST"])
@requires("cases.report")
@blp.arguments(schemas.CaseIn)
@blp.response(201, schemas.CaseOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="该点不在您的辖区内")
@blp.alt_response(409, response="DEFAULT_ERROR", description="同一 Idempotency-Key 的请求正在处理")
@blp.alt_response(422, response="DEFAULT_ERROR", description="数据有误，或该点不在任何网格内")
def report_case(data):
    """Report a case at a point; with an `Idempotency-Key` header a retry never makes a second.

    The same key with the same body replays the first answer; with another body it is 422.
    """
    key = request.headers.get("Idempotency-Key")
    if key is not None and not KEY_RE.match(key):
        raise Invalid(
            "Idempotency-Key 格式不对",
            errors={"headers": {"Idempotency-Key": ["1–100 个字符：字母、数字或 . _ : -"]}},
        )
    if key is not None:
        replay = claim_key(key, request_fingerprint())
        if replay is not None:
            return replay
    data["lon"], data["lat"] = to_wgs84(data["lon"], data["lat"], data.pop("crs"))
    case = services.report(data, current_user)
    # What CaseOut dumps for queries.detail(case), known without a query (app/cases/reported.py).
    body = reported.answer(case, current_user, data["lon"], data["lat"])
    if key is not None:
        # A replay answers without the receipt's code: it is stored only hashed (reprint it).
        services.remember_answer(
            current_user, key, 201, {**body, "receipt": {**case.receipt, "code": None}}
        )
    body["receipt"] = case.receipt
    # A failed report raised above: the boundary rolls back, and the key with it (not burnt).
    response = with_etag(body, 201)
    response.headers["Location"] = url_for("cases.get_case", number=case.number)
    return response


def request_fingerprint() -> str:
    """SHA-256 of the request body as JSON (key order and spacing do not matter)."""
    payload = request.get_json(silent=True)
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_key(key: str, fingerprint: str) -> Response | None:
    """Claim the key (None: go on), or answer as the first report with it did (with its links)."""
    response = idempotent.replay(key, fingerprint)
    if response is not None and isinstance(body := response.get_json(), dict) and "number" in body:
        response.headers["Location"] = url_for("cases.get_case", number=body["number"])
        response.headers["ETag"] = f'"{body.get("version", 1)}"'
    return response


# --- read ----------------------------------------------------------------------------------------


@blp.route("/cases/<number>", parameters=[schemas.NUMBER_PARAMETER])
@requires("cases.read")
@blp.response(200, schemas.CaseOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_case(number: str):
    """One case: timeline, parties (masked), agreement, follow-ups, and what the caller may do."""
    case = queries.visible_case(number)
    return with_etag(schemas.CaseOut().dump(queries.detail(case)))


@blp.route("/cases/<number>/actions", parameters=[schemas.NUMBER_PARAMETER])
@requires("cases.read")
@blp.response(200, schemas.ActionsOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def list_actions(number: str):
    """The actions the caller may take on this case now."""
    case = queries.visible_case(number)
    return {
        "version": case.version,
        "state": case.state,
        "allowed_actions": queries.allowed_actions(case, current_user),
    }


@blp.route(
    "/cases/<number>/actions/<action>",
    methods=["POST"],
    parameters=[schemas.NUMBER_PARAMETER, schemas.ACTION_PARAMETER],
)
@requires("cases.act")
@blp.doc(requestBody=schemas.ACTION_BODY)
@blp.response(200, schemas.CaseOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="角色或层级不能执行此操作")
@blp.alt_response(404, response="DEFAULT_ERROR", description="事件或操作不存在")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期，或当前状态不允许")
@blp.alt_response(422, response="DEFAULT_ERROR", description="字段缺失或有误")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def take_action(number: str, action: str):
    """Take a workflow action (docs/workflow.md) with the version the caller saw; with an
    `Idempotency-Key` header a retry replays the first answer (the outbox's 回访)."""
    case = queries.visible_case(number)
    if action not in schemas.ACTION_SCHEMAS:
        allowed = {"allowed_actions": list(schemas.ACTION_SCHEMAS)}
        raise NotFound(f"未知操作 {action}", errors=allowed)
    # The guards (app/ops/guards.py) already refused bodies that are not JSON or do not parse.
    # JSON that is not an object (an array, a string, null) carries no version and no fields:
    # the runner refuses it as an invalid body in its turn (step 7 of docs/workflow.md).
    key = idempotent.key()  # the outbox's 回访 (docs/field.md): a retry answers as the first
    if (replayed := idempotent.replay(key)) is not None:
        return replayed
    raw = request.get_json() if request.is_json and request.data else {}
    version = actions.version_from(
        request.headers.get("If-Match"), raw if isinstance(raw, dict) else {}
    )
    step = services.action_step(case, current_user, action, version)
    actions.run(step, case, raw, version=version, stale_message=services.stale_message())
    body = schemas.CaseOut().dump(queries.detail(case))
    idempotent.remember(key, 200, body)
    return with_etag(body)


@blp.route(
    "/cases/<number>/parties/<int:party_id>/reveal",
    methods=["POST"],
    parameters=[schemas.NUMBER_PARAMETER],
)
@requires("cases.reveal")
@blp.arguments(schemas.RevealIn)
@blp.response(200, schemas.PartyRevealed)
@blp.alt_response(404, response="DEFAULT_ERROR")
def reveal_party(data: dict, number: str, party_id: int):
    """A party's full name, ID number, phone and address; every reveal is audited."""
    case = queries.visible_case(number)
    return services.reveal(
        case, queries.party_of(case, party_id), data["purpose"], data.get("reason")
    )


# --- lists ---------------------------------------------------------------------------------------


@blp.route("/cases")
@requires("cases.read")
@blp.arguments(schemas.CaseQuery, location="query")
@blp.response(200, schemas.CasePage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_cases(args):
    """Cases in the caller's scope, nearest deadline first, by keyset pages (`after`).

    To find a party's cases by ID number, send it in the `X-Party-Id-Number` header.
    """
    args = schemas.with_party_header(args, request.headers)
    items, after = queries.summary_page(args)
    return json_answer({"items": items, "next": after})


class GeoQuery(schemas.Schema):
    """Filters of the case map layer."""

    bbox = BBox()
    kind = schemas.fields.String(
        validate=schemas.one_of(("dispute", "petition", "incident"), "kind ")
    )
    open = schemas.fields.Boolean(load_default=False)
    reported_from = schemas.fields.Date()
    reported_to = schemas.fields.Date()
    limit = schemas.fields.Integer(
        validate=schemas.validate.Range(1, 20000),
        metadata={"description": f"默认 {queries.GEOJSON_LIMIT}（配置 CASES_GEOJSON_LIMIT）"},
    )
    after = schemas.fields.String(
        metadata={"description": "上一页的 next 游标（截断的答复在 next 里给出下一页的地址）"}
    )


@blp.route("/cases.geojson")
@requires("cases.read")
@blp.arguments(GeoQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type="application/geo+json")
@blp.alt_response(400, response="DEFAULT_ERROR")
def cases_geojson(args):
    """Case locations as GeoJSON, built in PostGIS: no personal data, only the caller's scope.

    Newest first. An answer cut at `limit` says `"truncated": true` and where the rest is:
    `next` (and a `Link: <...>; rel="next"` header), the same query continuing after its last
    feature.
    """
    if "limit" not in args:
        args["limit"] = current_app.config.get("CASES_GEOJSON_LIMIT", queries.GEOJSON_LIMIT)
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "after"]
    next_url = request.path + "?" + urlencode([*query, ("after", "")])
    body, cursor = queries.cases_geojson(args, current_scope(), next_url)
    response = Response(body, mimetype="application/geo+json")
    if cursor is not None:
        response.headers["Link"] = f'<{next_url}{cursor}>; rel="next"'
    return response


@blp.route("/cases/nearby")
@requires("cases.read")
@blp.arguments(schemas.NearbyQuery, location="query")
@blp.response(200, schemas.CaseSummary(many=True))
@blp.alt_response(400, response="DEFAULT_ERROR")
def nearby_cases(args):
    """Open cases within 200 m reported in the last 30 days: likely duplicates of a new report."""
    lon, lat = to_wgs84(args["lon"], args["lat"], args["crs"])
    return queries.nearby(lon, lat, args.get("category"), current_scope())


# --- the deadline policy and the holiday calendar (data an admin changes) ------------------------


@blp.route("/deadline-policies")
@requires("deadlines.read")
@blp.response(200, schemas.DeadlinePolicyOut(many=True))
def list_deadline_policies():
    """Every clock: kind, level ('*' = any), clock, variant, days and unit, with its source."""
    return policy.all_rules()


@blp.route("/deadline-policies/<int:policy_id>", methods=["PUT"])
@requires("deadlines.manage")
@blp.arguments(schemas.DeadlinePolicyIn)
@blp.response(200, schemas.DeadlinePolicyOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(422, response="DEFAULT_ERROR")
def update_deadline_policy(data, policy_id: int):
    """Change a clock's length or unit; clocks started afterwards use it."""
    return policy.update(policy_id, data)


@blp.route("/holiday-years")
@requires("deadlines.read")
@blp.response(200, schemas.HolidayYearOut(many=True))
def list_holiday_years():
    """The years the holiday calendar covers: bundled ones and those an admin entered."""
    return years.holiday_years()


@blp.route("/holiday-years/<int:year>", methods=["PUT"])
@requires("deadlines.manage")
@blp.arguments(schemas.HolidayYearIn)
@blp.response(200, schemas.HolidayYearOut)
@blp.alt_response(422, response="DEFAULT_ERROR", description="日期不在该年、既是假日又是工作日等")
def put_holiday_year(data, year: int):
    """Enter (or correct) a year's official schedule; it replaces the bundled one for that year."""
    row, check = years.save_holiday_year(
        year, data["holidays"], data["workdays"], data.get("notice"), current_user
    )
    return {
        "year": year,
        "source": "entered",
        "holidays": row.holidays,
        "workdays": row.workdays,
        "notice": row.notice,
        "warnings": check.warnings,
    }
