"""The read side of cases: scoped selects, the list's filters and pages, detail, maps, nearby.

Every read goes through the one scoping rule for cases (`scoped` for the ORM, `scope_sql` for
text SQL): a region subtree, and for a grid worker only their cells' cases and their own reports.
The API (app/cases/api.py) and the pages (app/web/casework.py, app/web/official.py) both read
through here.
"""

from __future__ import annotations

import datetime as dt
import re

from flask_login import current_user
from sqlalchemy import BindParameter
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import aliased

from app import pii
from app.accounts.models import User
from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.cases import workflow
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.cases.models import Party
from app.core import clock
from app.core import paging
from app.core import replica
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Dispatch
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.policy import deny
from app.scoping import Scope
from app.scoping import region_prefix
from app.scoping import scope_for

# Workflow constants as SQL parameters (`c.state = ANY(:open_states)`), never typed out again.
STATE_PARAMS = {"open_states": sorted(workflow.OPEN_STATES)}

# --- scope ---------------------------------------------------------------------------------------


def scoped(stmt, scope: Scope):
    """Restrict a select of Case to what the scope may see (the one scoping rule for cases).

    Department staff see the cases dispatched to their unit (whatever became of the dispatch),
    and nothing else.
    """
    if scope.department_id is not None:
        sent = select(Dispatch.case_id).where(Dispatch.department_id == scope.department_id)
        return stmt.where(Case.id.in_(sent))
    return stmt.where(scope.clause(Case.region_code, Case.grid_cell_id, (Case.reporter_id,)))


def scope_sql(scope: Scope, alias: str = "c") -> tuple[str, dict]:
    """The same rule as `scoped`, as a SQL condition on cases `alias` with its parameters."""
    if scope.department_id is not None:
        return (
            f"{alias}.id IN (SELECT d.case_id FROM dispatches d"
            " WHERE d.department_id = :scope_department)",
            {"scope_department": scope.department_id},
        )
    return scope.sql(alias, cell="grid_cell_id", own=("reporter_id",))


def get_visible(number: str, user) -> Case | None:
    """The case with this number if the user may see it, else None (answered as 404)."""
    return db.session.scalar(scoped(select(Case).where(Case.number == number), scope_for(user)))


def visible_case(number: str) -> Case:
    """The case if the caller may see it; 404 like a missing one otherwise (and audited)."""
    case = get_visible(number, current_user)
    if case is None:
        if db.session.scalar(select(Case.id).where(Case.number == number)) is not None:
            deny("cases.read", "case", number, status=404, message="事件不存在")
        raise NotFound("事件不存在")
    return case


def case_visible(case_id: int, user) -> bool:
    """Whether a user may see the case with this id (the owner check of its attachments)."""
    stmt = scoped(select(Case.id).where(Case.id == case_id), scope_for(user))
    return db.session.scalar(stmt) is not None


def party_of(case: Case, party_id: int) -> Party:
    """One party of a case; 404 for a party of another case."""
    party = db.session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise NotFound("当事人不存在")
    return party


# --- detail --------------------------------------------------------------------------------------


def unit_holds(case: Case, user) -> bool:
    """Whether the user may work on the case as far as units go: anyone but department staff;
    department staff while their unit holds an open lead (主办) or co-handling (协办) dispatch
    of it (an informed unit, or one that returned it, only reads)."""
    if user.role != "department_staff":
        return True
    stmt = select(Dispatch.id).where(
        Dispatch.case_id == case.id,
        Dispatch.department_id == user.department_id,
        Dispatch.role.in_(["lead", "co"]),
        Dispatch.state.in_(OPEN_DISPATCH_STATES),
    )
    return db.session.scalar(stmt.limit(1)) is not None


def allowed_actions(case: Case, user) -> list[str]:
    """The workflow actions the user may take now; none for department staff whose unit does
    not hold the case (services.check_before_fields refuses them the same way)."""
    return workflow.allowed_actions(case, user) if unit_holds(case, user) else []


def files_of(case: Case, user) -> list[Attachment]:
    """The case's photos and its dispatches' report attachments that the user may download,
    oldest first, each with `uploaded_by` (the uploader's display name).

    The attachment registry decides (app/attachments/services.py), once per owner; an owner type
    nobody registered shows nothing, as its downloads would answer 404.
    """
    dispatch_ids = select(Dispatch.id).where(Dispatch.case_id == case.id)
    rows = db.session.execute(
        select(Attachment, User.display_name)
        .join(User, User.id == Attachment.uploaded_by_id)
        .where(
            ((Attachment.owner_type == "case") & (Attachment.owner_id == case.id))
            | ((Attachment.owner_type == "dispatch") & Attachment.owner_id.in_(dispatch_ids))
        )
        .order_by(Attachment.created_at, Attachment.id)
    ).all()
    seen: dict[tuple[str, int], bool] = {}
    out = []
    for attachment, uploader in rows:
        owner = (attachment.owner_type, attachment.owner_id)
        if owner not in seen:
            seen[owner] = attachments.visible(attachment, user)
        if seen[owner]:
            attachment.uploaded_by = uploader
            out.append(attachment)
    return out


