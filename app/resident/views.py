"""The resident's pages (docs/resident.md): the public progress page `/q/<number>` (no account)
and, on the case page, the printable receipt and the public outcome text.

The code is never part of a URL: the QR code links to `/q/<number>`, the resident types the
code (or progress.js fills it from the URL's fragment, which browsers do not send).
"""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from app.cases import queries as case_queries
from app.core.errors import DomainError
from app.extensions import db
from app.policy import public
from app.policy import requires
from app.resident import queries
from app.resident import schemas
from app.resident import services
from app.resident.models import RATING_NAMES
from app.resident.models import RATINGS
from app.resident.throttle import lookup_throttled
from app.web.casework import render_case
from app.web.forms import NO_FAILURE
from app.web.forms import Failure
from app.web.forms import action_failure
from app.web.forms import refused_form
from app.web.forms import shown_version

bp = Blueprint("resident", __name__)


def field_names() -> dict[str, str]:
    """Display names of the lookup and rating forms' fields."""
    return {
        "number": _("事项编号"),
        "code": _("查询码"),
        "rating": _("评价"),
        "comment": _("意见"),
    }


def rating_choices() -> list[tuple[str, str]]:
    return [(r, _(RATING_NAMES[r])) for r in RATINGS]


def render_lookup(number: str, failed=NO_FAILURE, status: int = 200, result=None, code=""):
    """The progress page: the form, and the answer once number and code were right."""
    return (
        render_template(
            "resident/progress.html",
            number=number,
            failed=failed,
            result=result,
            code=code,
            ratings=rating_choices(),
        ),
        status,
    )


def lookup_from_form(form_name: str, schema, number: str):
    """(receipt, data) from the posted form, or the page with the error beside its field."""
    raw = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    raw.setdefault("number", number)
    if number:
        raw["number"] = number
    try:
        data = schema.load(raw)
    except ValidationError as exc:
        failed = Failure.of(form_name, None, field_names(), errors=exc.messages)
        return None, render_lookup(raw.get("number", ""), failed, 422)
    try:
        receipt = services.lookup(data["number"], data["code"])
    except DomainError as exc:
        failed = Failure.of(form_name, None, field_names(), message=exc.message)
        return None, render_lookup(data["number"], failed, exc.status)
    return (receipt, data), None


@bp.route("/q", methods=["GET", "POST"], defaults={"number": ""})
@bp.route("/q/<number>", methods=["GET", "POST"])
@public
@lookup_throttled
def progress(number: str):
    """查询办理进度: the number (in the path, from the receipt's QR code) and the code."""
    if request.method == "GET":
        return render_lookup(number)
    found, refused = lookup_from_form("lookup", schemas.LookupIn(), number)
    if refused:
        return refused
    receipt, data = found
    return render_lookup(receipt.number, result=queries.progress(receipt), code=data["code"])


@bp.route("/q/<number>/rating", methods=["POST"])
@public
@lookup_throttled
def rate(number: str):
    """评价 from the progress page (the code comes again with the form, never in the URL)."""
    found, refused = lookup_from_form("rating", schemas.RatingIn(), number)
    if refused:
        return refused
    receipt, data = found
    try:
        services.rate(receipt, data["rating"], data.get("comment"))
    except DomainError as exc:
        failed = Failure.of("rating", None, field_names(), message=exc.message)
        result = queries.progress(receipt)
        return render_lookup(receipt.number, failed, exc.status, result, data["code"])
    flash(_("感谢您的评价"), "success")
    return render_lookup(receipt.number, result=queries.progress(receipt), code=data["code"])


# --- staff: the receipt and the public outcome, from the case page -------------------------------


@bp.route("/cases/<number>/receipt", methods=["POST"])
@requires("cases.act")
def print_receipt(number: str):
    """打印回执: a new code (the earlier one stops working), shown once on a printable page."""
    case = case_queries.visible_case(number)
    receipt = services.reprint(case, current_user)
    return render_template(
        "resident/receipt.html",
        case=case,
        receipt=receipt,
        county=case.county.name,
    )


@bp.route("/cases/<number>/public-outcome", methods=["POST"])
@requires("cases.act")
def public_outcome(number: str):
    """Save the outcome text residents see (with the version the case page showed); a refusal
    shows the case page again with the message beside the field and the text as typed."""
    case = case_queries.visible_case(number)
    text = request.form.get("public_outcome", "")
    try:
        services.set_public_outcome(case, current_user, text, shown_version(request.form))
    except DomainError as exc:
        db.session.expire(case)
        typed = {"action": "public_outcome", "values": request.form.to_dict(flat=False)}
        failed = action_failure(
            refused_form(exc, {**typed, "json": exc.errors.get("json") or {}}),
            _("修改公开办理结果"),
            {"public_outcome": _("公开办理结果")},
        )
        return render_case(case, exc.status, failed)
    flash(_("已保存公开办理结果"), "success")
    return redirect(url_for("casework.case_page", number=number))
