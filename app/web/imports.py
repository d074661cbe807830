"""台账导入 pages (docs/imports.md): upload a historical ledger, check and edit the column
mapping (saved per template), see the dry run's problems by row and column, apply it in the
background and watch its progress (the page polls the status endpoint). On the admin blueprint,
like app/web/holidays.py; the request boundary commits."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.errors import Conflict
from app.core.errors import Invalid
from app.imports import jobs
from app.imports import parse
from app.imports import services
from app.policy import requires
from app.web.admin import bp
from app.web.forms import NO_FAILURE
from app.web.forms import Failure

MAX_UPLOAD = 30 * 1024 * 1024
# A file larger than this is checked (dry run) in the background, the page showing its state: a
# ledger of tens of thousands of rows takes longer than a request may (docs/imports.md).
INLINE_CHECK_BYTES = 256 * 1024


def check(imp) -> None:
    """Dry-run a small file now, a large one in the background."""
    if len(imp.content_enc) > INLINE_CHECK_BYTES:
        services.queue_check(imp)
        jobs.defer_check(imp.id)
    else:
        services.dry_run(imp, current_user)


def state_names() -> dict[str, str]:
    """An import's states in words."""
    return {
        "queued": _("待检查"),
        "checking": _("检查中（后台逐行检查，完成后本页刷新）"),
        "running": _("导入中"),
        "dry_run_done": _("已试运行"),
        "applied": _("已导入"),
        "failed": _("失败"),
    }


def field_names() -> dict[str, str]:
    """The upload form's fields as it labels them."""
    return {"file": _("文件"), "county": _("导入到"), "template": _("模板"), "mapping": _("列对应")}


def render_list(failed: Failure = NO_FAILURE, status: int = 200):
    """The upload form and the latest imports."""
    page = render_template(
        "admin/imports.html",
        failed=failed,
        imports=services.recent(current_user),
        counties=[(c.code, c.name) for c in services.counties_for(current_user)],
        templates=[(t.name, t.name) for t in services.templates()],
        states=state_names(),
    )
    return page, status


@bp.route("/imports")
@requires("ledger.import")
def imports():
    """台账导入: upload a ledger; the latest imports with their state."""
    return render_list()


@bp.route("/imports", methods=["POST"])
@requires("ledger.import")
def upload_import():
    """Keep the file, map its columns (the template's or the synonyms') and dry-run it."""
    lead = lambda reason: _("未能读取台账：%(reason)s", reason=reason)  # noqa: E731
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        errors = {"file": [_("请选择 Excel（.xlsx）或 CSV 文件")]}
        return render_list(Failure.of("upload", lead, field_names(), errors=errors), 422)
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        errors = {"file": [_("文件超过 30 MB：请分批导入")]}
        return render_list(Failure.of("upload", lead, field_names(), errors=errors), 422)
    template = None
    if request.form.get("template"):
        template = services.template_named(request.form["template"])
    try:
        county = services.county_for(current_user, request.form.get("county"))
        imp = services.create(data, upload.filename, county, current_user, template)
        check(imp)
    except Invalid as exc:
        errors = (exc.errors or {}).get("json", {})
        return render_list(Failure.of("upload", lead, field_names(), errors=errors), 422)
    return redirect(url_for("admin.import_page", import_id=imp.id))


def visible(import_id: int):
    """The import, or the 404 of one out of reach."""
    imp = services.get_visible(import_id, current_user)
    if imp is None:
        abort(404)
    return imp


def render_import(imp, failed: Failure = NO_FAILURE, status: int = 200):
    """One import: its mapping form, the dry run's problems, the apply button, the progress."""
    headers = services.headers_of(imp)
    page = render_template(
        "admin/import.html",
        imp=imp,
        failed=failed,
        headers=[(h, parse.header_key(h)) for h in headers],
        fields=parse.FIELD_LABELS,
        states=state_names(),
        templates=services.templates(),
        status=services.status(imp),
    )
    return page, status


@bp.route("/imports/<int:import_id>")
@requires("ledger.import")
def import_page(import_id: int):
    """An import's mapping, problems and progress."""
    return render_import(visible(import_id))


@bp.route("/imports/<int:import_id>/status")
@requires("ledger.import")
def import_status(import_id: int):
    """The import's state, progress and counts as JSON (the page polls it)."""
    return jsonify(services.status(visible(import_id)))


@bp.route("/imports/<int:import_id>/mapping", methods=["POST"])
@requires("ledger.import")
def import_mapping(import_id: int):
    """Change the column mapping (optionally saving it as a named template) and dry-run again."""
    imp = visible(import_id)
    services.check_may_change(imp, current_user)
    lead = lambda reason: _("未能保存列对应：%(reason)s", reason=reason)  # noqa: E731
    mapping = {
        key[len("map:") :]: value for key, value in request.form.items() if key.startswith("map:")
    }
    try:
        services.set_mapping(imp, mapping)
        name = request.form.get("template_name", "").strip()
        if name:
            imp.template_id = services.save_template(name, imp.mapping, current_user).id
        check(imp)
    except Invalid as exc:
        errors = (exc.errors or {}).get("json", {})
        flat = {"mapping": [m for ms in errors.get("mapping", {}).values() for m in ms]}
        if "template" in errors:
            flat["template"] = errors["template"]
        return render_import(imp, Failure.of("mapping", lead, field_names(), errors=flat), 422)
    except Conflict as exc:
        failed = Failure.of("mapping", lead, field_names(), message=str(exc))
        return render_import(imp, failed, 409)
    flash(_("已按新的列对应重新试运行"), "success")
    return redirect(url_for("admin.import_page", import_id=imp.id))


@bp.route("/imports/<int:import_id>/apply", methods=["POST"])
@requires("ledger.import")
def apply_import(import_id: int):
    """Import the rows without problems, in the background."""
    imp = visible(import_id)
    services.check_may_change(imp, current_user)
    try:
        services.start(imp, current_user)
    except Conflict as exc:
        failed = Failure.of("apply", lambda r: r, {}, message=str(exc))
        return render_import(imp, failed, 409)
    jobs.defer(imp.id)
    flash(_("已开始导入：本页显示进度"), "success")
    return redirect(url_for("admin.import_page", import_id=imp.id))
