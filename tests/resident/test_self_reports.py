"""随手拍: phone codes, the public report, the 待核实 queue, verify → case, decline with reason."""

from __future__ import annotations

import datetime as dt
import io
import re

from sqlalchemy import func
from sqlalchemy import select

from app.cases.models import Case
from app.cases.models import Party
from app.core import clock
from app.extensions import db
from app.notify.models import Notification
from app.notify.models import SmsMessage
from app.resident import receipts
from app.resident import selfreports
from app.resident.models import Receipt
from app.resident.selfreport_models import PhoneCode
from app.resident.selfreport_models import SelfReport
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import POINT
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.factories import bearer
from tests.resident.factories import PNG
from tests.resident.factories import make_self_report

PHONE = "13912345678"


def code_for(client, phone: str = PHONE) -> str:
    """Ask for a code and read it from the text message queued to the phone."""
    response = client.post("/api/v1/public/phone-codes", json={"phone": phone})
    assert response.status_code == 202, response.get_json()
    text = db.session.scalars(
        select(SmsMessage.text).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc())
    ).first()
    return re.search(r"\b(\d{6})\b", text).group(1)


def form(code: str, point=POINT, **extra) -> dict:
    """A multipart report."""
    return {
        "phone": PHONE,
        "code": code,
        "lon": str(point["lon"]),
        "lat": str(point["lat"]),
        "category": "环境卫生",
        "description": "村口垃圾堆放多日无人清理",
        **extra,
    }


def reports() -> int:
    return db.session.scalar(select(func.count()).select_from(SelfReport))


def test_a_resident_reports_and_the_grid_worker_verifies_it_into_a_case(client, world):
    """Code → report with a photo → receipt → the cell's worker's task → verify → a case."""
    code = code_for(client)
    body = form(code, client_key="k-1")
    body["photos"] = (io.BytesIO(PNG), "dump.png")
    answer = client.post("/api/v1/public/reports", data=body)
    assert answer.status_code == 201, answer.get_json()
    number, receipt_code = answer.get_json()["number"], answer.get_json()["code"]
    assert re.fullmatch(r"SP3716992026\d{6}|SP371699\d{10}", number)
    assert receipts.find(number, receipt_code).self_report_id is not None
    assert PHONE not in answer.get_data(as_text=True).replace(receipt_code, "")
    report = db.session.scalar(select(SelfReport).where(SelfReport.number == number))
    assert report.state == "pending" and report.region_code == "371699101200001"
    assert report.phone_hash and PHONE.encode() not in bytes(report.phone_enc)
    report_id = report.id
    # A retry with the same key and code answers the same report (with a new query code).
    again = client.post("/api/v1/public/reports", data=form(code, client_key="k-1"))
    assert again.status_code == 200 and again.get_json()["number"] == number
    assert again.headers["Idempotent-Replayed"] == "true" and reports() == 1
    receipt_code = again.get_json()["code"]  # the replay's new code is the one in force
    # A replayed code on a new report is refused.
    replay = client.post("/api/v1/public/reports", data=form(code, client_key="k-2"))
    assert replay.status_code == 422 and "code" in replay.get_json()["errors"]["json"]

    told = db.session.scalars(
        select(Notification.link).where(
            Notification.user_id == world["grid_worker@village"].id,
            Notification.event == "self_report_received",
        )
    ).all()
    assert told == [f"/self-reports/{number}"]
    worker = bearer(world["grid_worker@village"])
    tasks = client.get("/api/v1/me/tasks", headers=worker).get_json()
    mine = [t for t in tasks["items"] if t["kind"] == "self_report"]
    assert [t["number"] for t in mine] == [number] and mine[0]["link"] == f"/self-reports/{number}"
    village_staff = client.get("/api/v1/me/tasks", headers=bearer(world["official@village"]))
    assert number in [t["number"] for t in village_staff.get_json()["items"]]

    seen = client.get(f"/api/v1/self-reports/{number}", headers=worker)
    assert seen.status_code == 200 and seen.get_json()["phone"] == "139****5678"
    photo = seen.get_json()["photos"][0]
    image = client.get(f"/api/v1/self-reports/{number}/photos/{photo}", headers=worker)
    assert image.status_code == 200 and image.data == PNG
    stale = client.post(
        f"/api/v1/self-reports/{number}/verify", json={"version": 9}, headers=worker
    )
    assert stale.status_code == 409
    verified = client.post(
        f"/api/v1/self-reports/{number}/verify", json={"version": 1}, headers=worker
    )
    assert verified.status_code == 200, verified.get_json()
    case_number = verified.get_json()["case_number"]
    case = db.session.scalar(select(Case).where(Case.number == case_number))
    assert case.source == "online" and case.reporter_id == world["grid_worker@village"].id
    applicant = db.session.scalar(select(Party).where(Party.case_id == case.id))
    assert applicant.role == "applicant" and applicant.phone_masked == "139****5678"
    receipt = db.session.scalar(select(Receipt).where(Receipt.self_report_id == report_id))
    assert receipt.case_id == case.id
    db.session.expire_all()
    assert selfreports.public_state(db.session.get(SelfReport, report_id)) == {
        "stage": "已核实",
        "reason": None,
    }
    told = db.session.scalars(select(SmsMessage.text).where(SmsMessage.phone == PHONE)).all()
    assert any(case_number in t for t in told)
    # The resident keeps their receipt's number (to look up and to rate); the case's is beside it.
    progress = client.post(
        "/api/v1/public/progress", json={"number": number, "code": receipt_code}
    ).get_json()
    assert (progress["number"], progress["case_number"]) == (number, case_number)
    left = client.get("/api/v1/me/tasks", headers=worker).get_json()["items"]
    assert number not in [t["number"] for t in left if t["kind"] == "self_report"]


