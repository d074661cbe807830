"""Measures (考核指标) and the case ledger export (台账): the API adapters.

The measures are computed in app/cases/measures.py and the ledger's rows in app/cases/ledger.py
(docs/measures.md); here the query is parsed and the answer shaped.
"""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import url_for
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields

from app import exports
from app.cases import export_jobs
from app.cases import ledger
from app.cases import measures
from app.cases import schemas
from app.core import clock
from app.core.dump import dump
from app.core.dump import json_answer
from app.core.errors import BadRequest
from app.core.errors import NotFound
from app.dispatch.measures import department_measures
from app.extensions import Blueprint
from app.policy import allows
from app.policy import deny
from app.policy import requires

blp = Blueprint(
    "case_reports",
    __name__,
    url_prefix="/api/v1",
    description="考核指标与台账导出 (measures and the ledger export)",
)

BINARY = {"type": "string", "format": "binary"}

# --- measures: input and output ------------------------------------------------------------------


class RatioOut(Schema):
    """A ratio with its parts."""

    numerator = fields.Integer()
    denominator = fields.Integer()
    rate = fields.Float(
        allow_none=True,
        metadata={"description": "numerator / denominator（4 位小数）；分母为 0 时为 null"},
    )


class SatisfactionOut(RatioOut):
    """满意率, with each answer counted."""

    satisfied = fields.Integer()
    basically_satisfied = fields.Integer()
    dissatisfied = fields.Integer()


class BacklogOut(Schema):
    """Open work as of now."""

    open = fields.Integer(metadata={"description": "在办（待受理、已受理、办理中）"})
    overdue_acceptance = fields.Integer(metadata={"description": "逾期未受理"})
    overdue_in_progress = fields.Integer(metadata={"description": "超期在办"})
    supervised = fields.Integer(metadata={"description": "督办中（未归档、未终止）"})
    supervised_by_colour = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "普通/黄牌/红牌"}
    )


class MedianOut(Schema):
    """A median duration in days."""

    median_days = fields.Float(allow_none=True)
    count = fields.Integer()


class SpeedOut(Schema):
    """How fast cases move."""

    report_to_acceptance = fields.Nested(MedianOut)
    acceptance_to_resolution = fields.Nested(MedianOut)


class MeasuresOut(Schema):
    """Every measure of shared/DOMAIN.md §6 for one region subtree and period."""

    village_retention = fields.Nested(RatioOut, metadata={"description": "小事不出村率"})
    town_retention = fields.Nested(RatioOut, metadata={"description": "大事不出镇率"})
    county_share = fields.Nested(RatioOut, metadata={"description": "矛盾上交率"})
    on_time_acceptance = fields.Nested(RatioOut, metadata={"description": "受理及时率"})
    on_time_resolution = fields.Nested(RatioOut, metadata={"description": "按期办结率"})
    success_rate = fields.Nested(RatioOut, metadata={"description": "化解成功率（矛盾纠纷）"})
    satisfaction = fields.Nested(SatisfactionOut, metadata={"description": "满意率（回访）"})
    resident_satisfaction = fields.Nested(
        SatisfactionOut, metadata={"description": "满意率（群众评价，docs/resident.md）"}
    )
    backlog = fields.Nested(BacklogOut)
    speed = fields.Nested(SpeedOut)


class TotalMeasuresOut(MeasuresOut):
    """The measures of the whole region, with the hook for risk points."""

    risk = fields.Raw(
        allow_none=True,
        metadata={"description": "风险隐患指标：风险点模块上线后提供，目前恒为 null"},
    )


class RegionRefOut(Schema):
    """A region by code, name and level."""

    code = fields.String()
    name = fields.String(allow_none=True)
    level = fields.String()


class SubRegionOut(Schema):
    """One row of the 工作台 table."""

    code = fields.String()
    name = fields.String(allow_none=True)
    measures = fields.Nested(MeasuresOut)


class BreakdownOut(Schema):
    """The measures of each sub-region one level down."""

    level = fields.String(metadata={"description": "town / village / grid_cell"})
    items = fields.List(fields.Nested(SubRegionOut))


class TrendMonthOut(Schema):
    """One month of the trend, clipped to the period."""

    month = fields.String(metadata={"description": "YYYY-MM"})
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    reported = fields.Integer()
    closed = fields.Integer()
    village_retention = fields.Nested(RatioOut)


class PeriodOut(Schema):
    """The period measured."""

    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    timezone = fields.String()


