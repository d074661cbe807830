"""The workflow table, enforced: every state × action × role × level, and the main paths."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy import update

from app.cases import services
from app.cases import workflow
from app.cases.models import STATES
from app.cases.models import Agreement
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.cases.models import FollowUp
from app.core import clock
from app.extensions import db
from tests.cases.factories import act
from tests.cases.factories import case_body
from tests.cases.factories import report
from tests.factories import bearer


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


CALLERS = [
    "grid_worker@village",
    "mediator@village",
    "official@village",
    "admin@village",
    "mediator@town",
    "official@town",
    "admin@town",
    "mediator@county",
    "official@county",
]
TODAY = clock.today()
AGREEMENT = {
    "facts": "楼上卫生间渗漏至楼下",
    "responsibilities": "楼上负主要责任",
    "terms": "楼上修复防水并赔偿 800 元",
    "performance_method": "现金一次付清",
    "performance_due": (TODAY + dt.timedelta(days=15)).isoformat(),
    "signed_on": TODAY.isoformat(),
    "signed_by_parties": True,
    "signed_by_mediator": True,
}
BODIES = {
    "accept": {},
    "reject": {"reason": "不属于受理范围"},
    "start": {},
    "resolve": {"outcome": "agreement", "note": "达成协议", "agreement": AGREEMENT},
    "follow_up": {"method": "phone", "satisfaction": "satisfied"},
    "close": {},
    "escalate": {"reason": "村级无法化解"},
    "assign_down": {"to_level": "village", "reason": "属地处理"},
    "withdraw": {"reason": "申请人撤回"},
    "request_extension": {"days": 5, "reason": "需补充材料"},
    "approve_extension": {"approved": True},
    "supervise": {"supervision": "yellow", "note": "限期办结", "due": TODAY.isoformat()},
    "reopen": {"reason": "回访不满意"},
    "record_performance": {"performed": True, "performed_on": TODAY.isoformat()},
    "record_judicial": {"judicial_outcome": "applied", "applied_on": TODAY.isoformat()},
    "request_review": {"reason": "对处理意见不服，申请复查"},
    "request_re_review": {"reason": "对复查意见不服，申请复核"},
    "confirm_different_matter": {"note": "诉求不同：此次为补偿款发放"},
    "refuse_mediation": {"refused_by": "respondent", "routes_told": ["诉讼"]},
    "name_mediators": {"mediator_ids": []},  # filled in by the matrix (a world user's id)
    "claim": {},
    "assign_handler": {"handler_id": 0},  # filled in by the matrix (a world user's id)
    "reopen_invalid": {"reason": "法院确认协议无效，重新调解"},
    "start_hearing": {},
    "end_hearing": {},
    "record_reply_received": {"received_on": TODAY.isoformat()},
    "dispatch": {},  # filled in by the matrix (the world's town unit)
    "record_progress": {"note": "已约双方到村委会面谈"},
}


def kind_for(rule: workflow.Rule) -> str:
    """A kind the rule applies to (disputes where all do)."""
    return "dispute" if "dispute" in rule.kinds else sorted(rule.kinds)[0]


def level_for(action: str) -> str:
    """Assign-down and dispatch need a case above the village; the rest start at the village."""
    return "town" if action in ("assign_down", "dispatch") else "village"


def prepare(case: Case, action: str, state: str) -> None:
    """Put a case in `state` with whatever the action needs to succeed there."""
    values = {
        "state": state,
        "accept_due": TODAY + dt.timedelta(days=3),
        "resolve_from": TODAY,
        "resolve_due": TODAY + dt.timedelta(days=20),
        "review_request_due": TODAY + dt.timedelta(days=20),
        "review_stage": {"request_re_review": "review", "start_hearing": "re_review"}.get(
            action, "re_review" if action == "end_hearing" else "none"
        ),
        "hearing_started_on": TODAY if action == "end_hearing" else None,
        "same_matter_decision": "pending" if action == "confirm_different_matter" else None,
        "same_matter_of_id": case.id if action == "confirm_different_matter" else None,
        "resolved_at": clock.now(),
        "extension_requested": 5 if action == "approve_extension" else None,
    }
    db.session.execute(update(Case).where(Case.id == case.id).values(**values))
    if action == "reopen":
        db.session.add(
            FollowUp(
                case_id=case.id, by_id=case.reporter_id, method="visit", satisfaction="dissatisfied"
            )
        )
    if action in ("record_performance", "record_judicial", "reopen_invalid"):
        db.session.add(
            Agreement(
                case_id=case.id,
                facts="f",
                responsibilities="r",
                terms="t",
                performance_method="m",
                performance_due=TODAY,
                signed_on=TODAY,
                signed_by_parties=True,
                signed_by_mediator=True,
                judicial_window_due=TODAY + dt.timedelta(days=30),
                judicial_outcome="invalid" if action == "reopen_invalid" else "pending",
            )
        )
    db.session.commit()


def expected(
    rule: workflow.Rule, role: str, level: str, case_level: str, state: str, is_reporter: bool
) -> int:
    """The documented answer (docs/workflow.md, "Order of checks")."""
    if role == "admin":
        return 403  # the policy: admins do not handle cases
    if role not in rule.roles and not rule.reporter_may:
        return 403
    if state not in rule.from_states:
        return 409
    if rule.reporter_may and is_reporter:
        return 200
    if role not in rule.roles or not rule.level_ok(level, case_level):
        return 403
    return 200


@pytest.mark.parametrize("action", list(workflow.WORKFLOW))
def test_workflow_matrix(client, world, db_connection, action):
    """Every state × role × level for one action: the transition, or 403 / 409 as documented."""
    rule = workflow.WORKFLOW[action]
    kind, case_level = kind_for(rule), level_for(action)
    reporter = world["grid_worker@village"]
    data = case_body(kind)
    data["level"] = "village"
    case = services.report({**data, "lon": 118.01, "lat": 37.32}, reporter)
    if case_level != "village":
        case.level = case.origin_level = case.max_level = case_level
    db.session.commit()
    number = case.number
    headers = {key: bearer(world[key]) for key in CALLERS}
    db.session.commit()
    outcomes = []
    for state in STATES:
        for key in CALLERS:
            role, level = key.split("@")
            db.session.remove()
            savepoint = db_connection.begin_nested()
            try:
                prepare(db.session.scalar(select(Case).where(Case.number == number)), action, state)
                version = db.session.scalar(select(Case.version).where(Case.number == number))
                body = dict(BODIES[action])
                if action == "name_mediators":
                    body["mediator_ids"] = [world["mediator@village"].id]
                if action == "dispatch":
                    body["lead_department_id"] = world.department_ids["town-labour"]
                if action == "assign_handler":
                    body["handler_id"] = world["mediator@village"].id
                response = client.post(
                    f"/api/v1/cases/{number}/actions/{action}",
                    json={"version": version, **body},
                    headers=headers[key],
                )
                status, body = response.status_code, response.get_json()
                after = db.session.scalar(select(Case).where(Case.number == number))
                last_event = db.session.scalar(
                    select(CaseEvent.action)
                    .where(CaseEvent.case_id == after.id)
                    .order_by(CaseEvent.id.desc())
                    .limit(1)
                )
                after_state = after.state
            finally:
                db.session.remove()
                savepoint.rollback()
            want = expected(rule, role, level, case_level, state, key == "grid_worker@village")
            where = f"{action} {state} {key}: {status} {body.get('message') if body else ''}"
            outcomes.append(want)
            assert status == want, where
            if want == 200:
                assert last_event == action, where
                target = rule.to_state or state
                if action in ("escalate", "assign_down"):
                    target = "reported"
                assert after_state == target, where
            elif want == 409:
                assert "allowed_actions" in body["errors"], where
                assert action not in body["errors"]["allowed_actions"], where
                assert after_state == state, where
            else:
                assert after_state == state, where
    assert 200 in outcomes  # every action can happen somewhere


def test_stale_version_missing_version_and_bad_fields(client, world):
    """Stale version 409; no version 428; bad fields 422 naming them; unknown action 404."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    assert act(client, world["mediator@village"], number, "accept", version=1).status_code == 200
    stale = act(client, world["mediator@village"], number, "start", version=1)
    assert stale.status_code == 409 and stale.get_json()["errors"]["version"]["current"] == 2
    headers = bearer(world["mediator@village"])
    missing = client.post(f"/api/v1/cases/{number}/actions/start", json={}, headers=headers)
    assert missing.status_code == 428
    via_header = client.post(
        f"/api/v1/cases/{number}/actions/start", json={}, headers={**headers, "If-Match": '"2"'}
    )
    assert via_header.status_code == 200 and via_header.headers["ETag"] == '"3"'
    bad = act(client, world["mediator@village"], number, "request_extension", {"days": 0})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["json"]) == {"days", "reason"}
    unknown = act(client, world["mediator@village"], number, "teleport")
    assert unknown.status_code == 404


