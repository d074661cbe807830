"""The ledger export (台账): GET /api/v1/cases/export.xlsx and /api/v1/cases/export.csv."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from flask_login import login_user
from openpyxl import load_workbook
from sqlalchemy import select

from app import exports
from app.audit.models import AuditEntry
from app.cases import export_jobs
from app.cases import ledger
from app.cases import reports
from app.policy import PERMISSIONS
from tests.accounts.helpers import csrf_header
from tests.accounts.helpers import login
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import COUNTY
from tests.factories import bearer
from tests.geo.factories import TOWN


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


HEADERS = [
    "编号",
    "类型",
    "类别",
    "来源",
    "标题",
    "所属乡镇",
    "所属村",
    "网格",
    "上报时间",
    "当前层级",
    "状态",
    "受理期限",
    "办结期限",
    "预警",
    "督办",
    "办结结果",
    "当事人",
    "办结日期",
]
LANDLINE = "0543-3312345"
FORMULA = '=HYPERLINK("http://example.invalid","点此")'


@pytest.fixture
def cases(client, world) -> dict[str, str]:
    """A dispute and a petition in 东村, a dispute in 西村, and one in the other county."""
    # Users are loaded afresh for each request (a request closes the test's session).
    numbers = {
        "dispute": report(client, world["grid_worker@village"]).get_json()["number"],
        "petition": report(
            client, world["grid_worker@village"], "petition", title=FORMULA
        ).get_json()["number"],
        "west": report(
            client, world["mediator@town"], level="village", **POINT_VILLAGE_B
        ).get_json()["number"],
        "other": report(client, world["outsider"], **POINT_OTHER_COUNTY).get_json()["number"],
    }
    assert act(client, world["mediator@village"], numbers["dispute"], "accept").status_code == 200
    return numbers


def export(client, user, fmt: str = "xlsx", party_id_number: str | None = None, **params):
    """GET the export as `user` (a party's ID number goes in a header, never the URL)."""
    headers = bearer(user)
    if party_id_number:
        headers["X-Party-Id-Number"] = party_id_number
    # Revealing exports are POSTs (issue 19 item 4).
    send = client.post if params.get("reveal") == "true" else client.get
    return send(f"/api/v1/cases/export.{fmt}", query_string=params, headers=headers)


def sheet_rows(response) -> list[list]:
    """The workbook's rows as values."""
    workbook = load_workbook(io.BytesIO(response.data))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


def csv_rows(response) -> list[list[str]]:
    """The CSV's rows (after its BOM)."""
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def export_audits() -> list[AuditEntry]:
    """The cases.export audit entries, oldest first."""
    return db_scalars(select(AuditEntry).where(AuditEntry.action == "cases.export"))


def db_scalars(stmt):
    """All scalars of a statement."""
    from app.extensions import db

    return db.session.scalars(stmt.order_by(AuditEntry.id)).all()


def test_xlsx_has_the_ledger_masked(client, world, cases):
    """A village mediator gets their village's cases, Chinese headers, parties masked."""
    response = export(client, world["mediator@village"])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == exports.XLSX_MIMETYPE
    assert response.headers["Cache-Control"] == "no-store"
    rows = sheet_rows(response)
    assert rows[0] == HEADERS
    by_number = {row[0]: dict(zip(HEADERS, row, strict=True)) for row in rows[1:]}
    assert set(by_number) == {cases["dispute"], cases["petition"]}
    dispute = by_number[cases["dispute"]]
    assert dispute["类型"] == "矛盾纠纷"
    assert dispute["类别"] == "邻里"
    assert dispute["来源"] == "网格员巡查"
    assert dispute["标题"] == "邻居漏水纠纷"
    assert (dispute["所属乡镇"], dispute["所属村"], dispute["网格"]) == (
        "甲镇",
        "东村",
        "东村第1网格",
    )
    assert dispute["当前层级"] == "村级"
    assert dispute["状态"] == "已受理"
    assert dispute["预警"] in ("无", "黄牌")
    assert dispute["督办"] == "无"
    assert dispute["办结结果"] is None
    assert dispute["受理期限"] is not None and dispute["办结期限"] is not None
    assert dispute["上报时间"].year >= 2026
    assert dispute["当事人"] == (
        "申请人：张*（110101********4477，138****5678）；被申请人：李*（0543****2345）"
    )
    assert by_number[cases["petition"]]["类型"] == "信访事项"
    assert by_number[cases["petition"]]["状态"] == "待受理"


def test_xlsx_header_is_bold_and_frozen(client, world, cases):
    """The header row is bold and frozen; the columns have widths; a filter covers the rows."""
    response = export(client, world["official@county"])
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["A"].width == 20
    assert sheet.column_dimensions["Q"].width == 60
    assert sheet.auto_filter.ref == "A1:R4"  # the header and 甲镇's three cases


def test_default_export_holds_no_personal_data_in_clear(client, world, cases):
    """Neither format carries a full name, ID number or phone unless revealed."""
    for fmt in ("xlsx", "csv"):
        response = export(client, world["official@county"], fmt)
        assert response.status_code == 200
        if fmt == "xlsx":
            with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
                raw = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
        else:
            raw = response.data.decode("utf-8-sig")
        for secret in ("张三", "李四", ID_NUMBER, PHONE, LANDLINE, "3312345"):
            assert secret not in raw, (fmt, secret)
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="gridgov-cases-')
        assert "张" not in disposition and ID_NUMBER not in disposition


@pytest.mark.parametrize("user", ["mediator@village", "official@town"])
def test_reveal_shows_full_values(client, world, cases, user):
    """reveal=true for a mediator or an official: full name, ID number and phone."""
    response = export(client, world[user], "csv", reveal="true")
    assert response.status_code == 200
    rows = csv_rows(response)
    parties = {row[0]: row[HEADERS.index("当事人")] for row in rows[1:]}
    assert parties[cases["dispute"]] == (
        f"申请人：张三（{ID_NUMBER}，{PHONE}）；被申请人：李四（{LANDLINE}）"
    )
    assert export_audits()[-1].detail["revealed"] is True


def test_reveal_needs_the_reveal_permission(client, world, cases, monkeypatch):
    """A role that may export but not reveal asking reveal=true: 403, and nothing exported."""
    monkeypatch.setitem(PERMISSIONS, "cases.reveal", frozenset({"official"}))
    refused = export(client, world["mediator@village"], reveal="true")
    assert refused.status_code == 403
    assert refused.get_json()["code"] == 403
    assert export_audits() == []
    assert export(client, world["mediator@village"]).status_code == 200


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_grid_worker_may_not_export(client, world, cases, fmt):
    """cases.export is for mediators and officials: a grid worker gets 403 (audited)."""
    response = export(client, world["grid_worker@village"], fmt)
    assert response.status_code == 403
    assert response.get_json()["message"] == "无权执行此操作（导出台账（留痕））"
    from app.extensions import db

    denied = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "cases.export", AuditEntry.outcome == "denied"
        )
    ).all()
    assert len(denied) == 1


