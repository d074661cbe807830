"""The case queue (nearest deadline first) and the case page with its action forms."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from app import pii
from app.cases import files
from app.cases import queries
from app.cases import schemas
from app.cases import services
from app.cases import workflow
from app.cases.models import Case
from app.core import actions
from app.core import clock
from app.core.errors import DomainError
from app.core.errors import NotFound
from app.dispatch import queries as dispatch_queries
from app.dispatch import services as dispatch_services
from app.documents import kinds as notice_kinds
from app.extensions import db
from app.policy import allows
from app.policy import requires
from app.privacy import freetext
from app.resident import queries as resident_queries
from app.web import cameras
from app.web import forms
from app.web import labels
from app.web.layout import map_parts
from app.web.layout import tiles
from maps.pages import case_map

bp = Blueprint("casework", __name__)

PAGE_SIZE = 50
OPEN = sorted(workflow.OPEN_STATES)
# Which states a queue filter shows.
STATE_FILTERS = {
    "open": OPEN,
    "resolved": ["resolved", "followed_up"],
    "closed": ["closed", "rejected", "withdrawn"],
    "all": [],
}


def queue_field_names() -> dict[str, str]:
    """Display names of the queue's filters (as the form labels them), by the query's names."""
    return {
        "states": _("状态"),
        "level": _("层级"),
        "kind": _("类型"),
        "category": _("类别"),
        "warning": _("预警"),
        "overdue": _("超期"),
        "supervised": _("督办"),
        "q": _("关键词"),
        "mine": _("我的"),
    }


def mine_choices() -> list[tuple[str, str]]:
    """The queue's "mine" filters with their names (app/cases/queries.mine)."""
    return [
        ("reported", _("我上报的")),
        ("handed", _("我交办的")),
        ("handling", _("我承办的")),
    ]


def queue_args() -> tuple[dict | None, dict, forms.Failure]:
    """The queue's filters from the query string, validated as the API validates them:
    (the query, the filters as shown, the Failure naming each filter it could not take)."""
    raw = request.args
    # "Mine" lists follow a case to whatever level it went (a mediator's default is their own).
    mediator = current_user.role == "mediator" and not raw.get("mine")
    default_level = current_user.region.level if mediator else "all"
    shown = {
        "states": raw.get("states", "open"),
        "level": raw.get("level", default_level),
        "kind": raw.get("kind", ""),
        "category": raw.get("category", ""),
        "warning": raw.get("warning", ""),
        "overdue": raw.get("overdue", ""),
        "supervised": raw.get("supervised", ""),
        "q": raw.get("q", ""),
        "mine": raw.get("mine", ""),
    }
    query = {"limit": PAGE_SIZE}
    states = STATE_FILTERS.get(shown["states"], OPEN)
    if states:
        query["state"] = states
    for name in ("kind", "category", "warning", "q", "mine"):
        if shown[name]:
            query[name] = shown[name]
    if shown["level"] in workflow.LEVEL_RANK:
        query["level"] = shown["level"]
    for name in ("overdue", "supervised"):
        if shown[name] in ("true", "false"):
            query[name] = shown[name]
    if raw.get("after"):
        query["after"] = raw["after"]
    try:
        return schemas.CaseQuery().load(query), shown, forms.NO_FAILURE
    except ValidationError as exc:
        errors = {"states" if k == "state" else k: v for k, v in exc.messages.items()}
        return None, shown, forms.filter_failure("queue", errors, queue_field_names())


@bp.route("/cases")
@requires("cases.read")
def queue():
    """Cases at the caller's level in their jurisdiction, nearest deadline first, filtered;
    a filter it cannot take: the form again (400), the message beside that filter."""
    args, shown, failed = queue_args()
    items, after = queries.queue_page(args, PAGE_SIZE) if args is not None else ([], None)
    next_args = {k: v for k, v in shown.items() if v} | {"after": after} if after else None
    page = render_template(
        "cases/queue.html",
        cases=items,
        shown=shown,
        failed=failed,
        next_url=url_for("casework.queue", **next_args) if next_args else None,
        today=clock.today(),
        categories=sorted({c for cs in schemas.CATEGORIES.values() for c in cs}),
        can_export=allows(current_user.role, "cases.export"),
        mine_choices=mine_choices(),
    )
    return page, 400 if failed else 200


def days_left(due: dt.date | None, today: dt.date) -> int | None:
    """Days until a deadline (negative when overdue)."""
    return None if due is None else (due - today).days


# --- the case page -------------------------------------------------------------------------------

# Fields each action's form has (beyond the hidden version); booleans and lists are converted.
BOOLEAN_FIELDS = {"approved", "performed", "signed_by_parties", "signed_by_mediator"}
LIST_FIELDS = {"routes_informed", "routes_told", "mediator_ids"}
AGREEMENT_FIELDS = (
    "form",
    "agreed_by",
    "facts",
    "responsibilities",
    "terms",
    "performance_method",
    "performance_due",
    "signed_on",
    "signed_by_parties",
    "signed_by_mediator",
)