def test_dispute_from_report_to_close(client, world):
    """Report → accept → start → resolve with agreement → follow-up → close, with clocks."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    accepted = act(client, world["mediator@village"], number, "accept").get_json()
    assert accepted["accepted_on_time"] is True
    assert accepted["resolve_due"] is not None and accepted["next_due"] == accepted["resolve_due"]
    act(client, world["mediator@village"], number, "start")
    resolved = act(client, world["mediator@village"], number, "resolve", BODIES["resolve"])
    assert resolved.status_code == 200, resolved.get_json()
    body = resolved.get_json()
    assert body["outcome"] == "agreement" and body["resolved_on_time"] is True
    assert body["agreement"]["judicial_window_due"] >= AGREEMENT["signed_on"]
    assert body["next_due"] is None
    followed = act(client, world["grid_worker@village"], number, "follow_up", BODIES["follow_up"])
    assert followed.get_json()["state"] == "followed_up"
    closed = act(client, world["mediator@village"], number, "close").get_json()
    assert closed["state"] == "closed" and closed["max_level"] == "village"
    assert [e["action"] for e in closed["events"]] == [
        "report",
        "accept",
        "start",
        "resolve",
        "follow_up",
        "close",
    ]
    # Only the agreement's follow-through (and progress notes) remain possible on a closed dispute.
    assert closed["allowed_actions"] == ["record_performance", "record_judicial", "record_progress"]


def test_escalation_village_town_county(client, world):
    """Escalate twice: level and max level rise, the acceptance clock restarts; not past county."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    first = act(client, world["mediator@village"], number, "escalate", {"reason": "化解不了"})
    body = first.get_json()
    assert (body["state"], body["level"], body["max_level"]) == ("reported", "town", "town")
    assert act(client, world["mediator@village"], number, "accept").status_code == 403
    act(client, world["mediator@town"], number, "accept")
    second = act(client, world["official@town"], number, "escalate", {"reason": "涉及多部门"})
    assert second.get_json()["level"] == "county"
    top = act(client, world["official@county"], number, "escalate", {"reason": "再上报"})
    assert top.status_code == 409 and "县级" in top.get_json()["message"]
    events = second.get_json()["events"]
    assert [(e["from_level"], e["to_level"]) for e in events if e["action"] == "escalate"] == [
        ("village", "town"),
        ("town", "county"),
    ]


