"""Personal data typed into free text (issue 19): detected, stored masked, revealed with audit."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from app import pii
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.extensions import db
from app.notify.models import Notification
from app.privacy.models import FreeTextOriginal
from tests.accounts.helpers import login
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import bearer


def auth(world, key: str) -> dict:
    """A bearer header for the world's user `key`, loaded afresh (requests end the session)."""
    return bearer(world[key])


PHONE = "13912345678"
MASKED_ID = "110101********4477"
# 18 digits with a wrong checksum (an order number): not an ID number, left as typed.
ORDER = "110101199003074478"
TITLE = f"张三 {PHONE} 漏水"
DESCRIPTION = f"申请人身份证 {ID_NUMBER}，订单 {ORDER}，座机 0543-3312345"


def test_mask_text_rules():
    """ID numbers (checksum, spaced groups, old 15-digit form), mobiles (+86, separators),
    landlines; numbers failing the checks, and longer digit runs, stay."""
    cases = {
        f"证件{ID_NUMBER}": "证件110101********4477",
        "110101 19900307 4477 本人": "110101********4477 本人",
        "老证 370521800101123": "老证 370521*****1123",
        "电话+86 139-1234-5678。": "电话+86 139****5678。",
        "电话 8613912345678": "电话 86139****5678",
        "座机0543-3312345": "座机0543****2345",
        f"单号{ORDER}": f"单号{ORDER}",
        "流水号 20261201139123456789": "流水号 20261201139123456789",
        # Glued to Latin letters it is part of a code (a hex key, a device number), not a phone.
        "soak:b6bd9150-19fa-6a67-537b-a16645557075": "soak:b6bd9150-19fa-6a67-537b-a16645557075",
        "设备TX13912345678": "设备TX13912345678",
        "电话13912345678": "电话139****5678",
        "编号 371699-2026-000123，时间 2026-12-01": "编号 371699-2026-000123，时间 2026-12-01",
    }
    for typed, shown in cases.items():
        assert pii.mask_text(typed) == shown, typed
    assert pii.mask_text(None) is None and not pii.find_personal(f"单号{ORDER}")


def test_free_text_is_masked_everywhere_and_revealed_with_audit(client, world):
    """A report whose title and description hold a phone and an ID number: the stored text,
    the API answer, the list, the CSV export, the page, the map layer, the notifications and the
    timeline's notes show only the masked forms; the reveal gives the clear text, audited."""
    worker, mediator = "grid_worker@village", "mediator@village"
    created = report(client, world[worker], title=TITLE, description=DESCRIPTION)
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    note = act(client, world[mediator], number, "accept", {"note": f"已电话联系 {PHONE}"})
    assert note.status_code == 200, note.get_json()
    up = act(client, world[mediator], number, "escalate", {"reason": f"村级无法化解 {ID_NUMBER}"})
    assert up.status_code == 200, up.get_json()  # the town's staff are told, with the title

    masked_title = "张三 139****5678 漏水"
    body = client.get(f"/api/v1/cases/{number}", headers=auth(world, mediator)).get_json()
    assert body["title"] == masked_title
    assert MASKED_ID in body["description"] and ORDER in body["description"]
    assert "0543****2345" in body["description"]
    assert "已电话联系 139****5678" in [e.get("note") for e in body["events"]]

    answers = [
        client.get("/api/v1/cases", headers=auth(world, mediator)).get_data(as_text=True),
        client.get("/api/v1/cases/export.csv", headers=auth(world, mediator)).get_data(
            as_text=True
        ),
        client.get("/api/v1/cases.geojson", headers=auth(world, mediator)).get_data(as_text=True),
    ]
    rows = list(csv.reader(io.StringIO(answers[1].lstrip("\ufeff"))))
    assert masked_title in [row[4] for row in rows]
    login(client, world[mediator].username)
    page = client.get(f"/cases/{number}")
    assert page.status_code == 200 and masked_title in page.get_data(as_text=True)
    answers.append(page.get_data(as_text=True))
    for answer in answers:
        assert PHONE not in answer and ID_NUMBER not in answer
    assert "村级无法化解 110101********4477" in answers[-1]

    # Stored masked; the clear text only encrypted beside it.
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.title == masked_title and ID_NUMBER not in case.description
    notes = db.session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case.id))
    assert all(PHONE not in (n or "") for n in notes)
    bodies = db.session.execute(select(Notification.title, Notification.body)).all()
    assert (f"事件 {number} 已提级至镇级", masked_title) in bodies
    assert all(PHONE not in f"{t}{b}" for t, b in bodies)
    originals = db.session.scalars(
        select(FreeTextOriginal).where(FreeTextOriginal.case_id == case.id)
    ).all()
    assert {(o.table_name, o.field) for o in originals} == {
        ("cases", "title"),
        ("cases", "description"),
        ("case_events", "note"),
    }
    assert all(PHONE.encode() not in bytes(o.text_enc) for o in originals)

    # The audited reveal, with a purpose.
    revealed = client.post(
        f"/api/v1/cases/{number}/text/reveal",
        json={"purpose": "contact"},
        headers=auth(world, mediator),
    )
    assert revealed.status_code == 200, revealed.get_json()
    texts = [(i["table"], i["field"], i["text"]) for i in revealed.get_json()["items"]]
    assert ("cases", "title", TITLE) in texts
    assert ("cases", "description", DESCRIPTION) in texts
    assert ("case_events", "note", f"已电话联系 {PHONE}") in texts
    assert ("case_events", "note", f"村级无法化解 {ID_NUMBER}") in texts
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "cases.reveal_text")
    ).one()
    assert entry.object_id == number and entry.detail["purpose"] == "contact"
    assert entry.actor == world[mediator].username
    # A revealing export (POST, audited) shows the titles as typed.
    clear = client.post(
        "/api/v1/cases/export.csv?reveal=true", headers=auth(world, mediator)
    ).get_data(as_text=True)
    assert TITLE in clear
    # Without the permission, or without a known purpose: no reveal.
    denied = client.post(
        f"/api/v1/cases/{number}/text/reveal",
        json={"purpose": "contact"},
        headers=auth(world, worker),
    )
    assert denied.status_code == 403
    bad = client.post(
        f"/api/v1/cases/{number}/text/reveal", json={"purpose": "x"}, headers=auth(world, mediator)
    )
    assert bad.status_code == 422 and "purpose" in bad.get_json()["errors"]["json"]