class DepartmentMeasureValuesOut(Schema):
    """The five measures of one department (docs/measures.md, "Measures per department")."""

    on_time_signing = fields.Nested(RatioOut, metadata={"description": "签收及时率"})
    on_time_report = fields.Nested(RatioOut, metadata={"description": "按期办结率（主办）"})
    return_rate = fields.Nested(RatioOut, metadata={"description": "退回率（主办、协办）"})
    redo_rate = fields.Nested(RatioOut, metadata={"description": "重办率（主办）"})
    satisfaction = fields.Nested(SatisfactionOut, metadata={"description": "满意率"})


class DepartmentMeasuresOut(Schema):
    """One department (职能部门) in the caller's scope and its measures over the period."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.Nested(schemas.CaseRegionRef)
    open = fields.Integer(metadata={"description": "在办交办（待签收、办理中、待核查），当前"})
    measures = fields.Nested(DepartmentMeasureValuesOut)


class MetricsOut(Schema):
    """Measures of a region subtree over a period, by sub-region, and month by month."""

    region = fields.Nested(RegionRefOut)
    period = fields.Nested(PeriodOut)
    kind = fields.String(allow_none=True)
    as_of = fields.DateTime(metadata={"description": "backlog 的统计时刻"})
    measures = fields.Nested(TotalMeasuresOut)
    breakdown = fields.Nested(BreakdownOut)
    trend = fields.List(fields.Nested(TrendMonthOut))
    departments = fields.List(
        fields.Nested(DepartmentMeasuresOut),
        metadata={"description": "辖区内（所查区域内）各职能部门的指标，按区划代码、名称排序"},
    )


METRICS_OUT = MetricsOut()


@blp.route("/metrics")
@requires("metrics.read")
@blp.arguments(schemas.MetricsQuery, location="query")
@blp.response(200, MetricsOut)
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误（如起始日晚于截止日）")
@blp.alt_response(404, response="DEFAULT_ERROR", description="区域不存在（或不在辖区内）")
def metrics(args):
    """Measures of shared/DOMAIN.md §6 for a region subtree and period (docs/measures.md)."""
    region = measures.measured_region(args.get("region"))
    date_from, date_to = measures.period_of(args)
    totals, breakdown, trend = measures.compute_metrics(
        region, date_from, date_to, args.get("kind")
    )
    result = {
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "period": {"date_from": date_from, "date_to": date_to, "timezone": "Asia/Shanghai"},
        "kind": args.get("kind"),
        "as_of": clock.now(),
        "measures": totals,
        "breakdown": breakdown,
        "trend": trend,
        "departments": department_measures(region, date_from, date_to, args.get("kind")),
    }
    # A thousand nested measures: dumped by the schema's compiled form (app/core/dump.py).
    return json_answer(dump(METRICS_OUT, result))


# --- the ledger export (台账) --------------------------------------------------------------------


class ExportQuery(schemas.CaseQuery):
    """The case list's filters (no paging), and whether to reveal parties in full."""

    class Meta:
        exclude = ("limit", "after")

    reveal = fields.Boolean(
        load_default=False,
        metadata={"description": "当事人显示完整信息（须有 cases.reveal 权限；留痕）"},
    )


def export(args: dict, fmt: str):
    """Build, audit and answer one export of the ledger.

    A revealing export is a POST (issue 19 item 4): a GET can be sent by another site (a link, an
    image) to a signed-in mediator's browser, and the session cookie goes with it (SameSite=Lax);
    a POST from a cookie needs the page's CSRF token (app/security.py), a bearer token none.
    """
    if args["reveal"] and request.method != "POST":
        raise BadRequest(
            "显示完整信息的导出须用 POST 请求（网页须带 CSRF 令牌）",
            {"query": {"reveal": ["reveal=true 只能用 POST"]}},
        )
    if args["reveal"] and not allows(current_user.role, "cases.reveal"):
        deny("cases.reveal")
    args = schemas.with_party_header(args, request.headers)
    if fmt == "csv":
        # Counted and audited now, committed with the answer's head; the rows stream after.
        ledger.export_count(args, fmt)
        rows = ledger.iter_ledger_rows(args)
    elif ledger.count_rows(args) > current_app.config.get(
        "EXPORT_XLSX_DIRECT_ROWS", export_jobs.DIRECT_ROWS
    ):
        # A large workbook is built by the worker: 202 and the job to poll (docs/api.md).
        count = ledger.export_count(args, fmt)
        keep = current_app.config.get("EXPORT_KEEP_HOURS", export_jobs.KEEP_HOURS)
        job = export_jobs.start(args, current_user, count, keep)
        url = url_for("case_reports.export_job", job_id=job.id)
        response = jsonify(export_jobs.as_json(job, None))
        response.status_code = 202
        response.headers["Location"] = url
        return response
    else:
        rows = ledger.export_rows(args, fmt)
    return exports.ledger_file(
        fmt,
        sheet="事件台账",
        columns=ledger.COLUMNS,
        rows=rows,
        ascii_name="gridgov-cases",
    )