def test_assign_down_returns_the_case_to_the_village(client, world):
    """A town mediator hands a town-level case to the village; it is `reported` there."""
    number = report(client, world["mediator@town"]).get_json()["number"]
    body = act(
        client,
        world["mediator@town"],
        number,
        "assign_down",
        {"to_level": "village", "reason": "属地化解"},
    ).get_json()
    assert (body["level"], body["state"], body["max_level"]) == ("village", "reported", "town")
    same = act(
        client,
        world["mediator@village"],
        number,
        "assign_down",
        {"to_level": "village", "reason": "x"},
    )
    assert same.status_code == 422 and "to_level" in same.get_json()["errors"]["json"]


def test_petition_extension_once_and_capped(client, world, monkeypatch):
    """Petitions: at most 30 days, once; approval moves the deadline; a refusal does not."""
    # Frozen on Fri 2025-08-01: 60 days → Tue 09-30, a working day, so the 20-day extension
    # (one 80-day period from 08-01 → Mon 10-20) moves the last day by exactly 20. On a day
    # whose 60th day rolls over, the lengthened period moves it by less (DOMAIN §4).
    moment = dt.datetime(2025, 8, 1, 2, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    monkeypatch.setattr(clock, "today", lambda: dt.date(2025, 8, 1))
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    too_long = act(
        client,
        world["mediator@village"],
        number,
        "request_extension",
        {"days": 40, "reason": "复杂"},
    )
    assert too_long.status_code == 422 and "30" in str(too_long.get_json()["errors"])
    before = act(
        client,
        world["mediator@village"],
        number,
        "request_extension",
        {"days": 20, "reason": "复杂"},
    ).get_json()
    twice = act(
        client,
        world["mediator@village"],
        number,
        "request_extension",
        {"days": 5, "reason": "again"},
    )
    assert twice.status_code == 409
    by_mediator = act(
        client, world["mediator@town"], number, "approve_extension", {"approved": True}
    )
    assert by_mediator.status_code == 403
    approved = act(
        client, world["official@town"], number, "approve_extension", {"approved": True}
    ).get_json()
    old_due = dt.date.fromisoformat(before["resolve_due"])
    new_due = dt.date.fromisoformat(approved["resolve_due"])
    assert (new_due - old_due).days >= 20 and approved["extension_days"] == 20
    again = act(
        client,
        world["mediator@village"],
        number,
        "request_extension",
        {"days": 5, "reason": "再延"},
    )
    assert again.status_code == 409 and "一次" in again.get_json()["message"]


def test_petition_review_and_re_review(client, world, monkeypatch):
    """复查 at the town, 复核 at the county, linked, with their own clocks; none after 复核."""
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    no_reply = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {"outcome": "not_supported", "note": "依法不予支持"},
    )
    assert no_reply.status_code == 422 and "reply" in no_reply.get_json()["errors"]["json"]
    resolved = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {"outcome": "not_supported", "note": "依法不予支持", "reply": "处理意见书……"},
    )
    assert resolved.get_json()["review_request_due"] is not None
    same_level = act(
        client, world["mediator@village"], number, "request_review", {"reason": "不服"}
    )
    assert same_level.status_code == 403
    parent = act(
        client, world["official@town"], number, "request_review", {"reason": "不服，申请复查"}
    ).get_json()
    review_number = parent["children"][0]
    review = client.get(
        f"/api/v1/cases/{review_number}", headers=bearer(world["official@town"])
    ).get_json()
    assert (review["level"], review["review_stage"], review["parent"]) == ("town", "review", number)
    assert review["resolve_due"] is not None
    assert review["parties"][0]["name"] == "张*"
    duplicate = act(client, world["official@town"], number, "request_review", {"reason": "再来"})
    assert duplicate.status_code == 409
    act(client, world["mediator@town"], review_number, "accept")
    act(
        client,
        world["mediator@town"],
        review_number,
        "resolve",
        {"outcome": "explained", "note": "复查维持", "reply": "复查意见书"},
    )
    rr = act(
        client, world["official@county"], review_number, "request_re_review", {"reason": "申请复核"}
    ).get_json()
    re_review_number = rr["children"][0]
    act(client, world["mediator@county"], re_review_number, "accept")
    act(
        client,
        world["mediator@county"],
        re_review_number,
        "resolve",
        {"outcome": "explained", "note": "复核维持", "reply": "复核意见书"},
    )
    final = client.get(
        f"/api/v1/cases/{re_review_number}", headers=bearer(world["official@county"])
    ).get_json()
    assert final["review_stage"] == "re_review" and final["review_request_due"] is None
    # Past the 30-day window a review is refused.
    monkeypatch.setattr(clock, "today", lambda: TODAY + dt.timedelta(days=60))
    late = act(client, world["official@town"], number, "request_review", {"reason": "迟到"})
    assert late.status_code == 409


