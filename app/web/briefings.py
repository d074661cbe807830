"""工作简报 pages: ask for a briefing of a region and period and watch it being made (the page
polls the job through the API), download it; the admins' template editor (on the admin
blueprint, like app/web/holidays.py)."""

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

from app.briefings import jobs
from app.briefings import services
from app.briefings.schemas import BriefingIn
from app.briefings.schemas import TemplateIn
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import Invalid
from app.policy import requires
from app.web import forms
from app.web.admin import bp as admin_bp
from app.web.forms import NO_FAILURE
from app.web.forms import Failure

bp = Blueprint("briefing_pages", __name__)


def last_quarter(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last full quarter before today: the form's default period."""
    first_of_this = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    end = first_of_this - dt.timedelta(days=1)
    return end.replace(month=(end.month - 1) // 3 * 3 + 1, day=1), end


def state_names() -> dict[str, str]:
    """A job's states in words."""
    return {"queued": _("排队中"), "running": _("生成中"), "done": _("已完成"), "failed": _("失败")}


def field_names() -> dict[str, str]:
    """The briefing form's fields as it labels them."""
    return {"region": _("区域"), "from": _("起"), "to": _("止")}


def render_page(failed: Failure = NO_FAILURE, status: int = 200):
    """The form, and the latest briefings in scope."""
    date_from, date_to = last_quarter(clock.today())
    page = render_template(
        "briefings/briefings.html",
        failed=failed,
        region=current_user.region,
        date_from=date_from,
        date_to=date_to,
        jobs=services.recent_jobs(current_user),
        highlight=request.args.get("job", type=int),
        choices=[(r.code, r.name) for r in services.region_choices(current_user)],
        states=state_names(),
    )
    return page, status


@bp.route("/briefings")
@requires("briefings.read")
def briefings():
    """工作简报: the form, and the briefings made in scope with their progress."""
    return render_page()


@bp.route("/briefings", methods=["POST"])
@requires("briefings.create")
def create_briefing():
    """Ask for a briefing (as POST /api/v1/briefings); back to the page, which follows it."""
    body = {key: request.form.get(key, "").strip() for key in ("region", "from", "to")}
    if not body["region"]:
        body.pop("region")
    lead = lambda reason: _("未能生成简报：%(reason)s", reason=reason)  # noqa: E731
    try:
        data = BriefingIn().load(body)
        job = services.create_job(data, current_user)
    except ValidationError as exc:
        return render_page(Failure.of("briefing", lead, field_names(), errors=exc.messages), 422)
    except Invalid as exc:
        errors = (exc.errors or {}).get("json", {})
        return render_page(Failure.of("briefing", lead, field_names(), errors=errors), 422)
    jobs.defer(job.id)
    flash(_("简报已开始生成"), "success")
    return redirect(url_for("briefing_pages.briefings", job=job.id))


def render_template_page(failed: Failure = NO_FAILURE, status: int = 200):
    """The template editor."""
    page = render_template("briefings/template.html", failed=failed, template=services.template())
    return page, status


def template_field_names() -> dict[str, str]:
    """The template form's fields as it labels them."""
    return {"title": _("标题"), "body": _("正文")}


@admin_bp.route("/briefing-template")
@requires("briefings.template")
def briefing_template():
    """The briefing template: title and body with placeholders."""
    return render_template_page()


@admin_bp.route("/briefing-template", methods=["POST"])
@requires("briefings.template")
def save_briefing_template():
    """Save the template (as PUT /api/v1/briefing-template)."""
    lead = lambda reason: _("未能保存简报模板：%(reason)s", reason=reason)  # noqa: E731
    body = {
        "title": request.form.get("title", ""),
        "body": request.form.get("body", "").replace("\r\n", "\n"),
        "version": forms.form_int(request.form.get("version", "")),
    }
    try:
        data = TemplateIn().load(body)
        services.update_template(data, data["version"], current_user)
    except ValidationError as exc:
        failed = Failure.of("template", lead, template_field_names(), errors=exc.messages)
        return render_template_page(failed, 422)
    except Invalid as exc:
        errors = (exc.errors or {}).get("json", {})
        failed = Failure.of("template", lead, template_field_names(), errors=errors)
        return render_template_page(failed, 422)
    except Conflict as exc:
        failed = Failure.of("template", lead, template_field_names(), message=str(exc), stale=True)
        return render_template_page(failed, 409)
    flash(_("已保存简报模板：之后生成的简报按新模板"), "success")
    return redirect(url_for("admin.briefing_template"))
