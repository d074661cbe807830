"""Cameras' pages (雪亮工程): the admin's list and xlsx import; "cameras nearby" for case and
risk point pages (docs/cameras.md).

The import page calls the same service the API would (app/cameras/services.import_file): a dry
run lists every problem by row and column and writes nothing; applying writes a clean file.
"""

from __future__ import annotations

import io

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.cameras import queries
from app.cameras import services
from app.core.errors import Invalid
from app.policy import allows
from app.policy import requires
from app.scoping import current_scope

bp = Blueprint("camera_pages", __name__)

MAX_FILE_BYTES = 10 * 1024 * 1024


def nearby(lon: float, lat: float) -> dict | None:
    """Cameras the user may see within the configured radius of a point, for a page's panel;
    None when the user may not read cameras."""
    if not allows(current_user.role, "cameras.read"):
        return None
    radius = current_app.config["CAMERA_NEARBY_RADIUS_M"]
    target = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
    rows = queries.nearby(target, {"lon": lon, "lat": lat}, current_scope(), radius)
    return {"radius": radius, "cameras": rows}


def render_cameras(status: int = 200, report: dict | None = None, error: str | None = None):
    """The admin's camera list and the import form (with the last dry run's report)."""
    page = queries.list_page({"limit": 500}, current_scope())
    return (
        render_template(
            "cameras/admin.html",
            cameras=page["items"],
            truncated=page["truncated"],
            report=report,
            error=error,
        ),
        status,
    )


@bp.route("/admin/cameras")
@requires("cameras.manage")
def cameras():
    """雪亮工程点位: the cameras of the admin's jurisdiction, and the ledger import."""
    return render_cameras()


@bp.route("/admin/cameras/import", methods=["POST"])
@requires("cameras.manage")
def import_cameras():
    """Check (mode=dry_run) or apply (mode=apply) an xlsx camera ledger."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_cameras(422, error=_("请选择要导入的 .xlsx 文件"))
    data = upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return render_cameras(413, error=_("文件过大：最多 10 MB"))
    apply = request.form.get("mode") == "apply"
    try:
        report = services.import_file(_stream(data), current_scope(), current_user, apply=apply)
    except Invalid as exc:
        problems = (exc.errors or {}).get("problems", [])
        report = {"problems": problems, "applied": False, "refused": True}
        return render_cameras(422, report=report, error=exc.message)
    if apply:
        flash(
            _(
                "已导入：新增 %(new)s，更新 %(updated)s，未变 %(unchanged)s",
                new=report["new"],
                updated=report["updated"],
                unchanged=report["unchanged"],
            ),
            "success",
        )
        return redirect(url_for("camera_pages.cameras"))
    return render_cameras(report=report)


def _stream(data: bytes):
    """The upload as a file openpyxl can read."""
    return io.BytesIO(data)
