"""Cases API: report (idempotent), list, detail, workflow actions, reveal, map layer, nearby."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re

from flask import Response
from flask import jsonify
from flask import request
from flask import url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.exc import StaleDataError

from app import pii
from app.audit import services as audit
from app.cases import clocks
from app.cases import schemas
from app.cases import services
from app.cases.models import Case
from app.cases.models import IdempotencyKey
from app.cases.models import Party
from app.errors import ApiError
from app.extensions import Blueprint
from app.extensions import db
from app.geo.crs import to_wgs84
from app.geo.models import Region
from app.geo.schemas import BBox
from app.geo.schemas import FeatureCollectionSchema
from app.policy import deny
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="事件 (cases)")

KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def case_error(exc: services.CaseError) -> ApiError:
    """A CaseError in the standard error shape."""
    return ApiError(exc.status, exc.message, exc.errors)


def visible_case(number: str) -> Case:
    """The case if the caller may see it; 404 like a missing one otherwise (and audited)."""
    case = services.get_visible(number, current_user)
    if case is None:
        if db.session.scalar(select(Case.id).where(Case.number == number)) is not None:
            deny("cases.read", "case", number, status=404, message="事件不存在")
        raise ApiError(404, "事件不存在")
    return case


def detail(case: Case) -> Case:
    """Attach what the caller-specific view needs: allowed actions, repeat-party counts."""
    case.allowed_actions = services.allowed_actions(case, current_user)
    counts = services.repeat_counts(case.parties, case.id)
    for party in case.parties:
        party.repeat = counts.get(party.id, {"open": 0, "past": 0})
    return case


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
        raise ApiError(
            422,
            "Idempotency-Key 格式不对",
            {"headers": {"Idempotency-Key": ["1–100 个字符：字母、数字或 . _ : -"]}},
        )
    if key is not None:
        replay = claim_key(key, request_fingerprint())
        if replay is not None:
            return replay
    data["lon"], data["lat"] = to_wgs84(data["lon"], data["lat"], data.pop("crs"))
    try:
        case = services.report(data, current_user)
    except services.CaseError as exc:
        raise case_error(exc) from None
    body = schemas.CaseOut().dump(detail(case))
    if key is not None:
        db.session.execute(
            IdempotencyKey.__table__.update()
            .where(IdempotencyKey.user_id == current_user.id, IdempotencyKey.key == key)
            .values(status=201, response=body)
        )
    number = case.number
    db.session.commit()
    response = with_etag(body, 201)
    response.headers["Location"] = url_for("cases.get_case", number=number)
    return response


def request_fingerprint() -> str:
    """SHA-256 of the request body as JSON (key order and spacing do not matter)."""
    payload = request.get_json(silent=True)
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_key(key: str, fingerprint: str) -> Response | None:
    """Record the key, or answer as the first request did.

    A concurrent duplicate blocks on the key's unique index until the first commits (then it
    replays) or rolls back (then it proceeds itself): never a second case.
    """
    claimed = db.session.execute(
        insert(IdempotencyKey)
        .values(user_id=current_user.id, key=key, request_hash=fingerprint)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    ).scalar()
    if claimed is not None:
        return None
    existing = db.session.get(IdempotencyKey, (current_user.id, key), populate_existing=True)
    if existing.request_hash != fingerprint:
        raise ApiError(
            422,
            "此 Idempotency-Key 已用于另一个不同的请求",
            {"headers": {"Idempotency-Key": ["同一键只能重试同一请求；新请求请用新键"]}},
        )
    if existing.status is None:
        raise ApiError(409, "相同请求正在处理，请稍后重试")
    response = Response(
        json.dumps(existing.response, ensure_ascii=False),
        existing.status,
        mimetype="application/json",
    )
    response.headers["Idempotent-Replayed"] = "true"
    if existing.response and "number" in existing.response:
        response.headers["Location"] = url_for("cases.get_case", number=existing.response["number"])
        response.headers["ETag"] = f'"{existing.response.get("version", 1)}"'
    return response


# --- read ----------------------------------------------------------------------------------------


@blp.route("/cases/<number>", parameters=[schemas.NUMBER_PARAMETER])
@requires("cases.read")
@blp.response(200, schemas.CaseOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_case(number: str):
    """One case: timeline, parties (masked), agreement, follow-ups, and what the caller may do."""
    case = visible_case(number)
    return with_etag(schemas.CaseOut().dump(detail(case)))


@blp.route("/cases/<number>/actions", parameters=[schemas.NUMBER_PARAMETER])
@requires("cases.read")
@blp.response(200, schemas.ActionsOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def list_actions(number: str):
    """The actions the caller may take on this case now."""
    case = visible_case(number)
    return {
        "version": case.version,
        "state": case.state,
        "allowed_actions": services.allowed_actions(case, current_user),
    }


def requested_version(body: dict) -> int | None:
    """The version from If-Match ("3" or W/"3") or the body's `version`."""
    header = request.headers.get("If-Match")
    if header:
        match = re.fullmatch(r'(?:W/)?"?(\d+)"?', header.strip())
        if not match:
            raise ApiError(400, 'If-Match 应为事件版本号，如 "3"')
        return int(match.group(1))
    return body.get("version")


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
    """Take a workflow action (docs/workflow.md) with the version the caller saw."""
    case = visible_case(number)
    schema_class = schemas.ACTION_SCHEMAS.get(action)
    if schema_class is None:
        raise ApiError(404, f"未知操作 {action}", {"allowed_actions": list(schemas.ACTION_SCHEMAS)})
    # The guards (app/ops/guards.py) already refused bodies that are not JSON or do not parse.
    raw = request.get_json() if request.is_json and request.data else {}
    # JSON that is not an object (an array, a string, null) carries no version and no fields:
    # it is refused as an invalid body in its turn (step 7 of docs/workflow.md).
    body = raw if isinstance(raw, dict) else {}
    try:
        version = requested_version(body)
        services.check_before_fields(case, current_user, action, version)
        if not isinstance(raw, dict):
            raise schemas.ValidationError({"_schema": ["请求体应为 JSON 对象"]})
        data = schema_class().load(body)
    except services.CaseError as exc:
        raise case_error(exc) from None
    except schemas.ValidationError as exc:
        raise ApiError(422, "提交的数据有误", {"json": exc.messages}) from None
    try:
        services.act(case, current_user, action, data, version)
        db.session.commit()
    except services.CaseError as exc:
        raise case_error(exc) from None
    except StaleDataError:
        db.session.rollback()
        raise ApiError(409, "该事件已被他人修改，请刷新后重试") from None
    db.session.refresh(case)
    return with_etag(schemas.CaseOut().dump(detail(case)))


