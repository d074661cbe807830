"""Rendering a notice: the admin's template in a Jinja sandbox, the fixed page around it, PDF.

The template body is HTML written by an admin. It runs in `jinja2.sandbox`'s immutable sandbox
(no attribute access to internals, no changing the data it is given), with autoescaping (a
party's name cannot inject markup) and StrictUndefined (a misspelt variable fails when the
template is saved, not when a notice is printed). The variables are plain strings, dicts and
lists built by `app/documents/services.context` (docs/notices.md lists them).

WeasyPrint draws the page (A4, WenQuanYi Micro Hei, real text); it fetches nothing from the
network or the disk: only `data:` URLs, so a template cannot make the server request a URL.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Response
from flask import render_template
from flask_babel import gettext as _
from jinja2 import StrictUndefined
from jinja2 import TemplateError
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from app.core.errors import Invalid

SANDBOX = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)

# What a preview and the check on saving render with (made-up people and dates).
SAMPLE = {
    "county": "示范县",
    "town": "示范镇",
    "village": "东村",
    "unit": "示范镇",
    "number": "371699-2026-000123",
    "title": "邻居漏水纠纷",
    "category": "邻里",
    "kind_name": "矛盾纠纷",
    "reported_on": "2026年11月2日",
    "accepted_on": "2026年11月3日",
    "resolved_on": "2026年11月20日",
    "rejected_on": "",
    "issued_on": "2026年12月1日",
    "resolve_due": "2027年1月2日",
    "applicants": "张三",
    "respondents": "李四",
    "third_parties": "",
    "parties_named": "张三、李四",
    "parties": [
        {"role": "申请人", "name": "张三", "address": "示范县东村12号"},
        {"role": "被申请人", "name": "李四", "address": ""},
    ],
    "reason": "不属于本机关职责范围",
    "ground": "不属于本机关职责范围",
    "competent_body": "示范县人力资源和社会保障局",
    "routes_told": "诉讼、仲裁",
    "notice_text": "",
    "outcome": "支持",
    "outcome_note": "双方分歧较大",
    "reply": "经调查，申请人反映的情况属实，责成有关部门于 30 日内处理完毕。",
    "review_to": "示范县人民政府信访工作机构",
    "review_due": "2026年12月20日",
    "agreement": {
        "facts": "楼上卫生间渗漏至楼下",
        "responsibilities": "楼上负主要责任",
        "terms": "楼上修复防水并赔偿 800 元",
        "performance_method": "现金一次付清",
        "performance_due": "2026年12月5日",
        "signed_on": "2026年11月20日",
        "agreed_by": "",
    },
    "mediators": "王调解",
    "routes_informed": "诉讼、仲裁",
    "progress_url": "https://example.org/q/371699-2026-000123",
}


def date_cn(value: dt.date | dt.datetime | None) -> str:
    """A date as a notice writes it: 2026年12月1日 (empty when there is none)."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def compile_body(body: str):
    """The compiled template; 422 naming the body's line when it does not compile."""
    try:
        return SANDBOX.from_string(body)
    except TemplateSyntaxError as exc:
        message = _("模板第 %(line)s 行有误：%(error)s", line=exc.lineno, error=exc.message)
        raise Invalid(message, {"json": {"body": [message]}}) from None


def render_body(body: str, context: dict) -> Markup:
    """The body rendered with the context (422 naming the problem when it cannot be)."""
    template = compile_body(body)
    try:
        return Markup(template.render(context))
    except TemplateError as exc:
        line = template_line(exc)
        message = (
            _("模板第 %(line)s 行有误：%(error)s", line=line, error=exc.message or str(exc))
            if line
            else _("模板有误：%(error)s", error=exc.message or str(exc))
        )
        raise Invalid(message, {"json": {"body": [message]}}) from None


def template_line(exc: Exception) -> int | None:
    """The template's line a rendering error happened at (Jinja rewrites the traceback so that
    its frames in "<template>" carry the template's own line numbers)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check(body: str) -> None:
    """Refuse (422) a template that does not compile or does not render with the variables."""
    render_body(body, SAMPLE)


def page_html(title: str, body: Markup, context: dict, qr: Markup) -> str:
    """The whole notice as HTML: issuer, title, number, the rendered body, date and QR."""
    return render_template(
        "documents/notice.html", title=title, body=body, qr=qr, **_frame(context)
    )


def _frame(context: dict) -> dict:
    return {k: context[k] for k in ("county", "unit", "number", "issued_on", "progress_url")}


def pdf(html: str) -> bytes:
    """The notice as PDF (A4, real CJK text)."""
    # Imported on first use: WeasyPrint takes seconds to import, and only a PDF needs it.
    from weasyprint import HTML  # noqa: PLC0415
    from weasyprint.urls import URLFetcher  # noqa: PLC0415

    # data: URLs only: nothing from the network or the disk.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()


def pdf_response(document: bytes, number: str, kind: str, title: str) -> Response:
    """A notice to open and print: inline, never cached (it names people), named by number."""
    response = Response(document, content_type="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="{number}-{kind}.pdf"; '
        f"filename*=UTF-8''{quote(f'{number}-{title}.pdf')}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