def test_every_export_is_audited(client, world, cases):
    """The audit entry names the format, the filters (ID numbers masked), rows and reveal."""
    export(client, world["official@county"], "csv", kind="dispute", party_id_number=ID_NUMBER)
    entries = export_audits()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.outcome == "success"
    assert entry.actor == "official-county"
    assert entry.detail == {
        "format": "csv",
        "filters": {"kind": "dispute", "party_id_number": "110101********4477"},
        "rows": 2,
        "revealed": False,
        "requested_region": None,
        "effective_region": "371699000000",
    }
    assert ID_NUMBER not in str(entry.detail)


def test_a_revealing_export_is_a_post_with_the_csrf_token(client, world, cases):
    """A cross-site GET could make a signed-in mediator's browser download the ledger in full
    (the cookie is SameSite=Lax): reveal=true by GET is refused, by POST it needs the page's CSRF
    token; the audit records the requested and the effective region (issue 19 item 4)."""
    got = client.get("/api/v1/cases/export.csv?reveal=true", headers=bearer(world["mediator@town"]))
    assert got.status_code == 400 and "reveal" in got.get_json()["errors"]["query"]
    assert export_audits() == []
    assert login(client, "mediator-town").status_code == 302
    no_token = client.post("/api/v1/cases/export.csv?reveal=true")
    assert no_token.status_code == 400 and export_audits() == []
    posted = client.post(
        f"/api/v1/cases/export.csv?reveal=true&region={COUNTY}", headers=csrf_header(client)
    )
    assert posted.status_code == 200, posted.get_data(as_text=True)[:300]
    assert "张三" in posted.data.decode("utf-8-sig")
    detail = export_audits()[-1].detail
    assert detail["revealed"] is True
    # Asked for the whole county; a town mediator gets their town.
    assert (detail["requested_region"], detail["effective_region"]) == (COUNTY, TOWN)


