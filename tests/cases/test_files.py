"""A case's photos and documents, listed to whoever may see the case; 办理记录 progress notes."""

from __future__ import annotations

import io
import re

from sqlalchemy import func
from sqlalchemy import select

from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.cases import services
from app.cases.models import CaseEvent
from app.core import clock
from app.dispatch.models import Dispatch
from app.extensions import db
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import POINT
from tests.cases.factories import case_body
from tests.factories import bearer
from tests.risks.factories import png_bytes

PNG = png_bytes()  # a real image: uploads must decode
PDF = b"%PDF-1.4\n" + b"0" * 64


def report(world, key: str = "grid_worker@village") -> tuple[str, int]:
    """A case reported (and committed) by a world user: (number, id)."""
    case = services.report({**case_body(), **POINT}, world[key])
    db.session.commit()
    return case.number, case.id


def dispatch_to(case_id: int, world, state: str = "sent") -> int:
    """A lead dispatch of the case to the world's town unit (甲镇人社所), committed: its id."""
    row = Dispatch(
        case_id=case_id,
        department_id=world.department_ids["town-labour"],
        role="lead",
        state=state,
        centre_region_id=world["mediator@town"].region_id,
        centre_level="town",
        dispatched_by_id=world.user_ids["mediator@town"],
        dispatched_at=clock.now(),
    )
    db.session.add(row)
    db.session.commit()
    return row.id


def upload(client, number: str, headers: dict, *files: tuple[bytes, str]):
    """POST photos to a case."""
    return client.post(
        f"/api/v1/cases/{number}/photos",
        data={"photos": [(io.BytesIO(data), name) for data, name in files]},
        headers=headers,
        content_type="multipart/form-data",
    )


def counts(case_id: int) -> tuple[int, int]:
    """(timeline entries, attachments) of a case."""
    events = db.session.scalar(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)
    )
    files = db.session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.owner_type == "case", Attachment.owner_id == case_id)
    )
    return events, files


def test_attachments_are_listed_to_whoever_may_see_the_case(app, client, world, monkeypatch):
    """The case API and page list the case's photos, PDFs and its units' report attachments
    (who uploaded, when, where to download) to callers in scope; outsiders get 404."""
    number, case_id = report(world)
    up = upload(client, number, bearer(world["grid_worker@village"]), (PNG, "scene.png"))
    assert up.status_code == 201
    assert up.get_json()[0]["uploaded_by"] == world["grid_worker@village"].display_name
    pdf = upload(client, number, bearer(world["mediator@village"]), (PDF, "notes.pdf"))
    assert pdf.status_code == 201, pdf.get_json()
    # A unit's report attachment (owner "dispatch"): listed when its owner type lets one see it.
    dispatch_id = dispatch_to(case_id, world)
    monkeypatch.setitem(attachments.OWNER_VISIBILITY, "dispatch", lambda _id, _user: True)
    upload_ = attachments.check(png_bytes(2, 3), "report.png")
    attachments.store(upload_, "dispatch", dispatch_id, world["department_staff@town"])
    db.session.commit()

    body = client.get(f"/api/v1/cases/{number}", headers=bearer(world["mediator@town"])).get_json()
    files = body["attachments"]
    assert [(f["owner_type"], f["content_type"], f["original_name"]) for f in files] == [
        ("case", "image/png", "scene.png"),
        ("case", "application/pdf", "notes.pdf"),
        ("dispatch", "image/png", "report.png"),
    ]
    assert files[0]["uploaded_by"] == world["grid_worker@village"].display_name
    assert files[2]["uploaded_by"] == world["department_staff@town"].display_name
    assert files[0]["size"] == len(PNG) and files[0]["uploaded_at"]
    assert files[0]["url"] == f"/api/v1/attachments/{files[0]['id']}"
    # The unit's staff (the case is dispatched to them) see the same list.
    staff = client.get(f"/api/v1/cases/{number}", headers=bearer(world["department_staff@town"]))
    assert [f["id"] for f in staff.get_json()["attachments"]] == [f["id"] for f in files]

    # Without a visibility rule for "dispatch", its attachments are not listed (nor downloadable).
    monkeypatch.delitem(attachments.OWNER_VISIBILITY, "dispatch")
    body = client.get(f"/api/v1/cases/{number}", headers=bearer(world["mediator@town"])).get_json()
    assert [f["owner_type"] for f in body["attachments"]] == ["case", "case"]

    assert login(client, world["mediator@village"].username).status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert f'<img src="/api/v1/attachments/{files[0]["id"]}"' in page
    assert f'href="/api/v1/attachments/{files[1]["id"]}" download>notes.pdf' in page
    assert world["grid_worker@village"].display_name in page

    outsider = bearer(world["outsider"])
    assert client.get(f"/api/v1/cases/{number}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/attachments/{files[0]['id']}", headers=outsider).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert login(client, world["outsider"].username).status_code == 302
    assert client.get(f"/cases/{number}").status_code == 404