def detail(case: Case, user=None) -> Case:
    """Attach what the caller-specific view needs: allowed actions, files, repeat-party counts."""
    user = user or current_user
    case.allowed_actions = allowed_actions(case, user)
    case.files = files_of(case, user)
    case.mediators = [
        {"id": u.id, "name": u.display_name}
        for u in db.session.scalars(
            select(User).where(User.id.in_(case.mediator_ids or [])).order_by(User.id)
        )
    ]
    counts = repeat_counts(case.parties, case.id, scope_for(user))
    for party in case.parties:
        party.repeat = counts.get(party.id, {"open": 0, "past": 0})
    return case


REPEAT_SQL = """
    SELECT count(DISTINCT c.id) FILTER (WHERE c.state = ANY(:open_states)) AS open,
           count(DISTINCT c.id) FILTER (WHERE NOT c.state = ANY(:open_states)) AS past
      FROM parties p JOIN cases c ON c.id = p.case_id
     WHERE (p.id_number_hash = ANY(:h) OR p.phone_hash = ANY(:h))
       AND c.id <> :case
       AND {scope}
"""


def repeat_counts(parties: list[Party], exclude_case: int, scope: Scope) -> dict[int, dict]:
    """For each party: how many other open and past cases the caller may see name the same
    person (by ID or phone).

    Only cases in the caller's scope count: a count over the whole county told a grid worker,
    who can type any ID number or phone into a report, whether that person had cases anywhere
    (issue 19 item 2).
    """
    visibility, scope_params = scope_sql(scope, "c")
    stmt = text(REPEAT_SQL.format(scope=visibility))
    out = {}
    for party in parties:
        hashes = [h for h in (party.id_number_hash,) if h] or [h for h in (party.phone_hash,) if h]
        if not hashes:
            out[party.id] = {"open": 0, "past": 0}
            continue
        row = db.session.execute(
            stmt, {**STATE_PARAMS, **scope_params, "h": hashes, "case": exclude_case}
        ).one()
        out[party.id] = {"open": row.open, "past": row.past}
    return out


# --- the list's filters and pages ----------------------------------------------------------------


def given(value) -> bool:
    """A filter's value was given: not None or empty, or a bound parameter (the fast path
    compiles the statement once per filter shape, app/cases/fast.py)."""
    return isinstance(value, BindParameter) or bool(value)


def filtered(args: dict, user=None):
    """The case query with the list's filters (CaseQuery's), scoped to the caller.

    `args["party_id_number"]` (from the X-Party-Id-Number header, schemas.party_id_number)
    keeps the cases naming that person.
    """
    stmt = scoped(select(Case), scope_for(user or current_user))
    # Archived past retention (docs/privacy.md): no longer processed, only in the archive view.
    stmt = stmt.where(
        Case.archived_at.isnot(None) if args.get("archived") else Case.archived_at.is_(None)
    )
    if args.get("state"):
        stmt = stmt.where(Case.state.in_(args["state"]))
    for name in ("kind", "category", "level", "warning"):
        if given(args.get(name)):
            stmt = stmt.where(getattr(Case, name) == args[name])
    if args.get("region"):
        code = args["region"]
        region = db.session.scalar(select(Region).where(Region.code == code))
        prefix = region_prefix(region.code, region.level) if region else code
        stmt = stmt.where(Case.region_code.startswith(prefix, autoescape=True))
    if args.get("grid_cell"):
        stmt = stmt.where(Case.region_code == args["grid_cell"])
    if args.get("overdue") is not None:
        today = clock.today()
        # An incident's resolution clock runs from its report (no acceptance step): still
        # `reported` past it, it is overdue too (measures.py counts the same).
        overdue = (
            ((Case.state == "reported") & (Case.accept_due < today))
            | (Case.state.in_(["accepted", "in_progress"]) & (Case.resolve_due < today))
            | ((Case.state == "reported") & (Case.kind == "incident") & (Case.resolve_due < today))
        )
        stmt = stmt.where(overdue if args["overdue"] else ~overdue)
    if args.get("supervised") is not None:
        stmt = stmt.where(
            (Case.supervision != "none") if args["supervised"] else (Case.supervision == "none")
        )
    if args.get("reported_from"):
        stmt = stmt.where(Case.reported_at >= clock.start_of(args["reported_from"]))
    if args.get("reported_to"):
        stmt = stmt.where(
            Case.reported_at < clock.start_of(args["reported_to"] + dt.timedelta(days=1))
        )
    if args.get("q"):
        pattern = "%" + re.sub(r"([%_\\])", r"\\\1", args["q"]) + "%"
        stmt = stmt.where((Case.title + " " + Case.description).ilike(pattern))
    if args.get("party_id_number"):
        digest = pii.keyed_hash(args["party_id_number"])
        stmt = stmt.where(Case.id.in_(select(Party.case_id).where(Party.id_number_hash == digest)))
    if args.get("mine"):
        stmt = stmt.where(mine(args["mine"], (user or current_user).id))
    return stmt