def form_payload(action: str, form) -> dict:
    """The API body an action form stands for: empty fields left out, types converted."""
    body: dict = {}
    for key in form:
        if key in ("csrf_token", "version") or key.startswith("agreement."):
            continue
        if key in LIST_FIELDS:
            values = [v.strip() for v in form.getlist(key) if v.strip()]
            if key == "mediator_ids":
                values = [int(v) if v.isdigit() else v for v in values]
            if values:
                body[key] = values
            continue
        value = form.get(key, "").strip()
        if value == "":
            continue
        if key in BOOLEAN_FIELDS:
            body[key] = value == "true"
        elif key in ("days", "handler_id"):
            body[key] = int(value) if value.isdigit() else value
        else:
            body[key] = value
    typed_agreement = any(
        form.get(f"agreement.{name}", "").strip()
        for name in AGREEMENT_FIELDS
        if not name.startswith("signed_by_") and name != "form"
    )
    if action == "resolve" and body.get("outcome") == "agreement" and typed_agreement:
        agreement = {}
        for name in AGREEMENT_FIELDS:
            value = form.get(f"agreement.{name}", "").strip()
            if name.startswith("signed_by_"):
                if form.get("agreement.form") != "oral":
                    agreement[name] = value == "true"
            elif value:
                agreement[name] = value
        body["agreement"] = agreement
    return body


HANDLER_ACTIONS = ("claim", "assign_handler")


def render_case(
    case: Case,
    status: int = 200,
    failed: dict | forms.Failure | None = None,
    dispatch_failed: dict | None = None,
):
    """The case page; `failed` re-opens an action's form with what was typed and the errors
    (`dispatch_failed` one of the dispatch panel's forms)."""
    case = queries.detail(case)
    dispatches = dispatch_queries.listing(case, current_user)
    units = dispatch_queries.units_for(current_user) if dispatches["can_dispatch"] else []
    today = clock.today()
    outcomes = workflow.OUTCOMES[case.kind]
    lower = [
        lv
        for lv in workflow.LEVEL_RANK
        if workflow.LEVEL_RANK[lv] < workflow.LEVEL_RANK[case.level]
    ]
    # Forms only for actions that can succeed: nothing to 交办 below a village, no 上报 above
    # the county (the workflow table allows both by state and role).
    offered = [
        a
        for a in case.allowed_actions
        if not (a == "assign_down" and not lower)
        and not (a == "escalate" and workflow.next_level(case.level) is None)
        and a != "dispatch"  # the dispatch panel (cases/_dispatches.html) has its own form
    ]
    mediators = queries.mediators_for(case) if "name_mediators" in offered else []
    # 认领 and 指定承办人 have their forms beside the handler (cases/_handler.html).
    handler_actions = [a for a in offered if a in HANDLER_ACTIONS]
    offered = [a for a in offered if a not in HANDLER_ACTIONS]
    handlers = [
        (str(u.id), f"{u.display_name}（{labels.label('role', u.role)}）")
        for u in (queries.handlers_for(case) if "assign_handler" in handler_actions else [])
    ]
    return (
        render_template(
            "cases/detail.html",
            case=case,
            today=today,
            days_left=days_left(case.next_due, today),
            outcomes=list(outcomes),
            # A Failure already made (the resident panel's form) or a take_action dict.
            failed=failed if isinstance(failed, forms.Failure) else forms.case_failure(failed),
            lower_levels=lower,
            mediator_choices=mediators,
            offered=offered,
            dispatches=dispatches,
            units=units,
            unit_choices=[(str(u.id), u.name) for u in units],
            dispatch_failed=forms.dispatch_failure(dispatch_failed),
            handler_actions=handler_actions,
            handler_choices=handlers,
            can_reveal=allows(current_user.role, "cases.reveal"),
            reveal_purposes=pii.REVEAL_PURPOSES,
            masked_text=freetext.has_originals(case.id),
            notices=notice_kinds.applicable(case),
            ratings=resident_queries.ratings_of(case.id),
            can_act=allows(current_user.role, "cases.act") and bool(case.allowed_actions),
            map=map_parts(case_map(tiles(), (case.lat, case.lon), _("事件位置"))),
            nearby_cameras=cameras.nearby(case.lon, case.lat),
        ),
        status,
    )


@bp.route("/cases/<number>")
@requires("cases.read")
def case_page(number: str):
    """One case: facts, timeline, a small map, masked parties and the actions allowed now."""
    return render_case(queries.visible_case(number))


