"""Open311 GeoReport v2 over cases: services are the case categories, requests are cases.

What an answer shows depends on the caller (docs/api.md, "Open311"):

- with an Open311 `api_key` (an API token of its owner whose name starts with "open311"): the
  cases in the owner's jurisdiction, exact location, the description with ID and phone numbers
  and the parties' names masked;
- without a key (GET is public in the spec): every case but petitions (信访 stays confidential),
  with its category, public stage and the representative point of its grid cell only — no
  description, no exact place.

No answer ever carries a party's name, ID number, phone or address. Creating a request files a
case through app/cases/services.report as the key's owner (source 网上).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlalchemy.orm import joinedload

from app import pii
from app.accounts import services as accounts
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.audit import services as audit
from app.cases import queries as case_queries
from app.cases import services as case_services
from app.cases import workflow
from app.cases.models import Case
from app.cases.schemas import CATEGORIES
from app.cases.schemas import CaseIn
from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.policy import allows
from app.resident import queries as resident_queries
from app.scoping import scope_for

KIND_NAMES = {"dispute": "矛盾纠纷", "petition": "信访事项", "incident": "治安/安全事件"}
KIND_CODES = {"dispute": "D", "petition": "P", "incident": "I"}
MAX_REQUESTS = 1000  # GeoReport v2: at most 1000 requests ...
MAX_SPAN = dt.timedelta(days=90)  # ... or 90 days, whichever is smaller
KEY_PREFIX = "open311"
ID_NUMBER_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
PHONE_RE = re.compile(r"(?<!\d)(?:1\d{10}|0\d{2,3}-?\d{7,8})(?!\d)")


class Open311Error(DomainError):
    """An error answered in the spec's shape: [{"code": 400, "description": "..."}]."""


# --- services (the case categories) ------------------------------------------------------------


def service_list() -> list[dict]:
    """Every (kind, category) as a service; its code is the kind's letter and the category's
    place in the list (D02 = 矛盾纠纷 · 邻里), stable as long as categories are only appended."""
    out = []
    for kind, categories in CATEGORIES.items():
        for index, category in enumerate(categories, start=1):
            out.append(
                {
                    "service_code": f"{KIND_CODES[kind]}{index:02d}",
                    "service_name": category,
                    "description": f"{KIND_NAMES[kind]}：{category}",
                    "metadata": True,
                    "type": "realtime",
                    "keywords": f"{KIND_NAMES[kind]},{category}",
                    "group": KIND_NAMES[kind],
                    "kind": kind,
                }
            )
    return out


def service(code: str) -> dict:
    """One service by its code, else the spec's 404."""
    for item in service_list():
        if item["service_code"] == code:
            return item
    raise Open311Error(404, _("没有该服务代码：%(code)s", code=code))


def service_of(kind: str, category: str) -> dict | None:
    """The service of a case's kind and category (None for a category no longer listed)."""
    return next(
        (s for s in service_list() if s["kind"] == kind and s["service_name"] == category), None
    )


def definition(code: str) -> dict:
    """A service definition: the attributes a request of it may carry (both optional)."""
    item = service(code)
    return {
        "service_code": item["service_code"],
        "attributes": [
            {
                "variable": True,
                "code": "title",
                "datatype": "string",
                "required": False,
                "datatype_description": _("不超过 100 字；不填则取描述的开头"),
                "order": 1,
                "description": _("标题"),
            },
            {
                "variable": True,
                "code": "occurred_at",
                "datatype": "datetime",
                "required": False,
                "datatype_description": _("ISO 8601，带时区，如 2026-12-01T09:30:00+08:00"),
                "order": 2,
                "description": _("发生时间"),
            },
        ],
    }


# --- the caller --------------------------------------------------------------------------------


@dataclass
class Caller:
    """Who asks: the key's owner (None for a public GET)."""

    user: User | None


def caller(api_key: str | None, *, required: bool = False) -> Caller:
    """The owner of a live Open311 key; a public caller without one (403 if `required`)."""
    if not api_key:
        if required:
            raise Open311Error(400, _("缺少 api_key"))
        return Caller(None)
    user = accounts.check_token(api_key)
    name = db.session.scalar(
        select(ApiToken.name).where(ApiToken.token_hash == accounts.hash_token(api_key))
    )
    if user is None or not (name or "").lower().startswith(KEY_PREFIX):
        # Recorded like a bad bearer token (app/accounts/auth.py), kept through the rollback.
        audit.record(
            "auth.token",
            outcome="failure",
            actor=False,
            detail={"path": "open311", "prefix": api_key[:12]},
            keep=True,
        )
        raise Open311Error(403, _("api_key 无效、已过期，或不是 Open311 密钥"))
    return Caller(user)