@blp.route(
    "/cases/<number>/parties/<int:party_id>/reveal",
    methods=["POST"],
    parameters=[schemas.NUMBER_PARAMETER],
)
@requires("cases.reveal")
@blp.arguments(schemas.RevealIn, required=False)
@blp.response(200, schemas.PartyRevealed)
@blp.alt_response(404, response="DEFAULT_ERROR")
def reveal_party(data: dict, number: str, party_id: int):
    """A party's full name, ID number, phone and address; every reveal is audited."""
    case = visible_case(number)
    party = db.session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise ApiError(404, "当事人不存在")
    audit.record(
        "cases.reveal",
        object_type="party",
        object_id=party.id,
        region_code=case.region_code,
        detail={"case": case.number, "reason": data.get("reason")},
    )
    db.session.commit()
    return services.reveal(party)


# --- lists ---------------------------------------------------------------------------------------


def encode_cursor(case_row) -> str:
    """An opaque cursor after a row: its next_due and id."""
    due = case_row.next_due.isoformat() if case_row.next_due else ""
    return base64.urlsafe_b64encode(f"{due}|{case_row.id}".encode()).decode().rstrip("=")


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
    """The case query with the list's filters, scoped to the caller."""
    from app.scoping import scope_for

    stmt = services.visible(select(Case), scope_for(current_user), current_user.role)
    if args.get("state"):
        stmt = stmt.where(Case.state.in_(args["state"]))
    for name in ("kind", "category", "level", "warning"):
        if args.get(name):
            stmt = stmt.where(getattr(Case, name) == args[name])
    if args.get("region"):
        code = args["region"]
        region = db.session.scalar(select(Region).where(Region.code == code))
        prefix = code[: {"county": 6, "town": 9}.get(region.level, 12)] if region else code
        stmt = stmt.where(Case.region_code.startswith(prefix, autoescape=True))
    if args.get("grid_cell"):
        stmt = stmt.where(Case.region_code == args["grid_cell"])
    if args.get("overdue") is not None:
        today = clocks.today()
        overdue = ((Case.state == "reported") & (Case.accept_due < today)) | (
            Case.state.in_(["accepted", "in_progress"]) & (Case.resolve_due < today)
        )
        stmt = stmt.where(overdue if args["overdue"] else ~overdue)
    if args.get("supervised") is not None:
        stmt = stmt.where(
            (Case.supervision != "none") if args["supervised"] else (Case.supervision == "none")
        )
    if args.get("reported_from"):
        stmt = stmt.where(Case.reported_at >= start_of(args["reported_from"]))
    if args.get("reported_to"):
        stmt = stmt.where(Case.reported_at < start_of(args["reported_to"] + dt.timedelta(days=1)))
    if args.get("q"):
        pattern = "%" + re.sub(r"([%_\\])", r"\\\1", args["q"]) + "%"
        stmt = stmt.where((Case.title + " " + Case.description).ilike(pattern))
    # An ID number is personal data: it travels in a header, never in the URL (DOMAIN §7).
    party = request.headers.get("X-Party-Id-Number")
    if party is not None:
        if not pii.ID_RE.match(party.upper()):
            raise ApiError(
                400,
                "X-Party-Id-Number 应为 18 位身份证号",
                {"headers": {"X-Party-Id-Number": ["18 位"]}},
            )
        args["party_id_number"] = party.upper()
        digest = pii.keyed_hash(args["party_id_number"])
        stmt = stmt.where(Case.id.in_(select(Party.case_id).where(Party.id_number_hash == digest)))
    return stmt


