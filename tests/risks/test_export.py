"""The ledger export (风险隐患排查台账): Chinese headers, the list's filters, audited."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import select

from app import exports
from app.audit.models import AuditEntry
from app.core import clock
from app.extensions import db
from app.risks import services
from tests.factories import bearer
from tests.risks.factories import make_point
from tests.risks.factories import risk_body

HEADERS = [
    "编号",
    "所属乡镇",
    "所属村",
    "网格",
    "类别",
    "等级",
    "风险描述",
    "管控措施",
    "责任人",
    "排查周期",
    "最近排查",
    "下次排查",
    "状态",
]


def sheet(response) -> list[dict]:
    """The workbook's data rows as dicts by header (asserting the header row)."""
    rows = [
        list(r) for r in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)
    ]
    assert rows[0] == HEADERS
    return [dict(zip(HEADERS, row, strict=True)) for row in rows[1:]]


def test_xlsx_and_csv_hold_the_ledger(client, world):
    """Every column filled as documented; CSV in UTF-8 with a BOM; each export audited."""
    mediator = world["mediator@village"]
    fire = make_point(mediator, level="red")
    fire_code = fire.code
    services.record_inspection(fire, mediator, {"result": "normal"})
    key = services.register(
        {
            k: v
            for k, v in risk_body(
                category="重点人群", subcategory="独居高龄老人", level="blue"
            ).items()
            if k not in ("name", "description")
        },
        mediator,
    )
    key_code = key.code
    db.session.commit()
    headers = bearer(world["official@village"])

    response = client.get("/api/v1/risk-points/export.xlsx", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == exports.XLSX_MIMETYPE
    assert response.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    rows = {r["编号"]: r for r in sheet(response)}
    assert set(rows) == {fire_code, key_code}
    today = clock.today()
    fire_row = rows[fire_code]
    assert fire_row == {
        "编号": fire_code,
        "所属乡镇": "甲镇",
        "所属村": "东村",
        "网格": "东村第1网格",
        "类别": "消防",
        "等级": "红色（重大）",
        "风险描述": "市场内电线私拉乱接，消防通道堆放杂物",
        "管控措施": "每周检查一次电气线路，清理消防通道，配备灭火器",
        "责任人": "mediator-village",
        "排查周期": "7 天",
        "最近排查": dt.datetime.combine(today, dt.time()),
        "下次排查": dt.datetime.combine(today + dt.timedelta(days=7), dt.time()),
        "状态": "在控",
    }
    key_row = rows[key_code]
    assert key_row["类别"] == "重点人群（独居高龄老人）"
    assert key_row["风险描述"] == "独居高龄老人"  # never free text for key population
    assert key_row["最近排查"] is None and key_row["排查周期"] == "90 天"

    text = client.get("/api/v1/risk-points/export.csv?level=red", headers=headers).data
    assert text.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert lines[0] == HEADERS
    assert [line[0] for line in lines[1:]] == [fire_code]
    assert lines[1][10] == today.isoformat() and lines[1][12] == "在控"

    audits = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "risks.export").order_by(AuditEntry.id)
    ).all()
    assert [(a.detail["format"], a.detail["rows"]) for a in audits] == [("xlsx", 2), ("csv", 1)]
    assert audits[1].detail["filters"] == {"level": "red"}


def test_export_marks_overdue_and_cleared(client, world, monkeypatch):
    """状态 says 在控（排查逾期） for an overdue point and 已消除 for a cleared one."""
    mediator = world["mediator@village"]
    late = make_point(mediator, level="red").code
    cleared = make_point(mediator, level="blue")
    services.approve_clear(cleared, world["official@village"], True, "已消除")
    cleared_code = cleared.code
    db.session.commit()
    later = clock.today() + dt.timedelta(days=8)
    monkeypatch.setattr(clock, "today", lambda: later)
    rows = {
        r["编号"]: r
        for r in sheet(
            client.get("/api/v1/risk-points/export.xlsx", headers=bearer(world["official@village"]))
        )
    }
    assert rows[late]["状态"] == "在控（排查逾期）"
    assert rows[cleared_code]["状态"] == "已消除" and rows[cleared_code]["下次排查"] is None
    overdue_only = sheet(
        client.get(
            "/api/v1/risk-points/export.xlsx?overdue=true",
            headers=bearer(world["official@village"]),
        )
    )
    assert [r["编号"] for r in overdue_only] == [late]


def test_text_never_becomes_a_formula(client, world):
    """A description starting with '=' is text in the sheet and quoted in the CSV."""
    make_point(world["mediator@village"], description="=1+1")
    headers = bearer(world["official@village"])
    workbook = load_workbook(
        io.BytesIO(client.get("/api/v1/risk-points/export.xlsx", headers=headers).data)
    )
    cell = workbook.active["G2"]
    assert cell.value == "=1+1" and cell.data_type == "s"
    text = client.get("/api/v1/risk-points/export.csv", headers=headers).data.decode("utf-8-sig")
    assert "'=1+1" in text


def test_grid_workers_and_admins_cannot_export(client, world):
    """The export is for mediators and officials (risks.export)."""
    for key in ("grid_worker@village", "admin@county"):
        response = client.get("/api/v1/risk-points/export.xlsx", headers=bearer(world[key]))
        assert response.status_code == 403