def photos_of(action: str) -> list:
    """The checked photos a 办理记录 form sent (none for other actions, or none chosen); a bad
    one is the form's error beside its field."""
    chosen = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
    if action != "record_progress" or not chosen:
        return []
    try:
        return files.checked_uploads(chosen)
    except DomainError as exc:
        raise DomainError(exc.status, exc.message, {"json": exc.errors}) from None


@bp.route("/cases/<number>/act/<action>", methods=["POST"])
@requires("cases.act")
def take_action(number: str, action: str):
    """Take one workflow action from its form, with the version the page showed."""
    case = queries.visible_case(number)
    if action not in schemas.ACTION_SCHEMAS:
        raise NotFound(_("未知操作"))
    body = form_payload(action, request.form)
    typed = {"action": action, "values": request.form.to_dict(flat=False)}
    version = forms.shown_version(request.form)
    step = services.action_step(case, current_user, action, version)
    try:
        # 办理记录 may bring photos: checked before the note is written, stored with it.
        uploads = photos_of(action)
        actions.run(step, case, body, version=version, stale_message=services.stale_message())
        if uploads:
            files.attach(case, uploads, current_user)
    except DomainError as exc:
        # The runner's savepoint is rolled back: show the case as it now is, with the form.
        db.session.expire(case)
        if exc.status == 409 and "version" in exc.errors:
            return render_case(case, 409, {**typed, "stale": exc.errors["version"]})
        failed = forms.refused_form(exc, typed)
        return render_case(case, exc.status, failed)
    flash(
        _(
            "已完成“%(action)s”：事件 %(number)s",
            action=labels.label("action", action),
            number=number,
        ),
        "success",
    )
    return redirect(url_for("casework.case_page", number=number))


# --- the dispatch panel (分拨交办) ----------------------------------------------------------------

DISPATCH_LISTS = ("co_department_ids", "informed_department_ids")


def dispatch_payload(form) -> dict:
    """The API body of the dispatch form: units as ids, empty fields left out."""
    body: dict = {}
    lead = form.get("lead_department_id", "").strip()
    if lead:
        body["lead_department_id"] = forms.form_int(lead)
    for name in DISPATCH_LISTS:
        ids = [forms.form_int(v) for v in form.getlist(name) if v.strip()]
        if ids:
            body[name] = ids
    for name in ("instructions", "report_due"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    return body


def run_from_page(case: Case, form_name: str, step, subject, body, version, stale_message):
    """Run a dispatch form's action; the page again with the form's errors when refused."""
    typed = {"action": form_name, "values": request.form.to_dict(flat=False)}
    try:
        actions.run(step, subject, body, version=version, stale_message=stale_message)
    except DomainError as exc:
        db.session.expire_all()
        if exc.status == 409 and "version" in exc.errors:
            return render_case(case, 409, dispatch_failed={**typed, "stale": exc.errors["version"]})
        return render_case(case, exc.status, dispatch_failed=forms.refused_form(exc, typed))
    return None


@bp.route("/cases/<number>/dispatch", methods=["POST"])
@requires("dispatch.act")
def dispatch_case(number: str):
    """分拨交办 from the dispatch form, with the case's version the page showed."""
    case = queries.visible_case(number)
    version = forms.shown_version(request.form)
    step = services.action_step(case, current_user, "dispatch", version)
    refused = run_from_page(
        case,
        "dispatch",
        step,
        case,
        dispatch_payload(request.form),
        version,
        services.stale_message(),
    )
    if refused is not None:
        return refused
    flash(_("已分拨交办：事件 %(number)s", number=number), "success")
    return redirect(url_for("casework.case_page", number=number, _anchor="dispatches-h"))


@bp.route("/cases/<number>/dispatches/<int:dispatch_id>/act/<action>", methods=["POST"])
@requires("dispatch.act")
def dispatch_step(number: str, dispatch_id: int, action: str):
    """One step on a dispatch from its form (a report's photos as `photos` files)."""
    case = queries.visible_case(number)
    dispatch = dispatch_queries.dispatch_of(case, dispatch_id)
    body = form_payload("resolve" if action == "accept" else action, request.form)
    if "handler_id" in body:
        body["handler_id"] = forms.form_int(str(body["handler_id"]))
    files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
    version = forms.shown_version(request.form)
    step = dispatch_services.step(case, dispatch, current_user, action, version, files)
    refused = run_from_page(
        case,
        f"d{dispatch_id}-{action}",
        step,
        dispatch,
        body,
        version,
        dispatch_services.stale_message(),
    )
    if refused is not None:
        return refused
    flash(
        _(
            "已完成“%(action)s”：%(unit)s",
            action=labels.label("dispatch_action", action),
            unit=dispatch.department.name,
        ),
        "success",
    )
    return redirect(url_for("casework.case_page", number=number, _anchor=f"dispatch-{dispatch_id}"))