def test_csv_is_utf8_with_bom_and_filters_apply(client, world, cases):
    """CSV starts with a BOM; the list's filters (kind, state, region) narrow the rows."""
    response = export(client, world["official@county"], "csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.mimetype == "text/csv"
    # One charset parameter (Werkzeug appended a second one: issue 19 item 9).
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.mimetype_params["charset"] == "utf-8"
    rows = csv_rows(response)
    assert rows[0] == HEADERS
    assert {row[0] for row in rows[1:]} == {cases["dispute"], cases["petition"], cases["west"]}

    petitions = csv_rows(export(client, world["official@county"], "csv", kind="petition"))
    assert [row[0] for row in petitions[1:]] == [cases["petition"]]
    accepted = csv_rows(export(client, world["official@county"], "csv", state="accepted"))
    assert [row[0] for row in accepted[1:]] == [cases["dispute"]]
    west = csv_rows(export(client, world["official@county"], "csv", region="371699101201"))
    assert [(row[0], row[6]) for row in west[1:]] == [(cases["west"], "西村")]
    assert cases["other"] not in response.data.decode("utf-8-sig")


def test_text_never_becomes_a_formula(client, world, cases):
    """A title starting with '=' stays text: a string cell in xlsx, a quoted value in CSV."""
    xlsx = export(client, world["mediator@village"], kind="petition")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["E2"].data_type == "s"
    assert sheet["E2"].value == FORMULA
    rows = csv_rows(export(client, world["mediator@village"], "csv", kind="petition"))
    assert rows[1][4] == "'" + FORMULA


def test_more_than_the_limit_is_refused(client, world, cases, monkeypatch):
    """Over the row limit: 400 saying so, and no export audited."""
    monkeypatch.setattr(ledger, "MAX_EXPORT_ROWS", 2)
    response = export(client, world["official@county"])
    assert response.status_code == 400
    body = response.get_json()
    assert "超过 2 条" in body["message"]
    assert body["errors"] == {"max_rows": 2}
    assert export_audits() == []
    assert export(client, world["official@county"], kind="petition").status_code == 200


def test_paging_parameters_are_not_export_parameters(app):
    """The export takes the list's filters without limit/after, plus reveal."""
    fields = reports.ExportQuery().fields
    assert "limit" not in fields and "after" not in fields
    assert {"state", "kind", "region", "grid_cell", "q", "reveal"} <= set(fields)


def test_export_routes_are_not_taken_for_case_numbers(client, world, cases):
    """/cases/export.csv is the export, not a case called 'export.csv'."""
    response = export(client, world["official@county"], "csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"


def test_streamed_csv_is_the_built_body_byte_for_byte(app, client, world, cases, monkeypatch):
    """The CSV streams a row at a time (here: batches of one) and equals csv_bytes' body."""
    original_rows, original_chunks = ledger.iter_ledger_rows, exports.csv_chunks
    monkeypatch.setattr(ledger, "iter_ledger_rows", lambda args: original_rows(args, batch=1))
    monkeypatch.setattr(exports, "csv_chunks", lambda h, r: original_chunks(h, r, batch=1))
    response = export(client, world["official@county"], "csv")
    assert response.status_code == 200
    with app.test_request_context():
        login_user(world["official@county"])
        args = reports.ExportQuery().load({})
        want = exports.csv_bytes(ledger.HEADERS, ledger.ledger_rows(args))
    assert response.data == want and want.count(b"\n") == 1 + 3  # the county's three cases
    assert export_audits()[-1].detail["rows"] == 3


def test_a_large_xlsx_is_a_job_with_progress_for_its_requester_only(app, client, world, cases):
    """Over EXPORT_XLSX_DIRECT_ROWS: 202 and a job; the worker builds the same workbook; only
    the requester sees the job and its file."""
    official = world["official@county"]
    mine, theirs = bearer(official), bearer(world["mediator@county"])
    direct = load_workbook(io.BytesIO(export(client, official).data)).active
    app.config["EXPORT_XLSX_DIRECT_ROWS"] = 1
    try:
        started = export(client, official)
    finally:
        del app.config["EXPORT_XLSX_DIRECT_ROWS"]
    assert started.status_code == 202
    job = started.get_json()
    assert job["state"] == "queued" and job["rows_total"] == 3 and job["download"] is None
    location = started.headers["Location"]
    assert location == f"/api/v1/exports/{job['id']}"
    assert client.get(location, headers=mine).get_json()["state"] == "queued"
    assert export_jobs.run(job["id"]) == "done"
    status = client.get(location, headers=mine).get_json()
    assert status["state"] == "done" and status["rows_done"] == 3
    assert status["download"] == f"/api/v1/exports/{job['id']}/file"
    got = client.get(status["download"], headers=mine)
    assert got.status_code == 200 and got.mimetype == exports.XLSX_MIMETYPE
    sheet = load_workbook(io.BytesIO(got.data)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        [c.value for c in row] for row in direct.iter_rows()
    ]
    assert sheet.auto_filter.ref == direct.auto_filter.ref
    assert client.get(location, headers=theirs).status_code == 404
    assert client.get(status["download"], headers=theirs).status_code == 404
    assert [entry.detail["rows"] for entry in export_audits()] == [3, 3]
