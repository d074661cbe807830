"""The 综治中心's closed loop through the API (shared/DOMAIN.md §8, docs/workflow.md)."""

from __future__ import annotations

import datetime as dt
import io
import re
from unittest import mock

from sqlalchemy import func
from sqlalchemy import select

from app.cases import services as case_services
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.core import clock
from app.deadlines.calendar import SHANGHAI
from app.dispatch import api as dispatch_api
from app.dispatch import fast as dispatch_fast
from app.dispatch.models import Dispatch
from app.dispatch.models import RoutingRule
from app.extensions import db
from app.notify.models import Notification
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import COUNTY
from tests.factories import bearer
from tests.factories import make_department
from tests.factories import make_staff
from tests.geo.factories import TOWN
from tests.risks.factories import png_bytes

PNG = png_bytes()  # a real image: uploads must decode


def town_case(client, world, **overrides) -> str:
    """A 劳资 dispute reported and accepted by the town mediator (a town-level case)."""
    mediator = world["mediator@town"]
    response = report(client, mediator, category="劳资", **overrides)
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["number"]
    assert act(client, mediator, number, "accept").status_code == 200
    return number


def listing(client, headers: dict, number: str) -> dict:
    """The dispatch list, checked each time against marshmallow's own dump of it (the answer is
    dumped by app/core/dump.py's compiled form: the same bytes, in every state the tests reach)."""
    response = client.get(f"/api/v1/cases/{number}/dispatches", headers=headers)
    assert response.status_code == 200, response.get_json()
    marshmallow = lambda schema, obj: schema.dump(obj)  # noqa: E731
    with (
        mock.patch.object(dispatch_api, "dump", marshmallow),
        mock.patch.object(dispatch_fast, "dump", marshmallow),
    ):
        plain = client.get(f"/api/v1/cases/{number}/dispatches", headers=headers)
    assert plain.data == response.data and plain.headers["ETag"] == response.headers["ETag"]
    return response.get_json()


def step(client, headers: dict, number: str, dispatch: dict, action: str, body=None, **kwargs):
    """POST a dispatch step with the dispatch's version (JSON, or `data=` for multipart)."""
    path = f"/api/v1/cases/{number}/dispatches/{dispatch['id']}/actions/{action}"
    if "data" in kwargs:
        kwargs["data"] = {"version": str(dispatch["version"]), **kwargs["data"]}
        return client.post(path, headers=headers, **kwargs)
    return client.post(path, json={"version": dispatch["version"], **(body or {})}, headers=headers)


def send(client, headers: dict, number: str, body: dict):
    version = listing(client, headers, number)["case_version"]
    return client.post(
        f"/api/v1/cases/{number}/dispatches", json={"version": version, **body}, headers=headers
    )


def told(user_id: int, event: str) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user_id, Notification.event == event)
        )
    )


def events(number: str) -> list[CaseEvent]:
    case_id = db.session.scalar(select(Case.id).where(Case.number == number))
    return list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
    )


