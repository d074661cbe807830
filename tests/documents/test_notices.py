"""Written notices (docs/notices.md): each kind down its path as a PDF with the case's Chinese
text, applicability decided in one place, reveal permission and scope, audit, template edits."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.documents.models import NoticeTemplate
from app.extensions import db
from tests.cases.factories import act
from tests.cases.factories import report
from tests.cases.test_workflow import AGREEMENT
from tests.factories import OTHER_VILLAGE
from tests.factories import bearer
from tests.factories import make_user

OTHER_APPLICANT = [{"role": "applicant", "name": "王五", "phone": "13900001111"}]


def pdf_text(response) -> str:
    """The PDF's text (real text, not pictures), without the line breaks layout put in."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    reader = PdfReader(io.BytesIO(response.data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def ok(response):
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:300]
    return response.get_json()


def notice(client, user, number: str, kind: str):
    """The notice by the API (`user`: a world user loaded afresh, or a callable giving one)."""
    user = user() if callable(user) else user
    return client.get(f"/api/v1/cases/{number}/notices/{kind}", headers=bearer(user))


def applicable(client, user, number: str) -> list[str]:
    user = user() if callable(user) else user
    answer = ok(client.get(f"/api/v1/cases/{number}/notices", headers=bearer(user)))
    return [n["kind"] for n in answer]


def by(world, key: str):
    """A world user loaded afresh for each request (requests end the test's session)."""
    return lambda: world[key]


def acting(client, world, key: str, number: str, action: str, body=None):
    return ok(act(client, world[key], number, action, body))


def reporting(client, world, kind="dispute", **overrides) -> str:
    return ok(report(client, world["grid_worker@village"], kind, **overrides))["number"]


def test_each_notice_follows_its_path_and_prints_the_cases_chinese_text(client, world):
    med = by(world, "mediator@village")

    # A petition: accepted (受理告知书), then resolved with a written reply (处理意见书).
    petition = reporting(client, world, "petition", title="征地补偿款未发放")
    assert applicable(client, med, petition) == []
    refused = notice(client, med, petition, "acceptance")
    assert refused.status_code == 422 and "受理告知书" in refused.get_json()["message"]
    acting(client, world, "mediator@village", petition, "accept")
    assert applicable(client, med, petition) == ["acceptance"]
    page = client.get(f"/cases/{petition}", headers=bearer(med())).get_data(as_text=True)
    assert f"/cases/{petition}/notices/acceptance.pdf" in page
    text = pdf_text(client.get(f"/cases/{petition}/notices/acceptance.pdf", headers=bearer(med())))
    for wanted in ("测试县", petition, "受理告知书", "征地补偿款未发放", "张三", "第二十三条"):
        assert wanted in text, wanted
    reply = "经调查核实，补偿款已于本月发放到位"
    resolve = {"outcome": "supported", "note": "已办结", "reply": reply}
    acting(client, world, "mediator@village", petition, "resolve", resolve)
    assert applicable(client, med, petition) == ["acceptance", "opinion"]
    text = pdf_text(notice(client, med, petition, "opinion"))
    for wanted in (petition, "处理意见书", reply, "支持", "30日内", "甲镇人民政府"):
        assert wanted in text, wanted

    # A petition not accepted: the refusal names where to turn (第二十三条).
    rejected = reporting(client, world, "petition", parties=OTHER_APPLICANT)
    body = {
        "reason": "属于劳动争议，不属于本机关职责范围",
        "ground": "outside_remit",
        "competent_body": "测试县劳动人事争议仲裁委员会",
        "routes_told": ["行政"],
        "notice": "请携带相关材料前往办理",
    }
    acting(client, world, "mediator@village", rejected, "reject", body)
    assert applicable(client, med, rejected) == ["refusal"]
    text = pdf_text(notice(client, med, rejected, "refusal"))
    for wanted in ("不予受理告知书", rejected, "王五", "测试县劳动人事争议仲裁委员会", "行政"):
        assert wanted in text, wanted

    # A dispute settled by a written agreement (调解协议书); no 终止调解告知 for it.
    settled = reporting(client, world)
    acting(client, world, "mediator@village", settled, "accept")
    agreed = {"outcome": "agreement", "note": "达成协议", "agreement": AGREEMENT}
    acting(client, world, "mediator@village", settled, "resolve", agreed)
    assert applicable(client, med, settled) == ["agreement"]
    assert notice(client, med, settled, "termination").status_code == 422
    text = pdf_text(notice(client, med, settled, "agreement"))
    terms = AGREEMENT["terms"].replace(" ", "")
    for wanted in (
        "调解协议书",
        settled,
        terms,
        "张三",
        "李四",
        "人民调解员（签名）",
        "第二十九条",
    ):
        assert wanted in text, wanted

    # A dispute whose mediation failed (终止调解告知书), with the routes the parties were told.
    failed = reporting(client, world, title="宅基地界址纠纷")
    acting(client, world, "mediator@village", failed, "accept")
    ended = {"outcome": "failed", "note": "双方分歧较大", "routes_informed": ["诉讼", "仲裁"]}
    acting(client, world, "mediator@village", failed, "resolve", ended)
    assert notice(client, med, failed, "agreement").status_code == 422
    text = pdf_text(notice(client, med, failed, "termination"))
    for wanted in ("终止调解告知书", failed, "宅基地界址纠纷", "诉讼、仲裁", "第二十六条"):
        assert wanted in text, wanted

    # Every notice generated is a reveal on the audit log; the refused ones wrote nothing.
    rows = db.session.execute(
        select(AuditEntry.object_id, AuditEntry.detail["kind"].astext)
        .where(AuditEntry.action == "cases.notice")
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(r) for r in rows] == [
        (petition, "acceptance"),
        (petition, "opinion"),
        (rejected, "refusal"),
        (settled, "agreement"),
        (failed, "termination"),
    ]