def start_of(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of a day."""
    from app.deadlines.calendar import SHANGHAI

    return dt.datetime.combine(day, dt.time(), SHANGHAI)


# The list's order: nearest deadline first, cases without one last (next_due NULLS LAST), as
# one expression so that the keyset is a single row comparison on ix_cases_due_key.
NO_DUE = literal_column("DATE 'infinity'")
DUE_KEY = func.coalesce(Case.next_due, NO_DUE)


@blp.route("/cases")
@requires("cases.read")
@blp.arguments(schemas.CaseQuery, location="query")
@blp.response(200, schemas.CasePage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_cases(args):
    """Cases in the caller's scope, nearest deadline first, by keyset pages (`after`).

    To find a party's cases by ID number, send it in the `X-Party-Id-Number` header.
    """
    stmt = filtered(args)
    if args.get("after"):
        due, ident = decode_cursor(args["after"])
        # One row comparison on the (due key, id) index: a seek, however deep the page.
        stmt = stmt.where(tuple_(DUE_KEY, Case.id) > tuple_(due or NO_DUE, ident))
    limit = args["limit"]
    rows = db.session.execute(
        summary_columns(stmt).order_by(DUE_KEY, Case.id).limit(limit + 1)
    ).all()
    page = rows[:limit]
    # Built as plain JSON values (exactly what CaseSummary dumps, tests/cases/test_keyset.py):
    # dumping 50 rows through marshmallow cost more than the statement.
    return jsonify(
        items=[summary_json(row) for row in page],
        next=encode_cursor(page[-1]) if len(rows) > limit else None,
    )


def summary_columns(stmt):
    """The list's columns only, with the village and cell names joined in one statement.

    Loading whole Case objects and their village and cell one by one cost a query per row.
    """
    from sqlalchemy.orm import aliased

    from app.geo.models import GridCell

    village = aliased(Region)
    return (
        stmt.with_only_columns(
            *(getattr(Case, name) for name in SUMMARY_FIELDS),
            village.code.label("village_code"),
            village.name.label("village_name"),
            GridCell.code.label("cell_code"),
            GridCell.name.label("cell_name"),
        )
        .select_from(Case)
        .join(village, village.id == Case.village_id)
        .join(GridCell, GridCell.id == Case.grid_cell_id)
    )


SUMMARY_FIELDS = (
    "id",
    "number",
    "kind",
    "category",
    "title",
    "state",
    "level",
    "origin_level",
    "warning",
    "supervision",
    "reported_at",
    "next_due",
    "accept_due",
    "resolve_due",
    "version",
)


def _json_value(value):
    """A column value as marshmallow's String/Integer/Date/DateTime fields dump it."""
    return value.isoformat() if isinstance(value, dt.date) else value


def summary_json(row) -> dict:
    """A list row as the JSON CaseSummary describes."""
    item = {name: _json_value(getattr(row, name)) for name in SUMMARY_FIELDS if name != "id"}
    item["village"] = {"code": row.village_code, "name": row.village_name}
    item["grid_cell"] = {"code": row.cell_code, "name": row.cell_name}
    return item


class GeoQuery(schemas.Schema):
    """Filters of the case map layer."""

    bbox = BBox()
    kind = schemas.fields.String(
        validate=schemas.one_of(("dispute", "petition", "incident"), "kind ")
    )
    open = schemas.fields.Boolean(load_default=False)
    reported_from = schemas.fields.Date()
    reported_to = schemas.fields.Date()
    limit = schemas.fields.Integer(load_default=5000, validate=schemas.validate.Range(1, 20000))


@blp.route("/cases.geojson")
@requires("cases.read")
@blp.arguments(GeoQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type="application/geo+json")
@blp.alt_response(400, response="DEFAULT_ERROR")
def cases_geojson(args):
    """Case locations as GeoJSON, built in PostGIS: no personal data, only the caller's scope."""
    condition, params = services.visibility_sql(current_scope(), current_user.role, alias="c")
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    body = db.session.execute(
        text(
            f"""
            WITH sel AS (
                SELECT c.id, c.number, c.kind, c.category, c.state, c.level, c.warning,
                       c.supervision, c.reported_at, c.location, c.region_code
                  FROM cases c
                 WHERE {condition}
                   AND (CAST(:minx AS float8) IS NULL
                        OR c.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
                   AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
                   AND (NOT :open OR c.state IN ('reported', 'accepted', 'in_progress'))
                   AND (CAST(:rfrom AS timestamptz) IS NULL OR c.reported_at >= :rfrom)
                   AND (CAST(:rto AS timestamptz) IS NULL OR c.reported_at < :rto)
                 ORDER BY c.id DESC
                 LIMIT :limit + 1)
            SELECT convert_to(json_build_object(
                'type', 'FeatureCollection',
                'features', coalesce(json_agg(json_build_object(
                    'type', 'Feature',
                    'id', number,
                    'geometry', ST_AsGeoJSON(location, 6)::json,
                    'properties', json_build_object(
                        'number', number, 'kind', kind, 'category', category, 'state', state,
                        'level', level, 'warning', warning, 'supervision', supervision,
                        'reported_on', (reported_at AT TIME ZONE 'Asia/Shanghai')::date,
                        'grid_cell', region_code))
                    ORDER BY id DESC) FILTER (WHERE rn <= :limit), '[]'::json),
                'numberReturned', least(count(*), :limit),
                'truncated', count(*) > :limit)::text, 'UTF8')
              FROM (SELECT sel.*, row_number() OVER (ORDER BY id DESC) AS rn FROM sel) s
            """
        ),
        {
            **params,
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "kind": args.get("kind"),
            "open": args["open"],
            "rfrom": args.get("reported_from"),
            "rto": args.get("reported_to"),
            "limit": args["limit"],
        },
    ).scalar_one()
    # UTF-8 bytes straight from PostgreSQL: ~1 MB is never decoded to str and encoded back.
    return Response(bytes(body), mimetype="application/geo+json")


@blp.route("/cases/nearby")
@requires("cases.read")
@blp.arguments(schemas.NearbyQuery, location="query")
@blp.response(200, schemas.CaseSummary(many=True))
@blp.alt_response(400, response="DEFAULT_ERROR")
def nearby_cases(args):
    """Open cases within 200 m reported in the last 30 days: likely duplicates of a new report."""
    from app.scoping import scope_for

    lon, lat = to_wgs84(args["lon"], args["lat"], args["crs"])
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    stmt = services.visible(select(Case), scope_for(current_user), current_user.role).where(
        Case.state.in_(["reported", "accepted", "in_progress"]),
        Case.reported_at >= services.now() - dt.timedelta(days=30),
        func.ST_DWithin(func.Geography(Case.location), func.Geography(point), 200),
    )
    if args.get("category"):
        stmt = stmt.where(Case.category == args["category"])
    stmt = stmt.order_by(func.ST_Distance(func.Geography(Case.location), func.Geography(point)))
    return db.session.scalars(stmt.limit(20)).all()


# --- the deadline policy and the holiday calendar (data an admin changes) ------------------------


@blp.route("/deadline-policies")
@requires("deadlines.read")
@blp.response(200, schemas.DeadlinePolicyOut(many=True))
def list_deadline_policies():
    """Every clock: kind, level ('*' = any), clock, variant, days and unit, with its source."""
    from app.cases.models import DeadlinePolicy

    return db.session.scalars(
        select(DeadlinePolicy).order_by(
            DeadlinePolicy.kind, DeadlinePolicy.clock, DeadlinePolicy.level, DeadlinePolicy.variant
        )
    ).all()


@blp.route("/deadline-policies/<int:policy_id>", methods=["PUT"])
@requires("deadlines.manage")
@blp.arguments(schemas.DeadlinePolicyIn)
@blp.response(200, schemas.DeadlinePolicyOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(422, response="DEFAULT_ERROR")
def update_deadline_policy(data, policy_id: int):
    """Change a clock's length or unit; clocks started afterwards use it."""
    from app.cases.models import DeadlinePolicy

    row = db.session.get(DeadlinePolicy, policy_id)
    if row is None:
        raise ApiError(404, "期限规则不存在")
    before = {"days": row.days, "unit": row.unit}
    row.days, row.unit = data["days"], data["unit"]
    if data.get("source"):
        row.source = data["source"]
    row.updated_at = services.now()
    audit.record(
        "deadlines.update",
        object_type="deadline_policy",
        object_id=row.id,
        detail={
            "rule": f"{row.kind}/{row.level}/{row.clock}/{row.variant}",
            "before": before,
            "after": {"days": row.days, "unit": row.unit},
        },
    )
    db.session.commit()
    return row


@blp.route("/holiday-years")
@requires("deadlines.read")
@blp.response(200, schemas.HolidayYearOut(many=True))
def list_holiday_years():
    """The years the holiday calendar covers: bundled ones and those an admin entered."""
    return clocks.holiday_years()


@blp.route("/holiday-years/<int:year>", methods=["PUT"])
@requires("deadlines.manage")
@blp.arguments(schemas.HolidayYearIn)
@blp.response(200, schemas.HolidayYearOut)
@blp.alt_response(422, response="DEFAULT_ERROR", description="日期不在该年、既是假日又是工作日等")
def put_holiday_year(data, year: int):
    """Enter (or correct) a year's official schedule; it replaces the bundled one for that year."""
    row, check = clocks.save_holiday_year(
        year,
        data["holidays"],
        data["workdays"],
        data.get("notice"),
        current_user,
        services.now(),
    )
    db.session.commit()
    return {
        "year": year,
        "source": "entered",
        "holidays": row.holidays,
        "workdays": row.workdays,
        "notice": row.notice,
        "warnings": check.warnings,
    }