def test_dispatch_sign_report_accept_resolves_the_case(client, world):
    """Dispatch to the suggested unit → sign → report with a photo → accept → resolved →
    follow-up; each step on the timeline, the right people told."""
    unit_id = world.department_ids["town-labour"]
    police = make_department("town-police", TOWN, "police", ("治安",), "甲镇派出所")
    police_id, police_staff = police.id, make_staff("staff-police", police).id
    number = town_case(client, world)
    town = db.session.scalar(select(Case.town_id).where(Case.number == number))
    db.session.add(RoutingRule(region_id=town, category="劳资", department_id=unit_id))
    db.session.commit()
    staff_id, official_id = world.user_ids["department_staff@town"], world.user_ids["official@town"]
    official, staff = bearer(world["official@town"]), bearer(world["department_staff@town"])

    before = listing(client, official, number)
    assert before["can_dispatch"] and before["items"] == []
    assert before["suggestion"]["id"] == unit_id and before["suggestion"]["source"] == "rule"
    due = before["report_due_default"]
    sent = send(
        client,
        official,
        number,
        {
            "lead_department_id": unit_id,
            "informed_department_ids": [police_id],
            "instructions": "督促企业支付工资",
        },
    )
    assert sent.status_code == 201, sent.get_json()
    lead, informed = sent.get_json()["items"]
    assert (lead["role"], lead["state"], lead["report_due"]) == ("lead", "sent", due)
    assert lead["sign_due"] and lead["return_due"] and informed["return_due"] is None
    assert lead["allowed_actions"] == []  # the centre has nothing to do until the report
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.state == "in_progress"
    note = events(number)[-1].note
    assert "交办至 甲镇人社所（主办）" in note and f"限 {due} 前报告办理结果" in note
    assert len(told(staff_id, "dispatch_received")) == 1
    assert len(told(police_staff, "dispatch_received")) == 1
    assert told(official_id, "dispatch_received") == []  # nobody is told of their own act

    # The unit's staff see the case and may sign; the centre resolving around them is refused.
    mine = listing(client, staff, number)["items"][0]
    assert {"sign", "return", "claim"} <= set(mine["allowed_actions"])
    assert client.get(f"/api/v1/cases/{number}", headers=staff).status_code == 200
    around = act(client, world["mediator@town"], number, "resolve", {"outcome": "referred"})
    assert around.status_code == 409
    signed = step(client, staff, number, mine, "sign")
    assert signed.status_code == 200, signed.get_json()
    signed = signed.get_json()
    assert (mine["version"], signed["version"]) == (1, 2)
    assert signed["state"] == "signed" and signed["signed_on_time"] is True
    assert signed["handler"]["id"] == staff_id
    reported = step(
        client,
        staff,
        number,
        signed,
        "report",
        data={"note": "已督促企业足额支付工资", "photos": (io.BytesIO(PNG), "receipt.png")},
    )
    assert reported.status_code == 200, reported.get_json()
    reported = reported.get_json()
    assert reported["state"] == "reported" and reported["reported_on_time"] is True
    (photo,) = reported["attachments"]
    download = client.get(f"/api/v1/attachments/{photo['id']}", headers=official)
    assert download.status_code == 200 and download.data == PNG
    assert len(told(official_id, "dispatch_reported")) == 1

    centre_view = listing(client, official, number)["items"][0]
    assert centre_view["allowed_actions"] == ["accept", "redo"]
    accepted = step(client, official, number, centre_view, "accept", {"outcome": "referred"})
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["state"] == "accepted"
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (case.state, case.outcome, case.outcome_note) == (
        "resolved",
        "referred",
        "已督促企业足额支付工资",
    )
    rows = db.session.execute(
        select(Dispatch.role, Dispatch.state).where(Dispatch.case_id == case.id)
    ).all()
    states = {row.role: row.state for row in rows}
    assert states == {"lead": "accepted", "informed": "withdrawn"}
    assert len(told(staff_id, "dispatch_accepted")) == 1
    actions = [e.action for e in events(number)]
    assert actions[-5:] == [
        "dispatch",
        "dispatch_sign",
        "dispatch_report",
        "resolve",
        "dispatch_accept",
    ]
    follow = act(
        client,
        world["mediator@town"],
        number,
        "follow_up",
        {"method": "phone", "satisfaction": "satisfied"},
    )
    assert follow.status_code == 200 and follow.get_json()["state"] == "followed_up"


def test_return_within_the_window_then_dispatch_again(client, world):
    """A unit returns it with a reason within 5 working days; the centre dispatches round 2."""
    unit_id = world.department_ids["town-labour"]
    other = make_department("town-justice", TOWN, "justice", ("劳资",), "甲镇司法所")
    other_id = other.id
    number = town_case(client, world)
    official_id = world.user_ids["official@town"]
    official, staff = bearer(world["official@town"]), bearer(world["department_staff@town"])
    # With no routing rule, a competent unit of the town is suggested.
    suggested = listing(client, official, number)["suggestion"]
    assert (suggested["id"], suggested["source"]) == (other_id, "category")
    assert send(client, official, number, {"lead_department_id": unit_id}).status_code == 201
    again = send(client, official, number, {"lead_department_id": other_id})
    assert again.status_code == 409 and "甲镇人社所" in again.get_json()["message"]
    mine = listing(client, staff, number)["items"][0]
    returned = step(client, staff, number, mine, "return", {"reason": "不属于人社所职责"})
    assert returned.status_code == 200 and returned.get_json()["state"] == "returned"
    assert len(told(official_id, "dispatch_returned")) == 1
    second = send(client, official, number, {"lead_department_id": other_id})
    assert second.status_code == 201, second.get_json()
    items = second.get_json()["items"]
    assert [(d["round"], d["state"]) for d in items] == [(1, "returned"), (2, "sent")]


