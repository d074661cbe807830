"""The inspection schedule by level, next due dates, overdue, the sweep, and level changes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.core import clock as core_clock
from app.deadlines.calendar import SHANGHAI
from app.extensions import db
from app.risks import services
from app.risks.models import RiskEvent
from app.risks.models import RiskPoint
from tests.factories import bearer
from tests.risks.factories import make_point


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


REGISTERED = dt.date(2026, 3, 2)


@pytest.fixture
def clock(monkeypatch):
    """Set "now" and "today" (Asia/Shanghai) for the risks services; returns a setter."""

    def set_day(day: dt.date) -> None:
        moment = dt.datetime.combine(day, dt.time(10, 0), SHANGHAI)
        monkeypatch.setattr(core_clock, "today", lambda: day)
        monkeypatch.setattr(core_clock, "now", lambda: moment)

    set_day(REGISTERED)
    return set_day


def detail(client, user, point_id: int) -> dict:
    """GET one point as `user`."""
    return client.get(f"/api/v1/risk-points/{point_id}", headers=bearer(user)).get_json()


@pytest.mark.parametrize(
    ("level", "days"), [("red", 7), ("orange", 14), ("yellow", 30), ("blue", 90)]
)
def test_next_due_and_overdue_at_each_level(client, world, clock, level, days):
    """Registration + period; overdue from the day after; an inspection restarts the period."""
    # Requests end the session: keep the key and the id, and load the user for each request.
    key = "mediator@village"
    point_id = make_point(world[key], level=level).id
    due = REGISTERED + dt.timedelta(days=days)
    body = detail(client, world[key], point_id)
    assert (body["inspection_days"], body["next_due"], body["overdue"]) == (
        days,
        due.isoformat(),
        False,
    )
    clock(due)  # the last day is still on time
    assert detail(client, world[key], point_id)["overdue"] is False
    clock(due + dt.timedelta(days=1))
    assert detail(client, world[key], point_id)["overdue"] is True
    listed = client.get("/api/v1/risk-points?overdue=true", headers=bearer(world[key])).get_json()
    assert [p["id"] for p in listed["items"]] == [point_id]
    on_time = client.get("/api/v1/risk-points?overdue=false", headers=bearer(world[key])).get_json()
    assert on_time["items"] == []

    inspected = due - dt.timedelta(days=1)  # recorded late, for the day it happened
    response = client.post(
        f"/api/v1/risk-points/{point_id}/inspections",
        json={"result": "normal", "inspected_on": inspected.isoformat()},
        headers=bearer(world[key]),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["next_due"] == (inspected + dt.timedelta(days=days)).isoformat()
    body = detail(client, world[key], point_id)
    assert body["last_inspected_on"] == inspected.isoformat()
    assert body["overdue"] is False


def test_inspection_date_cannot_be_in_the_future_or_before_registration(client, world, clock):
    """422 for a date after today or before the point existed."""
    user = world["mediator@village"]
    point_id = make_point(user).id
    headers = bearer(user)
    for day in (REGISTERED + dt.timedelta(days=1), REGISTERED - dt.timedelta(days=1)):
        response = client.post(
            f"/api/v1/risk-points/{point_id}/inspections",
            json={"result": "normal", "inspected_on": day.isoformat()},
            headers=headers,
        )
        assert response.status_code == 422
        assert "inspected_on" in response.get_json()["errors"]["json"]


def test_sweep_marks_overdue_once(runner, world, clock):
    """The sweep marks an overdue point once, with a history entry; running again changes
    nothing; an inspection takes the mark away."""
    user = world["mediator@village"]
    red = make_point(user, level="red")
    make_point(user, level="blue")
    clock(REGISTERED + dt.timedelta(days=8))
    assert services.sweep_inspections() == 1
    db.session.commit()
    assert services.sweep_inspections() == 0
    result = runner.invoke(args=["risks", "sweep"])
    assert result.exit_code == 0 and "0 个" in result.output
    point = db.session.get(RiskPoint, red.id)
    assert point.overdue_since == REGISTERED + dt.timedelta(days=8)
    marks = db.session.scalars(
        select(RiskEvent.action).where(
            RiskEvent.risk_point_id == red.id, RiskEvent.action == "inspection_overdue"
        )
    ).all()
    assert marks == ["inspection_overdue"]

    services.record_inspection(point, user, {"result": "normal"})
    db.session.commit()
    assert db.session.get(RiskPoint, red.id).overdue_since is None
    assert services.sweep_inspections() == 0


def test_sweep_command_reports_what_it_marked(runner, world, clock):
    """`flask risks sweep` marks and says how many."""
    make_point(world["mediator@village"], level="red")
    clock(REGISTERED + dt.timedelta(days=30))
    result = runner.invoke(args=["risks", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 个" in result.output


def test_level_change_needs_a_reason_and_replans(client, world, clock):
    """change_level: 422 without a reason; with one, history from/to and a new due date."""
    user = world["grid_worker@village"]
    point = make_point(user, level="blue")
    headers = bearer(user)
    url = f"/api/v1/risk-points/{point.id}/actions/change_level"
    headers = {**headers, "If-Match": '"1"'}  # the version the caller saw
    missing = client.post(url, json={"level": "red"}, headers=headers)
    assert missing.status_code == 422 and "reason" in missing.get_json()["errors"]["json"]
    same = client.post(url, json={"level": "blue", "reason": "复核"}, headers=headers)
    assert same.status_code == 422
    response = client.post(url, json={"level": "red", "reason": "汛期临近"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["level"] == "red"
    assert body["next_due"] == (REGISTERED + dt.timedelta(days=7)).isoformat()
    event = body["events"][-1]
    assert (event["action"], event["from_level"], event["to_level"], event["reason"]) == (
        "change_level",
        "blue",
        "red",
        "汛期临近",
    )
    assert event["actor"] == "gw-village"


def test_schedule_is_data_an_admin_changes(client, world, clock):
    """GET shows the defaults; PUT changes a period and active points' due dates follow."""
    admin = bearer(world["admin@county"])
    rows = client.get("/api/v1/inspection-schedule", headers=admin).get_json()
    assert [(r["level"], r["days"]) for r in rows] == [
        ("red", 7),
        ("orange", 14),
        ("yellow", 30),
        ("blue", 90),
    ]
    point_id = make_point(world["mediator@village"], level="red").id
    bad = client.put("/api/v1/inspection-schedule", json={"red": 0}, headers=admin)
    assert bad.status_code == 422
    empty = client.put("/api/v1/inspection-schedule", json={}, headers=admin)
    assert empty.status_code == 422
    response = client.put("/api/v1/inspection-schedule", json={"red": 5}, headers=admin)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()[0]["days"] == 5
    assert db.session.get(RiskPoint, point_id).next_due == REGISTERED + dt.timedelta(days=5)
    denied = client.put(
        "/api/v1/inspection-schedule", json={"red": 3}, headers=bearer(world["official@county"])
    )
    assert denied.status_code == 403
