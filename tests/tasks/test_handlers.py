"""Named handlers (承办人): claim, assign, reassign; a level change clears the handler."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.extensions import db
from app.notify.models import Notification
from tests.accounts.helpers import csrf_from
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import make_user
from tests.geo.factories import VILLAGE
from tests.web.test_pages import signed_in


def told(user_id: int, event: str) -> int:
    """How many notifications of `event` the user has."""
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.event == event)
    )


def case_row(number: str) -> Case:
    """The case as it is now in the database."""
    db.session.expire_all()
    return db.session.scalar(select(Case).where(Case.number == number))


def test_claim_assign_reassign_and_escalate(client, world):
    """Claimed, then reassigned by the town (recorded with the previous handler, the new one
    told); someone outside the level is refused with nothing written; escalating clears the
    handler and tells the town's mediators and officials."""
    ids = world.user_ids
    second = make_user("mediator-village-2", "mediator", VILLAGE).id
    number = report(client, world["grid_worker@village"]).get_json()["number"]

    claimed = act(client, world["mediator@village"], number, "claim")
    assert claimed.status_code == 200, claimed.get_json()
    body = claimed.get_json()
    assert body["handler"] == {"id": ids["mediator@village"], "name": "mediator-village"}
    assert "claim" not in body["allowed_actions"]
    assert body["events"][-1]["action"] == "claim"
    assert told(ids["mediator@village"], "handler_assigned") == 0  # not told of one's own act
    again = act(client, world["official@village"], number, "claim")
    assert again.status_code == 409

    # The town's mediator is not at the case's level: 422 naming the field, nothing written.
    version = case_row(number).version
    events = len(case_row(number).events)
    wrong = act(
        client,
        world["official@town"],
        number,
        "assign_handler",
        {"handler_id": ids["mediator@town"]},
    )
    assert wrong.status_code == 422, wrong.get_json()
    assert "handler_id" in wrong.get_json()["errors"]["json"]
    case = case_row(number)
    assert (case.handler_id, case.version, len(case.events)) == (
        ids["mediator@village"],
        version,
        events,
    )
    assert told(ids["mediator@town"], "handler_assigned") == 0

    moved = act(client, world["official@town"], number, "assign_handler", {"handler_id": second})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["handler"]["id"] == second
    event = db.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
    )
    assert event.action == "assign_handler" and event.actor_id == ids["official@town"]
    assert event.data == {"handler_id": second, "previous_handler_id": ids["mediator@village"]}
    assert "原承办人：mediator-village" in event.note
    assert told(second, "handler_assigned") == 1
    assert db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "cases.assign_handler", AuditEntry.object_id == number)
    )

    up = act(client, world["mediator@village"], number, "escalate", {"reason": "需镇级协调"})
    assert up.status_code == 200, up.get_json()
    assert up.get_json()["handler"] is None and up.get_json()["level"] == "town"
    assert case_row(number).handler_id is None
    for key in ("mediator@town", "official@town"):
        assert told(ids[key], "case_assigned") == 1, key
    assert told(ids["mediator@village"], "case_assigned") == 0
    assert told(ids["mediator@county"], "case_assigned") == 0


def test_case_page_shows_the_handler_and_claims(client, world):
    """The case page names the handler; its 认领 form makes the caller the handler."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    signed_in(client, world, "mediator@village")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert 'id="handler-h"' in page and "本层级尚未指定承办人" in page
    assert 'id="action-claim"' in page and 'id="action-assign_handler"' in page
    response = client.post(
        f"/cases/{number}/act/claim", data={"csrf_token": csrf_from(page), "version": "1"}
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert f'data-handler="{world.user_ids["mediator@village"]}"' in page
    assert 'id="action-claim"' not in page