@blp.route("/cases/export.xlsx")
@requires("cases.export")
@blp.arguments(ExportQuery, location="query")
@blp.response(200, BINARY, content_type=exports.XLSX_MIMETYPE, description="事件台账（Excel）")
@blp.alt_response(202, description="超过 50000 条：后台导出任务（见 /exports/{id}）")
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 1000000 条")
@blp.alt_response(403, response="DEFAULT_ERROR", description="无导出（或查看完整信息）权限")
def export_xlsx(args):
    """The case ledger (台账) as Excel, with the list's filters; parties masked (`reveal=true`
    only by POST)."""
    return export(args, "xlsx")


@blp.route("/cases/export.xlsx", methods=["POST"], endpoint="export_xlsx_revealed")
@requires("cases.export")
@blp.arguments(ExportQuery, location="query")
@blp.response(200, BINARY, content_type=exports.XLSX_MIMETYPE, description="事件台账（Excel）")
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 1000000 条")
@blp.alt_response(403, response="DEFAULT_ERROR", description="无导出（或查看完整信息）权限")
def export_xlsx_revealed(args):
    """The same ledger by POST, which `reveal=true` needs (with the CSRF token from a page):
    parties in full, audited with the requested and the effective region."""
    return export(args, "xlsx")


@blp.route("/cases/export.csv")
@requires("cases.export")
@blp.arguments(ExportQuery, location="query")
@blp.response(
    200, BINARY, content_type=exports.CSV_MIMETYPE, description="事件台账（CSV，UTF-8 带 BOM）"
)
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 1000000 条")
@blp.alt_response(403, response="DEFAULT_ERROR", description="无导出（或查看完整信息）权限")
def export_csv(args):
    """The case ledger (台账) as CSV, with the list's filters; parties masked (`reveal=true`
    only by POST)."""
    return export(args, "csv")


@blp.route("/cases/export.csv", methods=["POST"], endpoint="export_csv_revealed")
@requires("cases.export")
@blp.arguments(ExportQuery, location="query")
@blp.response(
    200, BINARY, content_type=exports.CSV_MIMETYPE, description="事件台账（CSV，UTF-8 带 BOM）"
)
@blp.alt_response(400, response="DEFAULT_ERROR", description="参数有误，或超过 1000000 条")
@blp.alt_response(403, response="DEFAULT_ERROR", description="无导出（或查看完整信息）权限")
def export_csv_revealed(args):
    """The same ledger by POST, which `reveal=true` needs (with the CSRF token from a page):
    parties in full, audited with the requested and the effective region."""
    return export(args, "csv")


@blp.route("/exports/<int:job_id>")
@requires("cases.export")
@blp.response(200, description="导出任务：状态、已完成/总行数、完成后的下载链接")
@blp.alt_response(404, response="DEFAULT_ERROR", description="没有此任务（或不是你的，或已过期）")
def export_job(job_id: int):
    """A background export (an xlsx of more than 50,000 rows): state, rows done of total, and
    the download link when done. Only its requester sees it."""
    job = export_jobs.for_user(job_id, current_user)
    if job is None:
        raise NotFound("没有此导出任务")
    return jsonify(export_jobs.as_json(job, url_for("case_reports.export_job_file", job_id=job.id)))


@blp.route("/exports/<int:job_id>/file")
@requires("cases.export")
@blp.response(200, BINARY, content_type=exports.XLSX_MIMETYPE, description="事件台账（Excel）")
@blp.alt_response(404, response="DEFAULT_ERROR", description="没有此任务，或尚未完成")
def export_job_file(job_id: int):
    """The finished workbook of a background export, for its requester only (kept a day)."""
    job = export_jobs.for_user(job_id, current_user)
    if job is None or job.state != "done":
        raise NotFound("没有此导出文件（任务不存在、未完成或已过期）")
    response = Response(export_jobs.content(job), content_type=exports.XLSX_MIMETYPE)
    return exports.attachment(response, "事件台账", "gridgov-cases", "xlsx")
