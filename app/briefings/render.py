"""A briefing's documents: the template's sentences, the measures table, the table by sub-region,
three charts (matplotlib, Agg, CJK font), as .docx (python-docx) and PDF (WeasyPrint from HTML).
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from app.briefings.sections import BUILT_IN
from app.briefings.sections import RATES
from app.briefings.sections import SECTIONS
from app.briefings.sections import percent

FONT = "WenQuanYi Micro Hei"
LEVEL_NAMES = {"town": "乡镇", "village": "村", "grid_cell": "网格"}
# The measures table's header; tests read the numbers back by these names.
MEASURES_HEADER = ["指标", "分子", "分母", "比率"]


@functools.cache
def pyplot():
    """matplotlib's pyplot on the Agg backend with the CJK font, imported on first use.

    matplotlib, python-docx and WeasyPrint take seconds to import; only a briefing needs them,
    so every process that starts the app (gunicorn workers, `flask` commands) does not pay.
    """
    import matplotlib  # noqa: PLC0415 - lazy: see above

    matplotlib.use("Agg")  # no display: documents only
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.rcParams["font.family"] = FONT
    plt.rcParams["axes.unicode_minus"] = False
    return plt


environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def render_text(source: str, values: dict) -> str:
    """A template text with its placeholders filled (jinja2 errors propagate)."""
    return environment.from_string(source).render(**values)


@dataclass
class Briefing:
    """Everything the documents show, computed once."""

    title: str
    paragraphs: list[str]
    measures: dict
    breakdown: dict
    trend: list[dict]
    extra: list[tuple[str, dict]]
    charts: dict[str, bytes]


def compose(title_source: str, body_source: str, values: dict, metrics: dict) -> Briefing:
    """Fill the template and gather the tables (the charts are drawn by `draw_charts`)."""
    body = render_text(body_source, values)
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    extra = [(title, values[key]) for key, title, _p in SECTIONS if key not in BUILT_IN]
    return Briefing(
        title=render_text(title_source, values).strip(),
        paragraphs=paragraphs,
        measures=metrics["totals"],
        breakdown=metrics["breakdown"],
        trend=metrics["trend"],
        extra=extra,
        charts={},
    )


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=130, bbox_inches="tight")
    pyplot().close(fig)
    return out.getvalue()


def draw_charts(briefing: Briefing, categories: list[tuple[str, int]]) -> None:
    """Monthly trend, categories, village retention by month: PNGs on the briefing."""
    plt = pyplot()
    months = [t["month"] for t in briefing.trend]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(months, [t["reported"] for t in briefing.trend], color="#4e79a7", label="上报")
    ax.plot(
        months, [t["closed"] for t in briefing.trend], color="#e15759", marker="o", label="归档"
    )
    ax.set_title("按月上报与归档")
    ax.legend()
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    briefing.charts["trend"] = _png(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    names = [name for name, _n in categories] or ["（无）"]
    counts = [n for _name, n in categories] or [0]
    ax.barh(names[::-1], counts[::-1], color="#59a14f")
    ax.set_title("事件类别（上报件数）")
    briefing.charts["categories"] = _png(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    rates = [
        None if t["village_retention"]["rate"] is None else t["village_retention"]["rate"] * 100
        for t in briefing.trend
    ]
    ax.plot(months, [r if r is not None else float("nan") for r in rates], marker="o")
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title("小事不出村率（按月）")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    briefing.charts["retention"] = _png(fig)


CHART_TITLES = {"trend": "按月趋势", "categories": "事件类别", "retention": "小事不出村"}


def measure_rows(measures: dict) -> list[list[str]]:
    """The measures table: name, numerator, denominator, rate."""
    return [
        [
            name,
            str(measures[key]["numerator"]),
            str(measures[key]["denominator"]),
            percent(measures[key]),
        ]
        for key, name in RATES
    ]


def breakdown_rows(breakdown: dict) -> tuple[list[str], list[list[str]]]:
    """The table by sub-region: header and rows."""
    level = LEVEL_NAMES.get(breakdown["level"], breakdown["level"])
    header = [level, "上报", "小事不出村率", "受理及时率", "按期办结率", "满意率", "在办"]
    rows = []
    for item in breakdown["items"]:
        m = item["measures"]
        rows.append(
            [
                item["name"] or item["code"],
                str(m["county_share"]["denominator"]),
                percent(m["village_retention"]),
                percent(m["on_time_acceptance"]),
                percent(m["on_time_resolution"]),
                percent(m["satisfaction"]),
                str(m["backlog"]["open"]),
            ]
        )
    return header, rows


def _docx_table(document, header: list[str], rows: list[list[str]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, value in zip(table.rows[0].cells, header, strict=True):
        cell.text = value
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = value


def to_docx(briefing: Briefing) -> bytes:
    """The briefing as a Word document."""
    import docx  # noqa: PLC0415 - lazy, as pyplot()
    from docx.oxml.ns import qn  # noqa: PLC0415
    from docx.shared import Cm  # noqa: PLC0415
    from docx.shared import Pt  # noqa: PLC0415

    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    document.add_heading(briefing.title, level=1)
    for paragraph in briefing.paragraphs:
        document.add_paragraph(paragraph)
    document.add_heading("主要指标", level=2)
    _docx_table(document, MEASURES_HEADER, measure_rows(briefing.measures))
    header, rows = breakdown_rows(briefing.breakdown)
    document.add_heading(f"分{header[0]}情况", level=2)
    _docx_table(document, header, rows)
    for title, numbers in briefing.extra:
        document.add_heading(title, level=2)
        _docx_table(document, ["项目", "数量"], [[str(k), str(v)] for k, v in numbers.items()])
    for key, png in briefing.charts.items():
        document.add_heading(CHART_TITLES[key], level=2)
        document.add_picture(io.BytesIO(png), width=Cm(15))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(briefing: Briefing) -> str:
    """The briefing as one HTML page (the PDF's source)."""
    parts = [f"<h1>{escape(briefing.title)}</h1>"]
    parts += [f"<p>{escape(p)}</p>" for p in briefing.paragraphs]
    parts.append(
        "<h2>主要指标</h2>" + _html_table(MEASURES_HEADER, measure_rows(briefing.measures))
    )
    header, rows = breakdown_rows(briefing.breakdown)
    parts.append(f"<h2>分{escape(header[0])}情况</h2>" + _html_table(header, rows))
    for title, numbers in briefing.extra:
        table = _html_table(["项目", "数量"], [[str(k), str(v)] for k, v in numbers.items()])
        parts.append(f"<h2>{escape(title)}</h2>" + table)
    for key, png in briefing.charts.items():
        data = base64.b64encode(png).decode()
        parts.append(
            f"<h2>{CHART_TITLES[key]}</h2><img alt='{CHART_TITLES[key]}'"
            f" src='data:image/png;base64,{data}'>"
        )
    style = (
        f"body{{font-family:'{FONT}';font-size:11pt;line-height:1.6}}"
        "h1{font-size:16pt;text-align:center}h2{font-size:13pt}"
        "table{border-collapse:collapse;width:100%;margin:6pt 0}"
        "th,td{border:0.5pt solid #444;padding:2pt 4pt;font-size:9.5pt}"
        "img{width:100%}@page{size:A4;margin:2cm}"
    )
    return f"<!doctype html><html lang='zh'><meta charset='utf-8'><style>{style}</style>" + (
        "".join(parts) + "</html>"
    )


def to_pdf(briefing: Briefing) -> bytes:
    """The briefing as PDF (WeasyPrint; the CJK font is embedded)."""
    from weasyprint import HTML  # noqa: PLC0415 - lazy, as pyplot()

    return HTML(string=to_html(briefing)).write_pdf()
