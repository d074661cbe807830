"""Assessment: a score from known data equals the hand-computed one; weights change it; scope."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from app.cases import services as case_services
from app.cases.models import Case
from app.cases.models import FollowUp
from app.core import clock
from app.extensions import db
from app.risks import services as risk_services
from app.risks.models import Inspection
from app.visits import services as visit_services
from tests.cases.factories import POINT
from tests.cases.factories import case_body
from tests.factories import bearer
from tests.factories import make_user
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B
from tests.risks.factories import make_point
from tests.visits.factories import visit_body

WORKER = "grid_worker@village"


def at(monkeypatch, year, month, day):
    """Freeze the clock at 10:00 Beijing time on that day; the instant."""
    moment = dt.datetime(year, month, day, 10, tzinfo=clock.SHANGHAI)
    monkeypatch.setattr(clock, "now", lambda: moment.astimezone(dt.UTC))
    monkeypatch.setattr(clock, "today", lambda: moment.date())
    return moment


def november(world, monkeypatch):
    """5 cases reported in November (3 accepted), 1 in October; 2 inspections on time and 1
    late; 4 visits; 2 follow-ups (满意, 不满意) of the worker's cases."""
    worker = world[WORKER]
    at(monkeypatch, 2026, 10, 1)
    case_services.report({**case_body(), **POINT}, worker)  # October: not counted
    late_point = make_point(worker)  # yellow: every 30 days, due by 31 October
    at(monkeypatch, 2026, 11, 1)
    point = make_point(world[WORKER])
    numbers = [case_services.report({**case_body(), **POINT}, world[WORKER]).id for _ in range(5)]
    db.session.execute(update(Case).where(Case.id.in_(numbers[:3])).values(accepted_at=clock.now()))
    at(monkeypatch, 2026, 11, 5)
    risk_services.record_inspection(point, world[WORKER], {"result": "normal"})
    db.session.add(
        Inspection(
            risk_point_id=point.id,
            inspected_on=dt.date(2026, 11, 10),
            inspector_id=world[WORKER].id,
            result="normal",
        )
    )
    db.session.add(
        Inspection(
            risk_point_id=late_point.id,
            inspected_on=dt.date(2026, 11, 15),
            inspector_id=world[WORKER].id,
            result="normal",
        )
    )
    for i in range(4):
        visit_services.log({**visit_body(household=f"{i}组1号"), "visited_at": None}, world[WORKER])
    for case_id, satisfaction in ((numbers[0], "satisfied"), (numbers[1], "dissatisfied")):
        db.session.add(
            FollowUp(
                case_id=case_id,
                at=clock.now(),
                by_id=world[WORKER].id,
                method="phone",
                satisfaction=satisfaction,
            )
        )
    db.session.commit()
    at(monkeypatch, 2026, 11, 20)


def test_score_from_known_data_and_weights(client, world, monkeypatch):
    november(world, monkeypatch)
    worker_id = world[WORKER].id
    answer = client.get(
        f"/api/v1/assessments/{worker_id}?month=2026-11", headers=bearer(world[WORKER])
    )
    assert answer.status_code == 200, answer.get_json()
    score = answer.get_json()
    parts = {p["component"]: (p["value"], p["points"]) for p in score["parts"]}
    # weights/targets by default: 20/10, 15/6, 20/8, 25/20, 10/4, 10/90%
    assert parts == {
        "reports": (5, 10.0),
        "verified_reports": (3, 7.5),
        "inspections_on_time": (2, 5.0),
        "visits": (4, 5.0),
        "follow_ups": (2, 5.0),
        "satisfaction": (50.0, 5.56),
    }
    assert score["total"] == 38.06
    # October had one report and nothing else.
    october = client.get(
        f"/api/v1/assessments/{worker_id}?month=2026-10", headers=bearer(world[WORKER])
    ).get_json()
    assert {p["component"]: p["value"] for p in october["parts"]}["reports"] == 1
    bad = client.get("/api/v1/assessments?month=2026-13", headers=bearer(world[WORKER]))
    assert bad.status_code == 400 and "month" in str(bad.get_json()["errors"])

    # An admin doubles the visits weight: weights now sum to 125 and every part is rescaled.
    admin = bearer(world["admin@county"])
    weights = client.get("/api/v1/assessment-weights", headers=admin).get_json()
    visits = next(w for w in weights if w["component"] == "visits")
    url = "/api/v1/assessment-weights/visits"
    assert client.patch(url, json={"weight": 50}, headers=admin).status_code == 428
    bad_weight = client.patch(url, json={"weight": 101, "version": 1}, headers=admin)
    assert bad_weight.status_code == 422 and "weight" in bad_weight.get_json()["errors"]["json"]
    changed = client.patch(url, json={"weight": 50, "version": visits["version"]}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    stale = client.patch(url, json={"weight": 40, "version": visits["version"]}, headers=admin)
    assert stale.status_code == 409
    refused = client.patch(url, json={"weight": 40, "version": 2}, headers=bearer(world[WORKER]))
    assert refused.status_code == 403
    after = client.get(
        f"/api/v1/assessments/{worker_id}?month=2026-11", headers=bearer(world[WORKER])
    ).get_json()
    assert {p["component"]: p["points"] for p in after["parts"]}["visits"] == 8.0
    assert after["total"] == 34.44


def test_scores_are_scoped(client, world, monkeypatch):
    at(monkeypatch, 2026, 11, 20)
    other = make_user("gw-second", "grid_worker", VILLAGE, [f"{VILLAGE}002"]).id
    me = world[WORKER].id
    mine = client.get("/api/v1/assessments", headers=bearer(world[WORKER])).get_json()
    assert [w["user_id"] for w in mine["items"]] == [me]
    theirs = client.get(f"/api/v1/assessments/{other}", headers=bearer(world[WORKER]))
    assert theirs.status_code == 404
    village = client.get("/api/v1/assessments", headers=bearer(world["official@village"]))
    assert {w["user_id"] for w in village.get_json()["items"]} == {me, other}
    assert "outsider" not in village.get_data(as_text=True)
    west = make_user("official-west", "official", VILLAGE_B)
    assert client.get("/api/v1/assessments", headers=bearer(west)).get_json()["items"] == []
    mediator = client.get("/api/v1/assessments", headers=bearer(world["mediator@village"]))
    assert mediator.status_code == 403
