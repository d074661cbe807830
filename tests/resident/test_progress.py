"""The resident's side (docs/resident.md): receipts at registration, the public progress lookup,
its limits, the public outcome text and ratings."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.core import clock
from app.extensions import db
from app.notify.models import Notification
from app.notify.models import SmsMessage
from app.resident.models import Rating
from app.resident.models import Receipt
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import act
from tests.cases.factories import report
from tests.cases.test_workflow import AGREEMENT
from tests.factories import bearer


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


PROGRESS = "/api/v1/public/progress"
RATING = "/api/v1/public/rating"


def registered(client, world) -> tuple[str, str, dict]:
    """A dispute reported by the village's grid worker: number, code, the report's answer."""
    response = report(client, world["grid_worker@village"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return body["number"], body["receipt"]["code"], body


def resolve(client, world, number: str, who: str, **extra):
    """Resolve with an agreement (and the public outcome text, when given)."""
    body = {"outcome": "agreement", "note": "达成协议", "agreement": AGREEMENT, **extra}
    response = act(client, world[who], number, "resolve", body)
    assert response.status_code == 200, response.get_json()


def secrets_of(world) -> list[str]:
    """What must never show on a public answer: parties' data and staff names."""
    staff = [world[k] for k in ("grid_worker@village", "mediator@village", "mediator@town")]
    return [
        "张三",
        "李四",
        PHONE,
        "3312345",
        ID_NUMBER,
        "东村12号",
        "达成协议",  # the internal note
        "楼上修复防水",  # the agreement's terms
        *(u.display_name for u in staff),
        *(u.username for u in staff),
    ]


def test_registration_issues_a_receipt_and_texts_the_applicant(client, world):
    number, code, body = registered(client, world)
    assert body["receipt"]["number"] == number
    assert body["receipt"]["url"].endswith(f"/q/{number}") and code not in body["receipt"]["url"]
    case_id = db.session.scalar(select(Case.id).where(Case.number == number))
    receipt = db.session.scalar(select(Receipt).where(Receipt.number == number))
    assert receipt.case_id == case_id and code not in receipt.code_hash
    # One text to the applicant's mobile (not the respondent's landline): number, code, link.
    sms = db.session.scalars(select(SmsMessage).where(SmsMessage.user_id.is_(None))).all()
    assert [m.phone for m in sms] == [PHONE]
    assert number in sms[0].text and code in sms[0].text and f"/q/{number}" in sms[0].text
    for secret in ("张三", "李四", ID_NUMBER, "东村", "漏水"):
        assert secret not in sms[0].text
    # The case's own answer never carries the code again.
    again = client.get(f"/api/v1/cases/{number}", headers=bearer(world["grid_worker@village"]))
    assert code not in again.get_data(as_text=True)


def test_progress_follows_the_case_without_personal_data(client, world):
    number, code, _body = registered(client, world)
    ask = {"number": number, "code": code.lower()}  # case does not matter

    first = client.post(PROGRESS, json=ask)
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer["stage"] == "registered" and answer["stage_name"] == "已登记"
    assert answer["unit"] == "东村（村级）" and answer["accept_due"] and not answer["can_rate"]

    assert act(client, world["mediator@village"], number, "accept").status_code == 200
    assert client.post(PROGRESS, json=ask).get_json()["stage"] == "accepted"
    escalate = act(
        client, world["mediator@village"], number, "escalate", {"reason": "村级无法化解"}
    )
    assert escalate.status_code == 200
    up = client.post(PROGRESS, json=ask).get_json()
    assert up["stage"] == "referred_up" and up["unit"].endswith("（镇级）")
    assert act(client, world["mediator@town"], number, "accept").status_code == 200
    resolve(client, world, number, "mediator@town", public_outcome="经调解，漏水已修好。")

    done = client.post(PROGRESS, json=ask)
    answer = done.get_json()
    assert answer["stage"] == "resolved" and answer["stage_name"] == "已办结"
    assert answer["public_outcome"] == "经调解，漏水已修好。" and answer["can_rate"]
    assert answer["resolved_on"] and answer["resolve_due"] is None
    stages = [s["stage"] for s in answer["timeline"]]
    assert stages == ["registered", "accepted", "referred_up", "accepted", "resolved"]
    assert set(answer["timeline"][0]) == {"at", "stage", "stage_name"}
    text = done.get_data(as_text=True)
    for secret in secrets_of(world):
        assert secret not in text, secret

    token = csrf_from(client.get(f"/q/{number}").get_data(as_text=True))
    page = client.post(f"/q/{number}", data={"csrf_token": token, "code": code})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "已办结" in html and "经调解，漏水已修好" in html
    assert 'name="rating"' in html
    for secret in secrets_of(world):
        assert secret not in html, secret
    # The lookups are audited with the number, never the code.
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "resident.progress")
    ).all()
    assert entries and all(e.object_id == number for e in entries)
    assert all(code not in str(e.detail) for e in entries)