def test_only_revealing_roles_in_scope_generate_a_notice(client, world):
    number = reporting(client, world, "petition")
    acting(client, world, "mediator@village", number, "accept")
    stranger = make_user("mediator-away", "mediator", OTHER_VILLAGE).id
    for key in ("grid_worker@village", "department_staff@town", "admin@county"):
        assert notice(client, by(world, key), number, "acceptance").status_code == 403, key
    away = notice(client, lambda: db.session.get(User, stranger), number, "acceptance")
    assert away.status_code == 404
    med = by(world, "mediator@village")
    assert notice(client, med, number, "no-such-kind").status_code == 404
    worker = world["grid_worker@village"]
    page = client.get(f"/cases/{number}", headers=bearer(worker)).get_data(as_text=True)
    assert "notices/acceptance.pdf" not in page  # no link for who may not reveal
    outcomes = db.session.scalars(
        select(AuditEntry.outcome).where(AuditEntry.action.in_(["cases.reveal", "cases.read"]))
    ).all()
    assert outcomes.count("denied") == 4  # three roles refused, one caller out of scope
    assert not db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "cases.notice")
    ).all()


def test_an_admin_edits_a_template_and_the_next_notice_shows_it(client, world):
    admin = by(world, "admin@county")
    listed = ok(client.get("/api/v1/notice-templates", headers=bearer(admin())))
    kinds = ["acceptance", "refusal", "opinion", "agreement", "termination"]
    assert [t["kind"] for t in listed] == kinds
    url = "/api/v1/notice-templates/acceptance"
    current = client.get(url, headers=bearer(admin()))
    version = current.get_json()["version"]
    assert current.headers["ETag"] == f'"{version}"'

    def put(body):
        return client.put(url, json=body, headers=bearer(admin()))

    bad = put({"version": version, "body": "<p>{{ number }}</p>\n{% if %}"})
    assert bad.status_code == 422 and "第 2 行" in bad.get_json()["errors"]["json"]["body"][0]
    unknown = put({"version": version, "body": "<p>{{ nosuch }}</p>"})
    assert unknown.status_code == 422 and "第 1 行" in unknown.get_json()["message"]
    assert "nosuch" in unknown.get_json()["message"]  # StrictUndefined: a typo fails on saving
    escape = put({"version": version, "body": "{{ number.__class__.__mro__ }}"})
    assert escape.status_code == 422 and "unsafe" in escape.get_json()["message"]  # sandboxed
    assert put({"body": "<p>x</p>"}).status_code == 428

    edited = current.get_json()["body"] + "<p>本机关特别提示：请保管好回执。</p>"
    saved = ok(put({"version": version, "body": edited}))
    assert saved["version"] == version + 1 and saved["updated_by"] == admin().username
    assert put({"version": version, "title": "旧版"}).status_code == 409
    row = db.session.scalar(select(NoticeTemplate).where(NoticeTemplate.kind == "acceptance"))
    assert row.title == "受理告知书" and row.version == version + 1

    # The admin page: stale → 409, bad Jinja → 422 with the line beside the body, nothing saved.
    page = "/admin/notice-templates/acceptance"
    assert "本机关特别提示" in client.get(page, headers=bearer(admin())).get_data(as_text=True)
    form = {"version": str(version), "title": "受理告知书", "body": "<p>改</p>"}
    assert client.post(page, data=form, headers=bearer(admin())).status_code == 409
    form = {"version": str(version + 1), "title": "受理告知书", "body": "{% for %}"}
    failed = client.post(page, data=form, headers=bearer(admin()))
    assert failed.status_code == 422 and "第 1 行" in failed.get_data(as_text=True)
    shown = {**form, "body": "<p>预览{{ county }}</p>", "preview": "1"}
    previewed = client.post(page, data=shown, headers=bearer(admin()))
    assert previewed.status_code == 200 and "预览示范县" in previewed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(NoticeTemplate, row.id).version == version + 1

    number = reporting(client, world, "petition")
    acting(client, world, "mediator@village", number, "accept")
    text = pdf_text(notice(client, by(world, "mediator@village"), number, "acceptance"))
    assert "本机关特别提示：请保管好回执。" in text and number in text