# --- requests (cases) --------------------------------------------------------------------------


def iso(moment: dt.datetime | None) -> str | None:
    """An instant as ISO 8601 in Beijing time, with its offset (the spec requires one)."""
    return moment.astimezone(clock.SHANGHAI).isoformat(timespec="seconds") if moment else None


def end_of(day: dt.date | None) -> str | None:
    """The last second of an Asia/Shanghai day, as ISO 8601."""
    if day is None:
        return None
    return iso(clock.start_of(day + dt.timedelta(days=1)) - dt.timedelta(seconds=1))


def masked(text: str, case: Case) -> str:
    """A description with ID and phone numbers masked and the parties' names replaced by their
    masked forms (as lists show parties)."""
    text = ID_NUMBER_RE.sub(lambda m: pii.mask_id_number(m.group(0)), text)
    text = PHONE_RE.sub(lambda m: pii.mask_phone(m.group(0)), text)
    for party in case.parties:
        name = pii.decrypt(party.name_enc)
        if name:
            text = text.replace(name, party.name_masked)
    return text


def answer(case: Case, keyed: bool, point: tuple[float, float]) -> dict:
    """A case as a GeoReport request: the spec's field names, never personal data."""
    item = service_of(case.kind, case.category) or {}
    stage = resident_queries.case_stage(case.state, case.level, case.origin_level)
    notes = _(resident_queries.STAGES[stage])
    if case.public_outcome and case.state not in workflow.OPEN_STATES:
        notes = f"{notes}：{case.public_outcome}"
    due = case.accept_due if case.state == "reported" else case.resolve_due
    return {
        "service_request_id": case.number,
        "status": "open" if case.state in workflow.OPEN_STATES else "closed",
        "status_notes": notes,
        "service_name": case.category,
        "service_code": item.get("service_code"),
        "description": masked(case.description, case) if keyed else None,
        "agency_responsible": resident_queries.handling_unit(case),
        "service_notice": None,
        "requested_datetime": iso(case.reported_at),
        "updated_datetime": iso(case.updated_at),
        "expected_datetime": end_of(due) if case.state in workflow.OPEN_STATES else None,
        "address": (f"{case.town.name}{case.village.name}" if keyed else case.village.name),
        "address_id": None,
        "zipcode": None,
        "lat": round(point[1], 6),
        "long": round(point[0], 6),
        "media_url": None,
    }