# 我交办的: the timeline's entries by which the caller handed a case on (to another level).
HANDED_ACTIONS = ("escalate", "assign_down")


def mine(which: str, user_id: int):
    """The condition of the queue's "mine" filters: 我上报的 (reported), 我交办的 (handed: the
    caller escalated it, handed it down or dispatched it to a unit), 我承办的 (handling).

    They keep showing a case after it moved to another level (the scope still applies).
    """
    if which == "reported":
        return Case.reporter_id == user_id
    if which == "handling":
        return Case.handler_id == user_id
    moved = select(CaseEvent.case_id).where(
        CaseEvent.actor_id == user_id, CaseEvent.action.in_(HANDED_ACTIONS)
    )
    sent = select(Dispatch.case_id).where(Dispatch.dispatched_by_id == user_id)
    return Case.id.in_(moved) | Case.id.in_(sent)


# The list's order: nearest deadline first, cases without one last (next_due NULLS LAST), as
# one expression so that the keyset is a single row comparison on ix_cases_due_key.
DUE_KEY = paging.due_key(Case.next_due)


def nearest_due_first(stmt, after: str | None, limit: int):
    """`stmt` in the list's order from after the cursor, `limit + 1` rows (to know if more)."""
    return paging.nearest_due_first(stmt, Case.next_due, Case.id, after, limit)


def due_key(row) -> tuple[dt.date | None, int]:
    """A row's keyset key: its next deadline and id."""
    return row.next_due, row.id


def queue_page(args: dict, limit: int) -> tuple[list[Case], str | None]:
    """One page of whole cases (the queue page), and the cursor of the next."""
    rows = db.session.scalars(nearest_due_first(filtered(args), args.get("after"), limit)).all()
    return paging.page(rows, limit, due_key)


def summary_page(args: dict) -> tuple[list[dict], str | None]:
    """One page of the list as CaseSummary JSON, and the cursor of the next (the API)."""
    after = args.get("after")
    stmt = summary_statement(args, None, paging.decode_cursor(after) if after else None)
    return summary_items(db.session.execute(stmt).all(), args["limit"], lambda row: row._mapping)


def summary_statement(args: dict, user, after: tuple | None):
    """The list's page statement: the filters in the caller's scope, the summary's columns,
    from after the key `after` ((deadline, id) values or bound parameters; the fast path,
    app/cases/fast.py, builds it once per filter shape with parameters)."""
    stmt = summary_columns(filtered(args, user))
    return paging.continue_after(stmt, Case.next_due, Case.id, after, args["limit"])


def summary_items(rows, limit: int, values) -> tuple[list[dict], str | None]:
    """A page's rows (`limit + 1` read) as CaseSummary JSON, and the next page's cursor;
    `values(row)` is a row's mapping of column names."""
    items, after = paging.page(rows, limit, lambda row: due_key_of(values(row)))
    # Built as plain JSON values (exactly what CaseSummary dumps, tests/cases/test_keyset.py):
    # dumping 50 rows through marshmallow cost more than the statement.
    return [summary_json(values(row)) for row in items], after


def due_key_of(values) -> tuple[dt.date | None, int]:
    """A list row's keyset key from its mapping of column names."""
    return values["next_due"], values["id"]


