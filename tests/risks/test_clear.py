"""Clearing (已消除) needs an official's approval; the history is append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.risks.models import RiskPoint
from tests.factories import bearer
from tests.risks.factories import make_point


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def post(client, headers: dict, point_id: int, action: str, body: dict):
    """POST an action on a point, with its current version in If-Match."""
    db.session.expire_all()
    version = db.session.get(RiskPoint, point_id).version
    return client.post(
        f"/api/v1/risk-points/{point_id}/actions/{action}",
        json=body,
        headers={**headers, "If-Match": f'"{version}"'},
    )


def test_clearing_needs_an_officials_approval(client, world):
    """A grid worker asks; grid workers and mediators cannot approve; a village official does."""
    worker, mediator = bearer(world["grid_worker@village"]), bearer(world["mediator@village"])
    official = bearer(world["official@village"])
    point_id = make_point(world["grid_worker@village"]).id

    assert post(client, worker, point_id, "request_clear", {}).status_code == 422  # no reason
    asked = post(client, worker, point_id, "request_clear", {"reason": "隐患已整改"})
    assert asked.status_code == 200, asked.get_json()
    body = asked.get_json()
    assert body["status"] == "active" and body["clear_requested"] is True
    assert body["clear_request"]["by"] == "gw-village"
    again = post(client, mediator, point_id, "request_clear", {"reason": "再次申请"})
    assert again.status_code == 409

    for headers in (worker, mediator):
        denied = post(client, headers, point_id, "approve_clear", {"approved": True, "reason": "x"})
        assert denied.status_code == 403
    assert db.session.get(RiskPoint, point_id).status == "active"

    no_reason = post(client, official, point_id, "approve_clear", {"approved": True})
    assert no_reason.status_code == 422
    approved = post(
        client, official, point_id, "approve_clear", {"approved": True, "reason": "现场核实已消除"}
    )
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["status"] == "cleared" and body["cleared_at"] is not None
    assert body["next_due"] is None and body["overdue"] is False
    assert body["allowed_actions"] == []
    event = body["events"][-1]
    assert (event["action"], event["from_status"], event["to_status"], event["reason"]) == (
        "approve_clear",
        "active",
        "cleared",
        "现场核实已消除",
    )
    assert event["data"] == {"requested_by": "gw-village", "request_reason": "隐患已整改"}

    # A cleared point takes no more inspections, level changes or requests.
    assert (
        client.post(
            f"/api/v1/risk-points/{point_id}/inspections", json={"result": "normal"}, headers=worker
        ).status_code
        == 409
    )
    level = post(client, worker, point_id, "change_level", {"level": "red", "reason": "x"})
    assert level.status_code == 409


def test_a_request_is_decided_at_the_requesters_level_or_higher(client, world):
    """A town mediator's request: a village official may not decide it; a town official may."""
    point_id = make_point(world["mediator@village"]).id
    asked = post(
        client, bearer(world["mediator@town"]), point_id, "request_clear", {"reason": "已整改"}
    )
    assert asked.status_code == 200
    low = post(
        client,
        bearer(world["official@village"]),
        point_id,
        "approve_clear",
        {"approved": True, "reason": "同意"},
    )
    assert low.status_code == 403 and "镇级或更高层级" in low.get_json()["message"]
    ok = post(
        client,
        bearer(world["official@town"]),
        point_id,
        "approve_clear",
        {"approved": True, "reason": "同意"},
    )
    assert ok.status_code == 200 and ok.get_json()["status"] == "cleared"


def test_a_refusal_keeps_the_point_under_control(client, world):
    """approved=false: still 在控, the request is gone, the refusal is in the history."""
    point_id = make_point(world["grid_worker@village"]).id
    post(client, bearer(world["grid_worker@village"]), point_id, "request_clear", {"reason": "r"})
    refused = post(
        client,
        bearer(world["official@county"]),
        point_id,
        "approve_clear",
        {"approved": False, "reason": "仍有隐患，继续管控"},
    )
    assert refused.status_code == 200
    body = refused.get_json()
    assert body["status"] == "active" and body["clear_request"] is None
    assert body["events"][-1]["action"] == "refuse_clear"
    assert body["events"][-1]["to_status"] == "active"


def test_an_official_may_clear_directly_with_a_reason(client, world):
    """No pending request: an official's approve_clear is a direct clear; a refusal is 409."""
    point_id = make_point(world["mediator@village"]).id
    official = bearer(world["official@town"])
    nothing = post(client, official, point_id, "approve_clear", {"approved": False, "reason": "x"})
    assert nothing.status_code == 409
    cleared = post(
        client, official, point_id, "approve_clear", {"approved": True, "reason": "已拆除"}
    )
    assert cleared.status_code == 200
    event = cleared.get_json()["events"][-1]
    assert (event["action"], event["data"]) == ("clear", {"direct": True})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE risk_events SET reason = 'edited'",
        "DELETE FROM risk_events",
        "TRUNCATE risk_events",
    ],
)
def test_history_is_append_only(world, statement):
    """The database refuses UPDATE, DELETE and TRUNCATE on risk_events."""
    make_point(world["mediator@village"])
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))
    assert db.session.scalar(text("SELECT count(*) FROM risk_events")) == 1