def parse_time(value: str, field: str) -> dt.datetime:
    """A W3C/ISO 8601 date-time with its offset (a date alone is read in Beijing time)."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, _("%(field)s 应为 ISO 8601 时间", field=field)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.SHANGHAI)


def requests(args: dict, who: Caller) -> list[dict]:
    """GET requests: by ids, or by service, status and period (at most 90 days and 1000)."""
    cell = aliased(GridCell)
    keyed = who.user is not None
    location = Case.location if keyed else func.ST_PointOnSurface(cell.geom)
    stmt = (
        select(Case, func.ST_X(location), func.ST_Y(location))
        .join(cell, cell.id == Case.grid_cell_id)
        .options(
            joinedload(Case.village).defer(Region.boundary),
            joinedload(Case.town).defer(Region.boundary),
            joinedload(Case.county).defer(Region.boundary),
        )
    )
    if keyed:
        stmt = case_queries.scoped(stmt, scope_for(who.user))
    else:
        stmt = stmt.where(Case.kind != "petition")
    ids = [i.strip() for i in (args.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        stmt = stmt.where(Case.number.in_(ids[:MAX_REQUESTS]))
    else:
        end = parse_time(args["end_date"], "end_date") if args.get("end_date") else clock.now()
        start = (
            parse_time(args["start_date"], "start_date")
            if args.get("start_date")
            else end - MAX_SPAN
        )
        if start > end:
            raise Open311Error(400, _("start_date 不能晚于 end_date"))
        if end - start > MAX_SPAN:
            raise Open311Error(400, _("查询跨度最多 90 天"))
        stmt = stmt.where(Case.reported_at >= start, Case.reported_at <= end)
        if args.get("service_code"):
            pairs = []
            for code in args["service_code"].split(","):
                item = service(code.strip())
                pairs.append((Case.kind == item["kind"]) & (Case.category == item["service_name"]))
            stmt = stmt.where(or_(*pairs))
        statuses = {s.strip() for s in (args.get("status") or "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, _("status 应为 open 或 closed"))
        if statuses == {"open"}:
            stmt = stmt.where(Case.state.in_(sorted(workflow.OPEN_STATES)))
        elif statuses == {"closed"}:
            stmt = stmt.where(Case.state.not_in(sorted(workflow.OPEN_STATES)))
    rows = db.session.execute(
        stmt.order_by(Case.reported_at.desc(), Case.id.desc()).limit(MAX_REQUESTS)
    ).unique()
    return [answer(case, keyed, (lon, lat)) for case, lon, lat in rows]


def one_request(number: str, who: Caller) -> list[dict]:
    """GET requests/<id>: a list of one (the spec's shape), else 404."""
    found = requests({"service_request_id": number}, who)
    if not found:
        raise Open311Error(404, _("没有该请求：%(id)s", id=number))
    return found


def village_point(address: str, user: User) -> tuple[float, float] | None:
    """The representative point of the first grid cell of the village of the owner's
    jurisdiction whose name the address contains (the longest name wins), or None."""
    scope = scope_for(user)
    row = db.session.execute(
        select(
            func.ST_X(func.ST_PointOnSurface(GridCell.geom)),
            func.ST_Y(func.ST_PointOnSurface(GridCell.geom)),
        )
        .join(Region, Region.id == GridCell.village_id)
        .where(
            Region.level == "village",
            Region.valid_to.is_(None),
            Region.code.startswith(scope.prefix, autoescape=True),
            func.strpos(address, Region.name) > 0,
        )
        .order_by(func.length(Region.name).desc(), GridCell.code)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def create(form: dict, who: Caller) -> list[dict]:
    """POST requests: file a case as the key's owner; answers [{service_request_id, ...}]."""
    user = who.user
    if not allows(user.role, "cases.report"):
        raise Open311Error(403, _("该密钥的所有者无权上报事件"))
    if not form.get("service_code"):
        raise Open311Error(400, _("缺少 service_code"))
    item = service(form["service_code"])
    description = (form.get("description") or "").strip()
    if not description:
        raise Open311Error(400, _("缺少 description"))
    located_by_address = False
    try:
        lat, lon = float(form["lat"]), float(form["long"])
    except (KeyError, ValueError):
        address = (form.get("address_string") or "").strip()
        point = village_point(address, user) if address else None
        if point is None:
            raise Open311Error(
                400, _("需要 lat 和 long，或能定位到本辖区某村的 address_string")
            ) from None
        (lon, lat), located_by_address = point, True
    title = (form.get("attribute[title]") or description)[:100]
    body = {
        "kind": item["kind"],
        "category": item["service_name"],
        "source": "online",
        "title": title,
        "description": description[:5000],
        "lon": lon,
        "lat": lat,
        "parties": [],
    }
    if located_by_address:
        # Stored in the timeline: in Chinese whatever the caller's language (cases/services.py).
        body["note"] = f"Open311：位置按地址“{form['address_string'][:200]}”定位到村"
    name = "".join(form.get(k, "").strip() for k in ("last_name", "first_name"))
    if name:
        party = {"role": "applicant", "name": name[:40]}
        if form.get("phone"):
            party["phone"] = form["phone"].strip()
        body["parties"].append(party)
    if form.get("attribute[occurred_at]"):
        body["occurred_at"] = form["attribute[occurred_at]"]
    data = load_case(body)
    try:
        case = case_services.report(data, user)
    except DomainError as exc:
        raise Open311Error(400, exc.message) from exc
    return [
        {
            "service_request_id": case.number,
            "service_notice": _("已登记，将按规定时限受理"),
            "account_id": None,
        }
    ]


def load_case(body: dict) -> dict:
    """The report body through the cases API's own schema; its first error as the spec's 400."""
    try:
        return CaseIn().load(body)
    except ValidationError as exc:
        field, messages = next(iter(exc.messages.items()))
        detail = messages if isinstance(messages, str) else str(messages)
        raise Open311Error(400, f"{field}: {detail}") from None