def summary_columns(stmt):
    """The list's columns only, with the village and cell names joined in one statement.

    Loading whole Case objects and their village and cell one by one cost a query per row. The
    columns and joins are built once (an alias made per request cost more than the statement).
    """
    return (
        stmt.with_only_columns(*SUMMARY_COLUMNS)
        .select_from(Case)
        .join(SUMMARY_VILLAGE, SUMMARY_VILLAGE_JOIN)
        .join(GridCell, SUMMARY_CELL_JOIN)
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
    "clock_warning",
    "version",
)
SUMMARY_VILLAGE = aliased(Region, name="village")
SUMMARY_COLUMNS = (
    *(getattr(Case, name) for name in SUMMARY_FIELDS),
    SUMMARY_VILLAGE.code.label("village_code"),
    SUMMARY_VILLAGE.name.label("village_name"),
    GridCell.code.label("cell_code"),
    GridCell.name.label("cell_name"),
)
SUMMARY_VILLAGE_JOIN = SUMMARY_VILLAGE.id == Case.village_id
SUMMARY_CELL_JOIN = GridCell.id == Case.grid_cell_id
# The answer's fields besides the id, read from a row's mapping (faster than attributes).
SUMMARY_OUT = tuple(name for name in SUMMARY_FIELDS if name != "id")


# Its date and time fields, dumped as ISO text (marshmallow's Date and DateTime fields); the
# others are strings and integers, dumped as they are.
SUMMARY_DATES = ("reported_at", "next_due", "accept_due", "resolve_due")


def summary_json(values) -> dict:
    """A list row (its mapping of column names) as the JSON CaseSummary describes."""
    item = {name: values[name] for name in SUMMARY_OUT}
    for name in SUMMARY_DATES:
        if item[name] is not None:
            item[name] = item[name].isoformat()
    item["village"] = {"code": values["village_code"], "name": values["village_name"]}
    item["grid_cell"] = {"code": values["cell_code"], "name": values["cell_name"]}
    return item


def soonest(args: dict, limit: int) -> list[Case]:
    """The first cases of a filtered list, nearest deadline first (the workbench's lists)."""
    return db.session.scalars(filtered(args).order_by(DUE_KEY, Case.id).limit(limit)).all()


# --- maps and nearby -----------------------------------------------------------------------------

# The map layer's coordinates: 5 decimals, about 1 m on the ground (a case's point is a report's
# position, not a survey's); its default page when the caller asks none (config can lower it).
GEOJSON_PRECISION = 5
GEOJSON_LIMIT = 5000

# The filters shared by the map layer and the per-region counts (CAST: a NULL means "any").
MAP_FILTERS = """
   AND (CAST(:minx AS float8) IS NULL
        OR c.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
   AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
   AND (NOT :open OR c.state = ANY(:open_states))
   AND (CAST(:rfrom AS timestamptz) IS NULL OR c.reported_at >= :rfrom)
   AND (CAST(:rto AS timestamptz) IS NULL OR c.reported_at < :rto)
"""


def map_params(args: dict, scope: Scope, *, day_bounds: bool) -> tuple[str, dict]:
    """The scope condition on `c` and the parameters of MAP_FILTERS from a map query.

    `day_bounds`: reported_from/to are Asia/Shanghai days (the per-region counts); otherwise
    they are passed as given (the map layer's dates, as it always read them).
    """
    condition, params = scope_sql(scope, "c")
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    rfrom, rto = args.get("reported_from"), args.get("reported_to")
    if day_bounds:
        rfrom = clock.start_of(rfrom) if rfrom else None
        rto = clock.start_of(rto + dt.timedelta(days=1)) if rto else None
    return condition, {
        **params,
        **STATE_PARAMS,
        "minx": minx,
        "miny": miny,
        "maxx": maxx,
        "maxy": maxy,
        "kind": args.get("kind"),
        "open": args["open"],
        "rfrom": rfrom,
        "rto": rto,
    }


def cases_geojson(args: dict, scope: Scope, next_url: str = "") -> tuple[bytes, str | None]:
    """Case locations as a FeatureCollection (UTF-8 bytes from PostGIS), no personal data, and
    the cursor of the rest when the answer was cut at the limit (newest first, keyset on id).

    Only what the maps draw (app/static/js riskmap.js, mygrid.js): 5 decimals (about 1 m).
    """
    condition, params = map_params(args, scope, day_bounds=False)
    if args.get("after"):
        _, before = paging.decode_cursor(args["after"])
        condition += " AND c.id < :before_id"
        params["before_id"] = before
    select_sql = f"""
        SELECT c.id, c.number, c.kind, c.category, c.state, c.warning, c.reported_at,
               c.location, c.location_approximate
          FROM cases c
         WHERE {condition} {MAP_FILTERS}"""
    sql = feature_collection_sql(
        select_sql,
        feature_id="number",
        geometry="location",
        properties={
            "number": "number",
            "kind": "kind",
            "category": "category",
            "state": "state",
            "warning": "warning",
            "reported_on": "(reported_at AT TIME ZONE 'Asia/Shanghai')::date",
            # A ledger import placed it at its village's or cell's representative point.
            "location_approximate": "location_approximate",
        },
        order_by="id DESC",
        as_bytes=True,
        precision=GEOJSON_PRECISION,
        next_key="id",
    )
    values = {**params, "limit": args["limit"], "next_url": next_url}
    body, cursor = replica.session().execute(text(sql), values).one()
    return bytes(body), cursor