def test_a_wrong_code_and_an_unknown_number_get_the_same_answer(client, world):
    number, code, _body = registered(client, world)
    wrong = client.post(PROGRESS, json={"number": number, "code": "WRONG23456"})
    unknown = client.post(PROGRESS, json={"number": "371699-2026-999999", "code": "WRONG23456"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_json() == unknown.get_json()
    token = csrf_from(client.get("/q").get_data(as_text=True))
    wrong_page = client.post("/q", data={"csrf_token": token, "number": number, "code": "X2345"})
    unknown_page = client.post(
        "/q", data={"csrf_token": token, "number": "371699-2026-999999", "code": "X2345"}
    )
    assert wrong_page.status_code == unknown_page.status_code == 404

    def shown(page, typed: str) -> str:
        # CSRF tokens are signed with the time; otherwise only the typed number differs.
        html = re.sub(
            r'(csrf-token" content|name="csrf_token" value)="[^"]*"',
            "",
            page.get_data(as_text=True),
        )
        return html.replace(typed, "N")

    assert shown(wrong_page, number) == shown(unknown_page, "371699-2026-999999")
    # In English too, from the header's switcher (the stage words come translated).
    client.get(f"/language/en?next=/q/{number}")
    english = client.get(f"/q/{number}").get_data(as_text=True)
    assert "Progress lookup" in english and "Query code" in english
    assert (
        client.post(PROGRESS, json={"number": number, "code": code}).get_json()["stage_name"]
        == "Registered"
    )
    # The wrong code was counted on the number, through the 404's rollback.
    db.session.expire_all()
    assert db.session.scalar(select(Receipt.failed_attempts).where(Receipt.number == number)) == 2


def test_a_thousand_wrong_guesses_find_nothing_and_are_throttled(client, world, monkeypatch):
    """A thousand wrong codes against one number: none found, all but the first 50 refused.

    A thousand prove what ten thousand did (those took 30 s of the suite): the limits are counts
    for the day and for 10 minutes (RESIDENT_LIMIT_NUMBER, RESIDENT_LIMIT_ADDRESS in
    app/config.py), reached within the first few dozen guesses, and every guess after that is
    refused the same way however many follow. app/resident/receipts.py has the arithmetic for
    10,000 a day.
    """
    number, code, _body = registered(client, world)
    # 1,000 request log lines would cost more than the requests: the access log stays quiet.
    monkeypatch.setattr(logging.getLogger("gridgov.request"), "disabled", True)
    statuses = {200: 0, 404: 0, 429: 0}
    for i in range(1_000):
        guess = f"{i:010d}".translate(str.maketrans("0123456789", "23456789AB"))
        response = client.post(PROGRESS, json={"number": number, "code": guess})
        statuses[response.status_code] += 1
    assert statuses[200] == 0
    assert statuses[429] >= 950 and statuses[404] <= 50
    # The number is locked for the day, even from another address; the right code waits too.
    other = {"REMOTE_ADDR": "10.9.9.9"}
    assert (
        client.post(PROGRESS, json={"number": number, "code": code}, environ_base=other).status_code
        == 429
    )


def test_rating_once_per_resolution_and_dissatisfied_tells_the_official(client, world):
    number, code, _body = registered(client, world)
    early = client.post(RATING, json={"number": number, "code": code, "rating": "satisfied"})
    assert early.status_code == 409
    assert act(client, world["mediator@village"], number, "accept").status_code == 200
    resolve(client, world, number, "mediator@village")

    bad = client.post(RATING, json={"number": number, "code": code, "rating": "meh"})
    assert bad.status_code == 422 and "rating" in bad.get_json()["errors"]["json"]
    first = client.post(
        RATING, json={"number": number, "code": code, "rating": "dissatisfied", "comment": "没修好"}
    )
    assert first.status_code == 201, first.get_json()
    rated = client.post(PROGRESS, json={"number": number, "code": code}).get_json()
    assert rated["rating"] == "不满意" and rated["can_rate"] is False
    second = client.post(RATING, json={"number": number, "code": code, "rating": "satisfied"})
    assert second.status_code == 409
    assert db.session.scalar(select(db.func.count()).select_from(Rating)) == 1

    inbox = client.get("/api/v1/notifications", headers=bearer(world["official@village"]))
    inbox = inbox.get_json()
    told = [n for n in inbox["items"] if n["event"] == "resident_dissatisfied"]
    assert len(told) == 1 and number in told[0]["title"]
    assert not db.session.scalars(
        select(Notification).where(
            Notification.event == "resident_dissatisfied",
            Notification.user_id == world["mediator@village"].id,
        )
    ).all()

    # The case page shows it; after the follow-up the official reopens, and the next resolution
    # may be rated again.
    login(client, world["official@village"].username)
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "群众评价" in page and "没修好" in page
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    follow = act(
        client,
        world["grid_worker@village"],
        number,
        "follow_up",
        {"method": "phone", "satisfaction": "satisfied"},
    )
    assert follow.status_code == 200, follow.get_json()
    reopen = act(client, world["official@village"], number, "reopen", {"reason": "群众不满意"})
    assert reopen.status_code == 200, reopen.get_json()
    resolve(client, world, number, "mediator@village")
    anew = client.post(PROGRESS, json={"number": number, "code": code}).get_json()
    assert anew["rating"] is None and anew["can_rate"] is True  # the new resolution's round
    again = client.post(RATING, json={"number": number, "code": code, "rating": "basically"})
    assert again.status_code == 201
    rounds = db.session.scalars(select(Rating.resolved_at).where(Rating.case_id.isnot(None))).all()
    assert len(set(rounds)) == 2


def test_public_outcome_and_receipt_from_the_case_page(client, world):
    number, first_code, _body = registered(client, world)
    mediator = world["mediator@village"]
    username = mediator.username
    version = client.get(f"/api/v1/cases/{number}", headers=bearer(mediator)).get_json()["version"]
    put = client.put(
        f"/api/v1/cases/{number}/public-outcome",
        json={"public_outcome": "已上门查看。", "version": version},
        headers=bearer(world["mediator@village"]),
    )
    assert put.status_code == 200 and put.get_json()["public_outcome"] == "已上门查看。"
    stale = client.put(
        f"/api/v1/cases/{number}/public-outcome",
        json={"public_outcome": "x", "version": version},
        headers=bearer(world["mediator@village"]),
    )
    assert stale.status_code == 409

    login(client, username)
    html = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "已上门查看。" in html and "群众凭回执" in html
    printed = client.post(f"/cases/{number}/receipt", data={"csrf_token": csrf_from(html)})
    text = printed.get_data(as_text=True)
    assert printed.status_code == 200 and "<svg" in text and number in text and "测试县" in text
    assert "原查询码失效" in html or "此前的查询码已失效" in text
    new_code = text.split('receipt-code">', 1)[1].split("<", 1)[0]
    assert new_code != first_code
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    assert client.post(PROGRESS, json={"number": number, "code": first_code}).status_code == 404
    assert client.post(PROGRESS, json={"number": number, "code": new_code}).status_code == 200
    assert (
        db.session.scalar(
            select(db.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "resident.receipt_print")
        )
        == 1
    )


def test_residents_ratings_are_a_channel_of_their_own_in_the_metrics(client, world):
    number, code, _body = registered(client, world)
    assert act(client, world["mediator@village"], number, "accept").status_code == 200
    resolve(client, world, number, "mediator@village")
    assert (
        client.post(
            RATING, json={"number": number, "code": code, "rating": "basically"}
        ).status_code
        == 201
    )
    follow = act(
        client,
        world["grid_worker@village"],
        number,
        "follow_up",
        {"method": "phone", "satisfaction": "dissatisfied"},
    )
    assert follow.status_code == 200
    today = clock.today()
    body = client.get(
        "/api/v1/metrics",
        query_string={"from": (today - dt.timedelta(days=5)).isoformat(), "to": today.isoformat()},
        headers=bearer(world["official@town"]),
    ).get_json()
    staff, residents = body["measures"]["satisfaction"], body["measures"]["resident_satisfaction"]
    assert (staff["numerator"], staff["denominator"], staff["dissatisfied"]) == (0, 1, 1)
    assert (residents["numerator"], residents["denominator"]) == (1, 1)
    assert residents["basically_satisfied"] == 1