def test_reopen_only_after_dissatisfied_follow_up(client, world):
    """A 不满意 follow-up lets an official reopen; a 满意 one does not."""
    for satisfaction, status in (("satisfied", 409), ("dissatisfied", 200)):
        number = report(client, world["grid_worker@village"], "incident").get_json()["number"]
        act(client, world["mediator@village"], number, "accept")
        act(
            client,
            world["mediator@village"],
            number,
            "resolve",
            {"outcome": "handled", "note": "已处置"},
        )
        act(
            client,
            world["grid_worker@village"],
            number,
            "follow_up",
            {"method": "visit", "satisfaction": satisfaction},
        )
        response = act(
            client, world["official@village"], number, "reopen", {"reason": "群众不满意"}
        )
        assert response.status_code == status
        if status == 200:
            assert response.get_json()["state"] == "in_progress"


def test_judicial_confirmation_window(client, world):
    """An application after the 30-day window is refused; within it is recorded."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    act(client, world["mediator@village"], number, "resolve", BODIES["resolve"])
    late_day = (TODAY + dt.timedelta(days=90)).isoformat()
    late = act(
        client,
        world["mediator@village"],
        number,
        "record_judicial",
        {"judicial_outcome": "applied", "applied_on": late_day},
    )
    assert late.status_code == 422
    ok = act(
        client,
        world["mediator@village"],
        number,
        "record_judicial",
        {"judicial_outcome": "confirmed", "applied_on": TODAY.isoformat()},
    )
    assert ok.get_json()["agreement"]["judicial_outcome"] == "confirmed"
    performed = act(
        client,
        world["mediator@village"],
        number,
        "record_performance",
        {"performed": True, "performed_on": TODAY.isoformat()},
    )
    assert performed.get_json()["agreement"]["performed"] is True


def test_dispute_outcomes_need_their_records(client, world):
    """调解成功 needs the agreement; 调解不成 needs the other routes told; wrong outcome 422."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    for body, field in [
        ({"outcome": "agreement", "note": "x"}, "agreement"),
        ({"outcome": "failed", "note": "x"}, "routes_informed"),
        ({"outcome": "handled", "note": "x"}, "outcome"),
    ]:
        response = act(client, world["mediator@village"], number, "resolve", body)
        assert response.status_code == 422 and field in response.get_json()["errors"]["json"]
    unsigned = {**BODIES["resolve"], "agreement": {**AGREEMENT, "signed_by_parties": False}}
    assert act(client, world["mediator@village"], number, "resolve", unsigned).status_code == 422
    failed = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {"outcome": "failed", "note": "双方分歧大", "routes_informed": ["诉讼", "仲裁"]},
    )
    assert failed.get_json()["outcome"] == "failed"