def test_refusals_name_the_problem_and_write_nothing(client, world, monkeypatch):
    """Outside the jurisdiction, not the lead, after the return window, stale or missing
    versions, a village case: each a clear error; no dispatch, step or notification written."""
    unit_id = world.department_ids["town-labour"]
    county_unit = make_department("county-police", COUNTY, "police", ("治安",), "示范县公安局")
    county_unit_id = county_unit.id
    co = make_department("town-market", TOWN, "market", ("劳资",), "甲镇市场监管所")
    co_id, co_staff = co.id, make_staff("staff-market", co)
    number = town_case(client, world)
    official, staff = bearer(world["official@town"]), bearer(world["department_staff@town"])
    co_staff = bearer(co_staff)

    def written():
        return (
            db.session.scalar(select(func.count()).select_from(Dispatch)),
            db.session.scalar(select(func.count()).select_from(Notification)),
            len(events(number)),
            db.session.scalar(select(func.sum(Dispatch.version))),
        )

    outside = send(client, official, number, {"lead_department_id": county_unit_id})
    assert outside.status_code == 422
    assert "lead_department_id" in outside.get_json()["errors"]["json"]
    assert written()[0] == 0
    late = send(
        client, official, number, {"lead_department_id": unit_id, "report_due": "2099-01-01"}
    )
    assert late.status_code == 422 and "report_due" in late.get_json()["errors"]["json"]
    village = report(client, world["grid_worker@village"], category="劳资").get_json()["number"]
    assert act(client, world["mediator@village"], village, "accept").status_code == 200
    refused = act(
        client, world["mediator@village"], village, "dispatch", {"lead_department_id": unit_id}
    )
    assert refused.status_code == 409 and "村级" in refused.get_json()["message"]

    sent = send(
        client, official, number, {"lead_department_id": unit_id, "co_department_ids": [co_id]}
    )
    assert sent.status_code == 201
    lead, co_dispatch = sent.get_json()["items"]
    assert step(client, co_staff, number, co_dispatch, "sign").status_code == 200
    co_dispatch = listing(client, co_staff, number)["items"][1]
    nothing = written()
    not_lead = step(client, co_staff, number, co_dispatch, "report", {"note": "已处理"})
    assert not_lead.status_code == 403 and "主办" in not_lead.get_json()["message"]
    not_theirs = step(client, co_staff, number, lead, "sign")
    assert not_theirs.status_code == 403 and "甲镇人社所" in not_theirs.get_json()["message"]
    stale = step(client, staff, number, {**lead, "version": lead["version"] + 5}, "sign")
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    missing = client.post(
        f"/api/v1/cases/{number}/dispatches/{lead['id']}/actions/sign",
        json={},
        headers=staff,
    )
    assert missing.status_code == 428
    # Six working days later the return window (5 working days) has closed.
    later = dt.datetime.combine(
        dt.date.fromisoformat(lead["return_due"]) + dt.timedelta(days=1), dt.time(9), SHANGHAI
    )
    monkeypatch.setattr(clock, "now", lambda: later.astimezone(dt.UTC))
    too_late = step(client, staff, number, lead, "return", {"reason": "不属于本所职责"})
    assert too_late.status_code == 409
    assert lead["return_due"] in too_late.get_json()["message"]
    assert written() == nothing


def test_an_unsigned_dispatch_turns_yellow_then_red(client, world, monkeypatch):
    """Sent on a Monday: yellow on Tuesday (its sign day), red on Wednesday; the unit is told
    each once, the dispatcher the red one, the timeline shows both, and the dispatch's version
    does not move."""
    monday = dt.datetime(2026, 12, 7, 10, tzinfo=SHANGHAI)
    monkeypatch.setattr(clock, "now", lambda: monday.astimezone(dt.UTC))
    number = town_case(client, world)
    official, staff_id = bearer(world["official@town"]), world.user_ids["department_staff@town"]
    sent = send(
        client, official, number, {"lead_department_id": world.department_ids["town-labour"]}
    )
    (lead,) = sent.get_json()["items"]
    assert (lead["sign_due"], lead["warning"]) == ("2026-12-08", "none")
    colours = []
    for day in (7, 8, 8, 9):
        moment = dt.datetime(2026, 12, day, 9, tzinfo=SHANGHAI)
        monkeypatch.setattr(clock, "now", lambda m=moment: m.astimezone(dt.UTC))
        case_services.sweep()
        db.session.commit()
        db.session.expire_all()
        colours.append(db.session.get(Dispatch, lead["id"]).warning)
    assert colours == ["none", "yellow", "yellow", "red"]
    assert db.session.get(Dispatch, lead["id"]).version == lead["version"]
    assert len(told(staff_id, "due_soon")) == 1 and len(told(staff_id, "overdue")) == 1
    dispatcher = world.user_ids["official@town"]
    assert (len(told(dispatcher, "due_soon")), len(told(dispatcher, "overdue"))) == (0, 1)
    notes = [e.note for e in events(number) if e.action == "dispatch_warning"]
    assert [n.split("：")[-1] for n in notes] == ["none → yellow", "yellow → red"]