def test_progress_note_with_a_photo_through_the_api_and_the_page_form(client, world):
    """办理记录: the note through the action route and a photo through the photos route (API), or
    both from the page's form (multipart); the state stays, the timeline shows the note."""
    number, case_id = report(world)
    headers = bearer(world["mediator@village"])
    noted = client.post(
        f"/api/v1/cases/{number}/actions/record_progress",
        json={"version": 1, "note": "已电话联系双方，约周五面谈"},
        headers=headers,
    )
    assert noted.status_code == 200, noted.get_json()
    body = noted.get_json()
    assert body["state"] == "reported" and body["version"] == 2
    assert body["events"][-1]["action"] == "record_progress"
    assert body["events"][-1]["note"] == "已电话联系双方，约周五面谈"
    assert upload(client, number, headers, (PNG, "talk.png")).status_code == 201

    # The unit's staff, from the case page: a note and a photo in one form.
    dispatch_to(case_id, world)
    staff_id = world.user_ids["department_staff@town"]
    assert login(client, world["department_staff@town"].username).status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert 'id="action-record_progress"' in page and 'enctype="multipart/form-data"' in page
    version = re.search(
        r'act/record_progress"[^>]*>\s*<input[^>]*>\s*<input type="hidden" name="version" '
        r'value="(\d+)"',
        page,
    ).group(1)
    posted = client.post(
        f"/cases/{number}/act/record_progress",
        data={
            "csrf_token": csrf_from(page),
            "version": version,
            "note": "已核实欠薪名单，共 12 人",
            "photos": (io.BytesIO(png_bytes(3, 2)), "list.png"),
        },
        content_type="multipart/form-data",
    )
    assert posted.status_code == 302, posted.get_data(as_text=True)[:2000]
    db.session.expire_all()
    event = db.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc())
    )
    assert (event.action, event.note, event.actor_id) == (
        "record_progress",
        "已核实欠薪名单，共 12 人",
        staff_id,
    )
    photo_id, name, by = db.session.execute(
        select(Attachment.id, Attachment.original_name, Attachment.uploaded_by_id)
        .where(Attachment.owner_type == "case", Attachment.owner_id == case_id)
        .order_by(Attachment.id.desc())
    ).first()
    assert (name, by) == ("list.png", staff_id)
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "已核实欠薪名单，共 12 人" in page and f"/api/v1/attachments/{photo_id}" in page


def test_refused_progress_notes_write_nothing(client, world):
    """An empty, blank or too long note, a wrong role, and a unit that no longer holds the case
    are refused with the problem named; a bad photo on the page form writes no note either."""
    number, case_id = report(world, "mediator@village")  # the grid worker is not its reporter
    before = counts(case_id)
    url = f"/api/v1/cases/{number}/actions/record_progress"
    mediator = bearer(world["mediator@village"])
    for note in (None, "", "   ", "长" * 2001):
        body = {"version": 1} | ({} if note is None else {"note": note})
        answer = client.post(url, json=body, headers=mediator)
        assert answer.status_code == 422, answer.get_json()
        assert "note" in answer.get_json()["errors"]["json"]
    for key in ("grid_worker@village", "admin@village"):
        answer = client.post(url, json={"version": 1, "note": "x"}, headers=bearer(world[key]))
        assert answer.status_code == 403, (key, answer.get_json())
    # A unit whose dispatch was returned only reads the case: no note, no photo.
    dispatch_to(case_id, world, state="returned")
    staff = bearer(world["department_staff@town"])
    assert client.get(f"/api/v1/cases/{number}", headers=staff).get_json()["allowed_actions"] == []
    answer = client.post(url, json={"version": 1, "note": "x"}, headers=staff)
    assert answer.status_code == 403 and "dispatch" in answer.get_json()["errors"]
    assert upload(client, number, staff, (PNG, "x.png")).status_code == 403
    assert counts(case_id) == before

    assert login(client, world["mediator@village"].username).status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    refused = client.post(
        f"/cases/{number}/act/record_progress",
        data={
            "csrf_token": csrf_from(page),
            "version": "1",
            "note": "附现场照片",
            "photos": (io.BytesIO(b"not an image"), "scene.png"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "scene.png 不是 JPEG、PNG 或 PDF 文件" in text and "附现场照片" in text
    db.session.expire_all()
    assert counts(case_id) == before