def test_timeline_is_append_only(client, world):
    """The database refuses to edit or delete timeline entries."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    report(client, world["grid_worker@village"])
    for statement in ("UPDATE case_events SET note = 'x'", "DELETE FROM case_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
            db.session.execute(text(statement))


def test_workflow_doc_is_current():
    """docs/workflow.md holds the table and diagram generated from WORKFLOW."""
    with open("docs/workflow.md", encoding="utf-8") as f:
        assert workflow.workflow_markdown() in f.read(), "run: flask --app wsgi cases docs"


def test_reopened_dispute_settles_with_a_new_agreement(client, world):
    """Resolve with an agreement, 不满意, reopen, resolve again: the new agreement replaces it."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    act(client, world["mediator@village"], number, "resolve", BODIES["resolve"])
    act(
        client,
        world["grid_worker@village"],
        number,
        "follow_up",
        {"method": "visit", "satisfaction": "dissatisfied"},
    )
    act(client, world["official@village"], number, "reopen", {"reason": "未履行"})
    second = {**BODIES["resolve"], "agreement": {**AGREEMENT, "terms": "重新约定：赔偿 1000 元"}}
    response = act(client, world["mediator@village"], number, "resolve", second)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["agreement"]["terms"] == "重新约定：赔偿 1000 元"
    assert response.get_json()["agreement"]["judicial_outcome"] == "pending"
