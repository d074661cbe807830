"""My tasks (我的待办): what each user must do next, nearest deadline first, and the filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from sqlalchemy import func
from sqlalchemy import select

from app.accounts.models import User
from app.cases.models import Case
from app.core import clock
from app.core import paging
from app.dispatch.models import Department
from app.dispatch.models import Dispatch
from app.extensions import db
from app.tasks import queries
from app.web import layout
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import bearer
from tests.factories import make_staff
from tests.risks.factories import make_point
from tests.web.test_pages import signed_in


def reported(client, world, kind: str = "dispute", key: str = "grid_worker@village", **more):
    """Report a case through the API; its number."""
    response = report(client, world[key], kind, **more)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def case_id(number: str) -> int:
    return db.session.scalar(select(Case.id).where(Case.number == number))


def tasks(client, user, **query) -> dict:
    response = client.get("/api/v1/me/tasks", query_string=query, headers=bearer(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def dispatch(world, number: str, state: str = "sent", role: str = "lead", **columns) -> int:
    """A dispatch row of the case to the town unit, inserted directly (the dispatch services
    are another branch's)."""
    case = db.session.get(Case, case_id(number))
    row = Dispatch(
        case_id=case.id,
        department_id=world.department_ids["town-labour"],
        role=role,
        state=state,
        centre_region_id=case.town_id,
        centre_level="town",
        dispatched_by_id=world.user_ids["official@town"],
        dispatched_at=clock.now(),
        **columns,
    )
    db.session.add(row)
    db.session.commit()
    return row.id


def plain_page(user, after, limit) -> dict:
    """The page as two plain statements over `tasks_of` (the page, then the counts)."""
    tasks = queries.tasks_of(user)
    stmt = paging.nearest_due_first(select(tasks), tasks.c.due, tasks.c.key, after, limit)
    rows, cursor = paging.page(db.session.execute(stmt).all(), limit, lambda r: (r.due, r.key))
    grouped = select(tasks.c.kind, func.count()).group_by(tasks.c.kind)
    counts = dict.fromkeys(queries.KINDS, 0) | dict(db.session.execute(grouped).all())
    items = [queries.task_json(r) for r in rows]
    return {"items": items, "next": cursor, "counts": counts, "total": sum(counts.values())}


def test_a_mediators_tasks_nearest_due_first_by_pages(client, world):
    """Cases to accept at the mediator's level, nearest deadline first (dispute 3 days, incident
    7, petition 15), two by two; a case someone else claimed is not theirs."""
    dispute = reported(client, world)
    incident = reported(client, world, "incident")
    petition = reported(client, world, "petition")
    claimed = reported(client, world)
    assert act(client, world["official@village"], claimed, "claim").status_code == 200
    mediator = world["mediator@village"]

    first = tasks(client, mediator, limit=2)
    assert [(t["number"], t["action"], t["action_name"]) for t in first["items"]] == [
        (dispute, "accept", "受理"),
        (incident, "accept", "受理"),
    ]
    assert first["counts"] == {
        "case": 3,
        "follow_up": 0,
        "inspection": 0,
        "dispatch": 0,
        "campaign_task": 0,
        "self_report": 0,
    }
    assert first["total"] == 3 and first["next"]
    item = first["items"][0]
    assert item["kind"] == "case" and item["link"] == f"/cases/{dispute}"
    # Due when the case must be accepted (3 working days: past a weekend, later than 3 days).
    shown = client.get(f"/api/v1/cases/{dispute}", headers=bearer(mediator)).get_json()
    assert item["due"] == shown["accept_due"] > clock.today().isoformat()
    second = tasks(client, mediator, limit=2, after=first["next"])
    assert [t["number"] for t in second["items"]] == [petition] and second["next"] is None
    # The official who claimed one has it (and the others, nobody's, too).
    mine = tasks(client, world["official@village"])
    assert mine["items"][0]["number"] == dispute and claimed in [t["number"] for t in mine["items"]]
    bad = client.get("/api/v1/me/tasks?after=nonsense", headers=bearer(mediator))
    assert bad.status_code == 400 and "after" in bad.get_json()["errors"]["query"]
    # The one-statement page answers what the plain statements do, page by page.
    user = db.session.get(User, world.user_ids["mediator@village"])
    for after in (None, first["next"]):
        assert queries.page(user, after, 2) == plain_page(user, after, 2)


def test_a_grid_workers_follow_ups_and_inspections(client, world):
    """A grid worker: resolved cases in their cells to follow up, and the red risk point they
    answer for (due within the week); the yellow one (due in 30 days) is not yet a task."""
    worker = world["grid_worker@village"]
    red = make_point(worker, level="red", name="红色风险点").id
    make_point(worker, level="yellow")
    number = reported(client, world)
    mediator = world["mediator@village"]
    assert act(client, mediator, number, "accept").status_code == 200
    done = act(client, mediator, number, "resolve", {"outcome": "referred", "note": "转司法所"})
    assert done.status_code == 200, done.get_json()

    answer = tasks(client, worker)
    assert [(t["kind"], t["action"]) for t in answer["items"]] == [
        ("inspection", "inspect"),
        ("follow_up", "follow_up"),
    ]
    inspection, follow_up = answer["items"]
    assert inspection["link"] == f"/risk-points/{red}" and inspection["warning"] == "yellow"
    assert follow_up["number"] == number and follow_up["due"] is None
    # The village mediator who resolved it follows it up too (nobody's named); the town's not.
    assert [t["kind"] for t in tasks(client, mediator)["items"]] == ["follow_up"]
    assert tasks(client, world["mediator@town"])["total"] == 0


def test_a_units_and_the_centres_dispatch_tasks(client, world):
    """Department staff: sign for what was sent, report back on the signed lead ones (theirs or
    nobody's); the town centre: check reports, re-dispatch returned leads."""
    today = clock.today()
    staff = world["department_staff@town"]
    unit = db.session.get(Department, world.department_ids["town-labour"])
    colleague = make_staff("staff-town-2", unit).id
    a, b, c, d, e = (reported(client, world) for _ in range(5))
    dispatch(world, a, sign_due=today + dt.timedelta(days=1))
    dispatch(world, b, "signed", report_due=today + dt.timedelta(days=10))
    dispatch(world, b, "signed", "co", report_due=today + dt.timedelta(days=2))  # 协办: no report
    dispatch(world, c, "sent", handler_id=colleague, sign_due=today)  # a colleague's
    dispatch(world, d, "reported")
    dispatch(world, e, "returned")

    answer = tasks(client, staff)
    assert [(t["number"], t["action"], t["action_name"]) for t in answer["items"]] == [
        (a, "sign", "签收"),
        (b, "report", "办结反馈"),
    ]
    assert answer["counts"]["dispatch"] == 2
    assert answer["items"][0]["due"] == (today + dt.timedelta(days=1)).isoformat()
    assert [t["number"] for t in tasks(client, db.session.get(User, colleague))["items"]] == [
        c,
        a,
        b,
    ]

    centre = tasks(client, world["official@town"])
    assert sorted((t["number"], t["action"]) for t in centre["items"]) == [
        (d, "review"),
        (e, "redispatch"),
    ]
    # The village mediator: every one of these is with a unit (or returned to the centre), so
    # none is theirs to accept.
    assert tasks(client, world["mediator@village"])["total"] == 0


def test_the_mine_filters_follow_cases_to_other_levels(client, world):
    """我上报的, 我交办的 (escalated or dispatched by me), 我承办的: through the API and the queue
    page, after the case moved up; a value it does not know is 400 naming `mine`."""
    ids = world.user_ids
    escalated = reported(client, world)
    sent = reported(client, world)
    other = reported(client, world, key="mediator@village")
    mediator = world["mediator@village"]
    assert act(client, mediator, escalated, "escalate", {"reason": "需镇级协调"}).status_code == 200
    case = db.session.get(Case, case_id(sent))
    db.session.add(
        Dispatch(
            case_id=case.id,
            department_id=world.department_ids["town-labour"],
            role="lead",
            centre_region_id=case.town_id,
            centre_level="village",
            dispatched_by_id=ids["mediator@village"],
            dispatched_at=clock.now(),
        )
    )
    db.session.commit()
    assert act(client, world["mediator@town"], escalated, "claim").status_code == 200

    def listed(user, mine):
        response = client.get("/api/v1/cases", query_string={"mine": mine}, headers=bearer(user))
        assert response.status_code == 200, response.get_json()
        return sorted(c["number"] for c in response.get_json()["items"])

    assert listed(world["grid_worker@village"], "reported") == sorted([escalated, sent])
    assert listed(mediator, "reported") == [other]
    assert listed(mediator, "handed") == sorted([escalated, sent])
    assert listed(world["mediator@town"], "handling") == [escalated]
    assert listed(mediator, "handling") == []
    wrong = client.get("/api/v1/cases?mine=everything", headers=bearer(mediator))
    assert wrong.status_code == 400
    assert "mine" in wrong.get_json()["errors"]["query"]
    assert "handed" in wrong.get_json()["errors"]["query"]["mine"][0]

    # The queue page: a village mediator's default level is theirs, but 我交办的 follows the case.
    signed_in(client, world, "mediator@village")
    page = client.get("/cases?mine=handed").get_data(as_text=True)
    assert escalated in page and sent in page and other not in page
    assert client.get("/cases?mine=everything").status_code == 400


def test_home_page_and_header_show_my_tasks(app, client, world):
    """The home page lists the tasks; the header's 我的待办 carries their count."""
    number = reported(client, world)
    signed_in(client, world, "mediator@village")
    home = client.get("/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert f'href="/cases/{number}"' in html and 'data-task="case:accept"' in html
    assert re.search(
        r'href="/tasks"[^>]*>我的待办 <span class="badge nav-count"[^>]*>1</span>', html
    )
    listing = client.get("/tasks").get_data(as_text=True)
    assert number in listing and "共 1 项" in listing
    admin = signed_in(app.test_client(), world, "admin@county")
    assert "我的待办" not in admin.get("/").get_data(as_text=True)


def test_error_pages_count_nothing(client, world, monkeypatch):
    """An error page (the database may be what failed) does not run the header's count."""
    reported(client, world)
    signed_in(client, world, "mediator@village")

    def broken(user):
        raise AssertionError("counted on an error page")

    item = next(i for i in layout.NAV if i.endpoint == "tasks.my_tasks")
    swapped = dataclasses.replace(item, badge=broken)
    monkeypatch.setattr(layout, "NAV", [swapped if i is item else i for i in layout.NAV])
    missing = client.get("/cases/371699-2026-999999")
    assert missing.status_code == 404 and "我的待办" in missing.get_data(as_text=True)
