"""Case actions and the sweep tell the right people (docs/notifications.md)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.cases import services as case_services
from app.cases.models import Case
from app.core import clock
from app.extensions import db
from app.notify.models import Notification
from tests.cases.factories import act
from tests.cases.factories import report


def told(event: str) -> list[int]:
    """Who got a notification of this event, in order."""
    rows = db.session.scalars(
        select(Notification.user_id).where(Notification.event == event).order_by(Notification.id)
    )
    return list(rows)


def set_handler(number: str, user_id: int | None) -> None:
    """Name the case's handler (the tasks helper's claim/assign do this in the product)."""
    case = db.session.scalar(select(Case).where(Case.number == number))
    db.session.execute(Case.__table__.update().where(Case.id == case.id).values(handler_id=user_id))
    db.session.commit()


def test_case_actions_notify_the_people_concerned(app, client, world, monkeypatch):
    """escalated → reporter and previous handler; handed down → the lower level's staff; 督办 →
    the handler (else the level's mediators); extension decided → the requester; an unsatisfied
    follow-up → the level's officials and the handler; a new red warning → the handler, once."""
    w = dict(world.user_ids)
    reporter = world["grid_worker@village"]
    number = report(client, reporter).get_json()["number"]
    assert act(client, world["mediator@village"], number, "accept").status_code == 200
    set_handler(number, w["official@village"])
    up = act(client, world["mediator@village"], number, "escalate", {"reason": "村里调不了"})
    assert up.status_code == 200, up.get_json()
    assert told("case_escalated") == [w["grid_worker@village"], w["official@village"]]

    down = act(
        client,
        world["official@town"],
        number,
        "assign_down",
        {"to_level": "village", "reason": "就地化解"},
    )
    assert down.status_code == 200, down.get_json()
    assert sorted(told("case_handed_down")) == sorted(
        [w["mediator@village"], w["official@village"]]
    )

    set_handler(number, None)
    body = {"supervision": "yellow", "note": "三日内办结", "due": "2026-12-30"}
    assert act(client, world["official@town"], number, "supervise", body).status_code == 200
    assert told("supervised") == [w["mediator@village"]]  # no handler: the level's mediators
    set_handler(number, w["mediator@village"])
    body = {"supervision": "red", "note": "再次督办"}
    assert act(client, world["official@county"], number, "supervise", body).status_code == 200
    assert told("supervised") == [w["mediator@village"], w["mediator@village"]]

    assert act(client, world["mediator@village"], number, "accept").status_code == 200
    ask = {"days": 10, "reason": "需要鉴定"}
    assert (
        act(client, world["mediator@village"], number, "request_extension", ask).status_code == 200
    )
    decided = act(
        client, world["official@village"], number, "approve_extension", {"approved": True}
    )
    assert decided.status_code == 200, decided.get_json()
    assert told("extension_decided") == [w["mediator@village"]]
    titles = db.session.scalars(
        select(Notification.title).where(Notification.event == "extension_decided")
    ).all()
    assert titles == [f"事件 {number} 的延期申请已批准"]

    resolved = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {"outcome": "referred", "note": "转司法所"},
    )
    assert resolved.status_code == 200, resolved.get_json()
    follow = {"method": "phone", "satisfaction": "dissatisfied", "note": "没解决"}
    assert act(client, reporter, number, "follow_up", follow).status_code == 200
    assert sorted(told("follow_up_dissatisfied")) == sorted(
        [w["official@village"], w["mediator@village"]]
    )

    # The sweep: a second open case goes red; its handler is told once however often it runs.
    monkeypatch.setitem(app.config, "AUTO_ESCALATE_OVERDUE_ACCEPTANCE", False)
    other = report(client, reporter).get_json()["number"]
    set_handler(other, w["mediator@village"])
    late = clock.today() + dt.timedelta(days=60)
    case_services.sweep(on=late)
    case_services.sweep(on=late)
    db.session.commit()
    assert told("overdue").count(w["mediator@village"]) == 1
    links = db.session.scalars(select(Notification.link).where(Notification.event == "overdue"))
    assert f"/cases/{other}" in set(links)