# level → (digits of the case's grid-cell code that name the unit, SQL for the unit's code,
#          the table and geometry holding the unit's shape)
UNITS = {
    "town": (9, "k || '000'", "regions", "boundary"),
    "village": (12, "k", "regions", "boundary"),
    "grid_cell": (15, "k", "grid_cells", "geom"),
}

BY_REGION_SQL = """
WITH agg AS (
    SELECT left(c.region_code, {digits}) AS k,
           count(*) AS cases,
           count(*) FILTER (WHERE c.state = ANY(:open_states)) AS open,
           count(*) FILTER (WHERE c.warning = 'yellow' AND c.state = ANY(:open_states)) AS yellow,
           count(*) FILTER (WHERE c.warning = 'red' AND c.state = ANY(:open_states)) AS red
      FROM cases c
     WHERE {condition} {filters}
     GROUP BY 1
)
SELECT u.code, u.name, u.{geom} AS geom, agg.cases, agg.open, agg.yellow, agg.red
  FROM agg JOIN {table} u ON u.code = {code}
"""


def bbox_of(geom: str) -> str:
    """SQL for a geometry's [minLon, minLat, maxLon, maxLat], 6 decimals."""
    return "json_build_array({})".format(
        ", ".join(f"round(ST_{f}({geom})::numeric, 6)" for f in ("XMin", "YMin", "XMax", "YMax"))
    )


def cases_by_region(args: dict, scope: Scope) -> str:
    """Case counts per town, village or grid cell (a point inside each) as a FeatureCollection."""
    digits, code, table, geom = UNITS[args["level"]]
    condition, params = map_params(args, scope, day_bounds=True)
    select_sql = BY_REGION_SQL.format(
        digits=digits, code=code, table=table, geom=geom, condition=condition, filters=MAP_FILTERS
    )
    sql = feature_collection_sql(
        select_sql,
        feature_id="code",
        geometry="ST_PointOnSurface(geom)",
        properties={
            "code": "code",
            "name": "name",
            "level": "CAST(:level AS text)",
            "cases": "cases",
            "open": "open",
            "yellow": "yellow",
            "red": "red",
        },
        order_by="code",
        limited=False,
        members={"level": "CAST(:level AS text)", "total": "coalesce(sum(cases), 0)"},
        feature_members={"bbox": bbox_of("geom")},
    )
    return db.session.execute(text(sql), {**params, "level": args["level"]}).scalar_one()


def nearby(lon: float, lat: float, category: str | None, scope: Scope) -> list[Case]:
    """Open cases within 200 m reported in the last 30 days: likely duplicates of a new report."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    stmt = scoped(select(Case), scope).where(
        Case.state.in_(sorted(workflow.OPEN_STATES)),
        Case.reported_at >= clock.now() - dt.timedelta(days=30),
        func.ST_DWithin(func.Geography(Case.location), func.Geography(point), 200),
    )
    if category:
        stmt = stmt.where(Case.category == category)
    stmt = stmt.order_by(func.ST_Distance(func.Geography(Case.location), func.Geography(point)))
    return db.session.scalars(stmt.limit(20)).all()


def handlers_for(case: Case) -> list[User]:
    """Active mediators and officials whose jurisdiction is at the case's level and holds it
    (the choices of 指定承办人; app/cases/services.handler_fits is the rule)."""
    digits = {"county": 6, "town": 9, "village": 12}[case.level]
    code = case.region_code[:digits].ljust(12, "0")
    return db.session.scalars(
        select(User)
        .join(Region, Region.id == User.region_id)
        .where(User.role.in_(sorted(workflow.HANDLERS)), User.active, Region.code == code)
        .order_by(User.role, User.id)
    ).all()


def mediators_for(case: Case) -> list[User]:
    """Active mediators whose jurisdiction holds the case (the choices of 指定调解员)."""
    prefixes = [case.region_code[:n] for n in (6, 9, 12)]
    codes = [p + "0" * (12 - len(p)) for p in prefixes]
    return db.session.scalars(
        select(User)
        .join(Region, Region.id == User.region_id)
        .where(User.role == "mediator", User.active, Region.code.in_(codes))
        .order_by(User.id)
    ).all()
