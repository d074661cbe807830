"""工作简报 API: ask for a briefing (202 + job), follow its progress, download .docx / PDF; the
template (admins)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields

from app.briefings import jobs
from app.briefings import services
from app.briefings.schemas import BriefingIn
from app.briefings.schemas import TemplateIn
from app.core.errors import Conflict
from app.extensions import Blueprint
from app.policy import requires

blp = Blueprint(
    "briefings", __name__, url_prefix="/api/v1", description="工作简报 (work briefings)"
)

DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BINARY = {"type": "string", "format": "binary"}


class BriefingOut(Schema):
    """A briefing job: its state and progress, and its documents once done."""

    id = fields.Integer()
    region = fields.Method("region_ref")
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    state = fields.String(metadata={"description": "queued / running / done / failed"})
    progress = fields.Integer(metadata={"description": "0–100"})
    error = fields.String(allow_none=True)
    template_version = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    links = fields.Method("documents")

    def region_ref(self, job):
        return {"code": job.region.code, "name": job.region.name, "level": job.region.level}

    def documents(self, job):
        if job.state != "done":
            return {}
        return {
            "docx": url_for("briefings.briefing_docx", job_id=job.id),
            "pdf": url_for("briefings.briefing_pdf", job_id=job.id),
        }


class TemplateOut(Schema):
    """The briefing template."""

    title = fields.String()
    body = fields.String()
    version = fields.Integer()
    updated_at = fields.DateTime()


@blp.route("/briefings", methods=["POST"])
@requires("briefings.create")
@blp.arguments(BriefingIn)
@blp.response(202, BriefingOut)
@blp.alt_response(404, response="DEFAULT_ERROR", description="区域不存在（或不在辖区内）")
@blp.alt_response(422, response="DEFAULT_ERROR", description="区间有误")
def create_briefing(data):
    """Ask for a briefing; it is generated in the background (poll the job)."""
    job = services.create_job(data, current_user)
    jobs.defer(job.id)
    return job


@blp.route("/briefings/<int:job_id>")
@requires("briefings.read")
@blp.response(200, BriefingOut)
@blp.alt_response(404, response="DEFAULT_ERROR", description="简报不存在（或不在辖区内）")
def get_briefing(job_id):
    """A briefing job: state, progress, links to its documents."""
    return services.visible_job(job_id, current_user)


def document(job_id: int, which: str) -> Response:
    """One of a finished job's documents as a download (409 until it is done)."""
    job = services.visible_job(job_id, current_user)
    if job.state != "done":
        raise Conflict(_("简报尚未生成完毕"))
    body, mimetype = (job.docx, DOCX_MIMETYPE) if which == "docx" else (job.pdf, "application/pdf")
    name = f"工作简报-{job.region.name}-{job.date_from}-{job.date_to}.{which}"
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"briefing-{job.id}.{which}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/briefings/<int:job_id>.docx")
@requires("briefings.read")
@blp.response(200, BINARY, content_type=DOCX_MIMETYPE, description="简报（Word）")
@blp.alt_response(404, response="DEFAULT_ERROR", description="简报不存在（或不在辖区内）")
@blp.alt_response(409, response="DEFAULT_ERROR", description="尚未生成完毕")
def briefing_docx(job_id):
    """The briefing as .docx."""
    return document(job_id, "docx")


@blp.route("/briefings/<int:job_id>.pdf")
@requires("briefings.read")
@blp.response(200, BINARY, content_type="application/pdf", description="简报（PDF）")
@blp.alt_response(404, response="DEFAULT_ERROR", description="简报不存在（或不在辖区内）")
@blp.alt_response(409, response="DEFAULT_ERROR", description="尚未生成完毕")
def briefing_pdf(job_id):
    """The briefing as PDF."""
    return document(job_id, "pdf")


@blp.route("/briefing-template")
@requires("briefings.template")
@blp.response(200, TemplateOut)
def get_template():
    """The briefing template (placeholders: docs/briefings.md)."""
    return services.template()


@blp.route("/briefing-template", methods=["PUT"])
@requires("briefings.template")
@blp.arguments(TemplateIn)
@blp.response(200, TemplateOut)
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已变（他人已修改）")
@blp.alt_response(422, response="DEFAULT_ERROR", description="模板有误（语法或未知占位符）")
def put_template(data):
    """Change the template: the next briefing uses it."""
    return services.update_template(data, data["version"], current_user)