def test_a_declined_report_shows_its_reason_and_the_sweep_marks_late_ones(
    client, world, monkeypatch
):
    """Decline needs a reason (422); another village's worker gets 404; past due → 已超时."""
    answer = client.post("/api/v1/public/reports", json=form(code_for(client)))
    number = answer.get_json()["number"]
    report_id = db.session.scalar(select(SelfReport.id).where(SelfReport.number == number))
    outsider = client.post(
        f"/api/v1/self-reports/{number}/decline",
        json={"version": 1, "reason": "不属实"},
        headers=bearer(world["outsider"]),
    )
    assert outsider.status_code == 404
    assert (
        client.get(f"/self-reports/{number}", headers=bearer(world["outsider"])).status_code == 404
    )

    moment = clock.now() + dt.timedelta(days=10)
    monkeypatch.setattr(clock, "now", lambda: moment)
    assert selfreports.sweep() == 1
    db.session.commit()
    worker = bearer(world["grid_worker@village"])
    late = [
        t
        for t in client.get("/api/v1/me/tasks", headers=worker).get_json()["items"]
        if t["kind"] == "self_report"
    ]
    assert late[0]["warning"] == "red"
    assert selfreports.public_state(db.session.get(SelfReport, report_id))["stage"] == "已超时"

    missing = client.post(
        f"/api/v1/self-reports/{number}/decline", json={"version": 2}, headers=worker
    )
    assert missing.status_code == 422 and "reason" in missing.get_json()["errors"]["json"]
    declined = client.post(
        f"/api/v1/self-reports/{number}/decline",
        json={"version": 2, "reason": "经现场查看，垃圾已清理"},
        headers=worker,
    )
    assert declined.status_code == 200, declined.get_json()
    db.session.expire_all()
    assert selfreports.public_state(db.session.get(SelfReport, report_id)) == {
        "stage": "未予受理",
        "reason": "经现场查看，垃圾已清理",
    }
    page = client.get(f"/self-reports/{number}", headers=worker)
    assert page.status_code == 200 and "经现场查看" in page.get_data(as_text=True)


def test_bad_codes_points_and_photos_write_nothing(client, world, monkeypatch):
    """Wrong (counted), expired and missing codes, a point outside every cell, a text "photo"."""
    code = code_for(client)
    wrong = client.post("/api/v1/public/reports", data=form("000000" if code != "000000" else "1"))
    assert wrong.status_code == 422 and "code" in wrong.get_json()["errors"]["json"]
    assert db.session.scalar(select(PhoneCode.attempts)) == 1  # counted through the rollback
    outside = client.post(
        "/api/v1/public/reports", data=form(code, POINT_OTHER_COUNTY | {"lon": 120.0})
    )
    assert outside.status_code == 422 and "location" in outside.get_json()["errors"]["json"]
    text_photo = form(code)
    text_photo["photos"] = (io.BytesIO(b"just some text, not a photo"), "photo.jpg")
    refused = client.post("/api/v1/public/reports", data=text_photo)
    assert refused.status_code == 422 and "photos" in refused.get_json()["errors"]
    assert reports() == 0 and db.session.scalar(select(PhoneCode.used_at)) is None

    later = clock.now() + dt.timedelta(minutes=11)
    monkeypatch.setattr(clock, "now", lambda: later)
    expired = client.post("/api/v1/public/reports", data=form(code))
    assert expired.status_code == 422 and "过期" in expired.get_json()["errors"]["json"]["code"][0]
    landline = client.post("/api/v1/public/phone-codes", json={"phone": "0543-3312345"})
    assert landline.status_code == 422 and "phone" in landline.get_json()["errors"]["json"]
    assert reports() == 0


def test_flooding_code_requests_is_throttled(client, world):
    """A phone gets 3 codes per 10 minutes; the 4th request is 429 and sends nothing."""
    for _ in range(3):
        assert client.post("/api/v1/public/phone-codes", json={"phone": PHONE}).status_code == 202
    sent = db.session.scalar(select(func.count()).select_from(SmsMessage))
    flood = client.post("/api/v1/public/phone-codes", json={"phone": PHONE})
    assert flood.status_code == 429
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == sent
    assert client.get("/report/public").status_code == 200


def test_the_grid_workers_page_verifies_by_its_form(client, world):
    """The report page shows the point and photo and offers 核实; its form opens the case."""
    number, _photo = make_self_report(POINT)
    db.session.commit()
    login(client, world["grid_worker@village"].username)
    page = client.get(f"/self-reports/{number}").get_data(as_text=True)
    assert 'id="selfreport-point"' in page and "/photos/" in page and "139****5678" in page
    token = csrf_from(page)
    done = client.post(
        f"/self-reports/{number}/verify",
        data={"version": "1", "applicant_name": "张三", "csrf_token": token},
    )
    assert done.status_code == 302
    case_id = db.session.scalar(select(SelfReport.case_id).where(SelfReport.number == number))
    assert db.session.get(Case, case_id).reporter_id == world["grid_worker@village"].id
    again = client.post(
        f"/self-reports/{number}/decline",
        data={"version": "2", "reason": "重复", "csrf_token": token},
    )
    assert again.status_code == 409  # already verified: nothing declined