def test_case_page_forms_dispatch_sign_and_report(client, world):
    """The case page: the dispatch form with the suggestion chosen; a unit outside the
    jurisdiction re-shows the form with the message beside the field and what was typed; the
    unit signs and reports with a photo from its forms."""
    unit_id = world.department_ids["town-labour"]
    make_department("town-justice", TOWN, "justice", ("劳资",), "甲镇司法所")
    outside_id = make_department("county-labour", COUNTY, "labour", ("劳资",), "县劳动监察大队").id
    number = town_case(client, world)
    assert login(client, world["official@town"].username).status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert 'id="dispatch-suggestion"' in page and "甲镇司法所" in page
    justice = re.search(r'<option value="(\d+)" selected>甲镇司法所', page)
    assert justice, "the suggested unit is preselected"
    form = {
        "csrf_token": csrf_from(page),
        "version": re.search(
            r'action="/cases/[^"]+/dispatch">\s*<input[^>]+>\s*<input type="hidden" name="version" '
            r'value="(\d+)"',
            page,
        ).group(1),
    }
    refused = client.post(
        f"/cases/{number}/dispatch",
        data={**form, "lead_department_id": str(outside_id), "instructions": "尽快核实"},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'id="err-dispatch-lead_department_id"' in text and "尽快核实" in text
    sent = client.post(
        f"/cases/{number}/dispatch", data={**form, "lead_department_id": str(unit_id)}
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)[:500]
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    assert login(client, world["department_staff@town"].username).status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    dispatch_id = db.session.scalar(select(Dispatch.id).where(Dispatch.department_id == unit_id))
    assert f'id="action-d{dispatch_id}-sign"' in page and "待签收" in page
    base = f"/cases/{number}/dispatches/{dispatch_id}/act"
    signed = client.post(f"{base}/sign", data={"csrf_token": csrf_from(page), "version": "1"})
    assert signed.status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    shown = re.search(
        rf'id="action-d{dispatch_id}-report".*?name="version" value="(\d+)"', page, re.S
    ).group(1)
    reported = client.post(
        f"{base}/report",
        data={
            "csrf_token": csrf_from(page),
            "version": shown,
            "note": "已调解，企业已付清",
            "photos": (io.BytesIO(PNG), "paid.png"),
        },
        content_type="multipart/form-data",
    )
    assert reported.status_code == 302, reported.get_data(as_text=True)[:500]
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "待核查" in page and "paid.png" in page and "已调解，企业已付清" in page
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    # The centre accepts the report with the agreement the unit mediated (调解成功).
    assert login(client, world["official@town"].username).status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert 'name="agreement.terms"' in page
    shown = re.search(
        rf'id="action-d{dispatch_id}-accept".*?name="version" value="(\d+)"', page, re.S
    ).group(1)
    accepted = client.post(
        f"{base}/accept",
        data={
            "csrf_token": csrf_from(page),
            "version": shown,
            "outcome": "agreement",
            "note": "司法所调解，达成协议",
            "agreement.facts": "拖欠工资三个月",
            "agreement.responsibilities": "企业负责",
            "agreement.terms": "企业一次付清工资",
            "agreement.performance_method": "转账",
            "agreement.performance_due": "2030-01-01",
            "agreement.signed_on": clock.today().isoformat(),
            "agreement.signed_by_parties": "true",
            "agreement.signed_by_mediator": "true",
        },
    )
    assert accepted.status_code == 302, accepted.get_data(as_text=True)[:800]
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (case.state, case.outcome) == ("resolved", "agreement")
    assert case.agreement.terms == "企业一次付清工资"


def test_escalating_ends_the_open_dispatches_and_tells_the_unit(client, world):
    """A case escalated to the county leaves the town's units: their dispatches end, clocks off."""
    number = town_case(client, world)
    centre = bearer(world["mediator@town"])
    unit_id = world.department_ids["town-labour"]
    staff_id = world.user_ids["department_staff@town"]
    assert send(client, centre, number, {"lead_department_id": unit_id}).status_code == 201
    escalated = act(client, world["mediator@town"], number, "escalate", {"reason": "涉及多镇"})
    assert escalated.status_code == 200
    case_id = db.session.scalar(select(Case.id).where(Case.number == number))
    ended = db.session.scalars(select(Dispatch).where(Dispatch.case_id == case_id)).all()
    assert [(d.state, d.next_due, d.warning) for d in ended] == [("withdrawn", None, "none")]
    # The dispatch ends first, then the escalation is recorded.
    assert [e.action for e in events(number)][-2:] == ["dispatch_withdrawn", "escalate"]
    assert len(told(staff_id, "dispatch_withdrawn")) == 1
    # The unit's staff still read the case (history) but have no step left on it.
    staff = bearer(world["department_staff@town"])
    assert listing(client, staff, number)["items"][0]["allowed_actions"] == []
