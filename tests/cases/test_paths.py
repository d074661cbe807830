"""issue 13 items 6–8: agreements, petition paths, mediation sources and people, worked."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy import text

from app.cases import services
from app.cases.models import Agreement
from app.cases.models import Case
from app.core import clock
from app.deadlines import years
from app.deadlines.calendar import due_after
from app.extensions import db
from tests.cases.factories import POINT_OTHER_TOWN
from tests.cases.factories import act
from tests.cases.factories import report
from tests.cases.test_workflow import AGREEMENT
from tests.cases.test_workflow import TODAY
from tests.factories import bearer


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def accepted_dispute(client, world) -> str:
    """A dispute reported today and accepted at the village."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    return number


def resolve_with(client, world, number, **agreement):
    """Resolve with the standard agreement, overridden."""
    body = {"outcome": "agreement", "note": "达成协议", "agreement": {**AGREEMENT, **agreement}}
    return act(client, world["mediator@village"], number, "resolve", body)


def test_agreement_dates_are_checked(client, world):
    """Signed in the future, before the report, or due before signing: 422 naming the field."""
    number = accepted_dispute(client, world)
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    future = resolve_with(client, world, number, signed_on=tomorrow)
    assert future.status_code == 422
    assert TODAY.isoformat() in future.get_json()["errors"]["json"]["agreement"]["signed_on"][0]
    before = resolve_with(client, world, number, signed_on=(TODAY - dt.timedelta(1)).isoformat())
    assert "signed_on" in before.get_json()["errors"]["json"]["agreement"]
    # Due the day before signing (signed today): not allowed.
    early = resolve_with(
        client, world, number, performance_due=(TODAY - dt.timedelta(days=1)).isoformat()
    )
    assert early.status_code == 422
    assert "performance_due" in early.get_json()["errors"]["json"]["agreement"]
    assert db.session.scalar(select(Case.state).where(Case.number == number)) == "accepted"


def test_oral_agreement_has_content_and_who_agreed_no_signatures(client, world):
    """第二十八条: an oral agreement is recorded with its terms and parties; no 司法确认."""
    number = accepted_dispute(client, world)
    oral = {"form": "oral", "terms": "口头约定：本周内修复", "signed_on": TODAY.isoformat()}
    body = {"outcome": "agreement", "note": "口头达成", "agreement": oral}
    missing = act(client, world["mediator@village"], number, "resolve", body)
    assert "agreed_by" in missing.get_json()["errors"]["json"]["agreement"]
    signed = {**oral, "agreed_by": "张三、李四", "signed_by_parties": True}
    refused = act(
        client, world["mediator@village"], number, "resolve", {**body, "agreement": signed}
    )
    assert "signed_by_parties" in refused.get_json()["errors"]["json"]["agreement"]
    ok = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {**body, "agreement": {**oral, "agreed_by": "张三、李四"}},
    )
    assert ok.status_code == 200, ok.get_json()
    agreement = ok.get_json()["agreement"]
    assert agreement["form"] == "oral" and agreement["judicial_window_due"] is None
    row = db.session.scalar(select(Agreement).join(Case).where(Case.number == number))
    assert (row.agreed_by, row.signed_by_parties, row.facts) == ("张三、李四", None, None)
    judicial = act(
        client,
        world["mediator@village"],
        number,
        "record_judicial",
        {"judicial_outcome": "applied", "applied_on": TODAY.isoformat()},
    )
    assert judicial.status_code == 409


def test_late_performance_is_flagged(client, world, monkeypatch):
    """Due today + 15; performed on day 20 (5 days late): performed_late, on the case page."""
    number = accepted_dispute(client, world)
    resolve_with(client, world, number)
    monkeypatch.setattr(clock, "today", lambda: TODAY + dt.timedelta(days=20))
    late_day = (TODAY + dt.timedelta(days=20)).isoformat()
    body = act(
        client,
        world["mediator@village"],
        number,
        "record_performance",
        {"performed": True, "performed_on": late_day},
    ).get_json()
    assert body["agreement"]["performed_late"] is True
    assert "逾期履行" in body["events"][-1]["note"]
    assert db.session.scalar(select(Agreement.performed_late).join(Case)) is True


def test_confirmed_needs_an_application_date(client, world):
    """`confirmed` without applied_on (none recorded before): 422 naming applied_on."""
    number = accepted_dispute(client, world)
    resolve_with(client, world, number)
    refused = act(
        client,
        world["mediator@village"],
        number,
        "record_judicial",
        {"judicial_outcome": "confirmed"},
    )
    assert refused.status_code == 422 and "applied_on" in refused.get_json()["errors"]["json"]


def test_invalid_agreement_leaves_a_path(client, world):
    """第三十三条第二款: found invalid → reopen_invalid → in_progress → new agreement or 诉讼."""
    number = accepted_dispute(client, world)
    resolve_with(client, world, number)
    before = act(client, world["mediator@village"], number, "reopen_invalid", {"reason": "x"})
    assert before.status_code == 409
    invalid = act(
        client,
        world["mediator@village"],
        number,
        "record_judicial",
        {"judicial_outcome": "invalid", "applied_on": TODAY.isoformat()},
    ).get_json()
    assert "reopen_invalid" in invalid["allowed_actions"]
    again = act(
        client, world["mediator@village"], number, "reopen_invalid", {"reason": "协议被确认无效"}
    ).get_json()
    assert again["state"] == "in_progress" and again["outcome"] is None
    failed = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {"outcome": "failed", "note": "不再调解", "routes_informed": ["诉讼"]},
    )
    assert failed.get_json()["outcome"] == "failed"


def test_same_matter_must_be_decided(client, world):
    """第十九条: same petitioner, category and village while the first is open: 409 on accept."""
    first = report(client, world["mediator@village"], "petition").get_json()["number"]
    second = report(client, world["mediator@village"], "petition").get_json()
    assert second["same_matter_of"] == first and second["same_matter_decision"] == "pending"
    refused = act(client, world["mediator@village"], second["number"], "accept")
    assert refused.status_code == 409 and refused.get_json()["errors"]["same_matter"] == first
    decided = act(
        client,
        world["mediator@village"],
        second["number"],
        "confirm_different_matter",
        {"note": "此次为另一地块的补偿"},
    ).get_json()
    assert decided["same_matter_decision"] == "different"
    assert act(client, world["mediator@village"], second["number"], "accept").status_code == 200
    third = report(client, world["mediator@village"], "petition").get_json()["number"]
    rejected = act(
        client,
        world["mediator@village"],
        third,
        "reject",
        {"reason": "同一事项正在办理", "ground": "same_matter", "notice": "不予受理告知书"},
    ).get_json()
    assert (rejected["state"], rejected["same_matter_decision"]) == ("rejected", "refused")
    # Another place (another town, no shared village, > 500 m): not the same matter.
    other = report(client, world["mediator@county"], "petition", **POINT_OTHER_TOWN)
    if other.status_code == 201:
        assert other.get_json()["same_matter_decision"] is None


def test_petition_rejection_names_ground_route_body_and_notice(client, world):
    """第十九、二十三、三十一条: a matter for litigation is refused with the route and a notice."""
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    bare = act(client, world["mediator@village"], number, "reject", {"reason": "应诉讼"})
    assert bare.status_code == 422
    assert {"ground", "notice"} <= set(bare.get_json()["errors"]["json"])
    wrong = act(
        client,
        world["mediator@village"],
        number,
        "reject",
        {
            "reason": "应诉讼",
            "ground": "other_route",
            "routes_told": ["有权机关"],
            "competent_body": "示范县人民法院",
            "notice": "告知书",
        },
    )
    assert "routes_told" in wrong.get_json()["errors"]["json"]
    ok = act(
        client,
        world["mediator@village"],
        number,
        "reject",
        {
            "reason": "属民事纠纷",
            "ground": "other_route",
            "routes_told": ["诉讼"],
            "competent_body": "示范县人民法院",
            "notice": "不予受理告知书：请向人民法院起诉",
        },
    ).get_json()
    assert (ok["rejection_ground"], ok["routes_told"], ok["competent_body"]) == (
        "other_route",
        ["诉讼"],
        "示范县人民法院",
    )


def test_hearing_pauses_the_re_review_clock(client, world):
    """复核 running from today (30 days); a one-day hearing today → one period of 31 days."""
    number = report(client, world["mediator@county"], "petition").get_json()["number"]
    db.session.execute(
        Case.__table__.update()
        .where(Case.number == number)
        .values(
            review_stage="re_review",
            resolve_from=TODAY,
            resolve_due=TODAY + dt.timedelta(days=30),
        )
    )
    db.session.commit()
    accepted = act(client, world["mediator@county"], number, "accept").get_json()
    due = dt.date.fromisoformat(accepted["resolve_due"])
    act(
        client,
        world["mediator@county"],
        number,
        "start_hearing",
        {"started_on": TODAY.isoformat()},
    )
    ended = act(
        client,
        world["mediator@county"],
        number,
        "end_hearing",
        {"ended_on": TODAY.isoformat()},
    ).get_json()
    # One day of hearing (start = end day): the period is 30 + 1 days, counted from its start.
    assert ended["hearing_days"] == 1
    expected = due_after(TODAY, 31, calendar=years.calendar()).date
    assert dt.date.fromisoformat(ended["resolve_due"]) == expected >= due


def test_review_window_runs_from_reply_received(client, world, monkeypatch):
    """第三十五条: reply given today, received day 10: the 复查 window ends 30 days after day 10."""
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    resolved = act(
        client,
        world["mediator@village"],
        number,
        "resolve",
        {"outcome": "explained", "note": "解释", "reply": "处理意见书"},
    ).get_json()
    monkeypatch.setattr(clock, "today", lambda: TODAY + dt.timedelta(days=10))
    received = act(
        client,
        world["mediator@village"],
        number,
        "record_reply_received",
        {"received_on": (TODAY + dt.timedelta(days=10)).isoformat()},
    ).get_json()
    assert received["reply_received_on"] == (TODAY + dt.timedelta(days=10)).isoformat()
    assert received["review_request_due"] > resolved["review_request_due"]


def test_sources_refusal_and_mediators(client, world):
    """委派/委托 sources; a party refusing mediation; mediators named on the case."""
    number = report(client, world["grid_worker@village"], source="court_referral").get_json()
    assert number["source"] == "court_referral"
    number = number["number"]
    act(client, world["mediator@village"], number, "accept")
    mediator = world["mediator@village"].id
    wrong = act(
        client,
        world["mediator@village"],
        number,
        "name_mediators",
        {"mediator_ids": [world["official@village"].id]},
    )
    assert wrong.status_code == 422 and "mediator_ids" in wrong.get_json()["errors"]["json"]
    named = act(
        client, world["mediator@village"], number, "name_mediators", {"mediator_ids": [mediator]}
    ).get_json()
    assert [m["id"] for m in named["mediators"]] == [mediator]
    refused = act(
        client,
        world["mediator@village"],
        number,
        "refuse_mediation",
        {"refused_by": "respondent", "routes_told": ["诉讼"]},
    ).get_json()
    assert (refused["state"], refused["outcome"], refused["routes_told"]) == (
        "rejected",
        "refused",
        ["诉讼"],
    )
    page = client.get(f"/api/v1/cases/{number}", headers=bearer(world["mediator@village"]))
    assert page.get_json()["mediators"][0]["id"] == mediator


def test_same_matter_found_at_acceptance_is_kept_for_the_decision(client, world):
    """第十九条: a likely same matter first seen at acceptance (a case from before detection)
    is refused with 409, and the flag outlives the refusal so the handler can decide."""
    mediator = world["mediator@village"]
    first = report(client, mediator, "petition").get_json()["number"]
    second = report(client, mediator, "petition").get_json()["number"]
    db.session.execute(
        text(
            "UPDATE cases SET same_matter_of_id = NULL, same_matter_decision = NULL"
            " WHERE number = :n"
        ),
        {"n": second},
    )
    db.session.commit()
    refused = act(client, mediator, second, "accept")
    assert refused.status_code == 409 and refused.get_json()["errors"]["same_matter"] == first
    row = db.session.execute(
        text(
            "SELECT c.same_matter_decision, e.number AS earlier,"
            " (SELECT count(*) FROM case_events v WHERE v.case_id = c.id"
            "   AND v.action = 'same_matter') AS flagged"
            " FROM cases c JOIN cases e ON e.id = c.same_matter_of_id WHERE c.number = :n"
        ),
        {"n": second},
    ).one()
    # Two flag events: the report's (its columns were cleared above, its event stays: the
    # timeline is append-only) and the refused acceptance's, which outlived the 409.
    assert (row.same_matter_decision, row.earlier, row.flagged) == ("pending", first, 2)
    decided = act(client, mediator, second, "confirm_different_matter", {"note": "另一地块"})
    assert decided.status_code == 200
    assert act(client, mediator, second, "accept").status_code == 200


def test_no_warning_while_a_hearing_runs(client, world):
    """第三十六条: while a 听证 runs, the 复核 clock is paused: past its last day the sweep marks
    it neither yellow nor red; once the hearing ends the clock runs (and warns) again."""
    number = report(client, world["mediator@county"], "petition").get_json()["number"]
    db.session.execute(
        Case.__table__.update()
        .where(Case.number == number)
        .values(review_stage="re_review", resolve_from=TODAY, resolve_due=TODAY + dt.timedelta(30))
    )
    db.session.commit()
    act(client, world["mediator@county"], number, "accept")
    act(
        client, world["mediator@county"], number, "start_hearing", {"started_on": TODAY.isoformat()}
    )
    # 40 days on: past the 30-day period, but the hearing has not ended.
    services.sweep(on=TODAY + dt.timedelta(days=40))
    db.session.commit()
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (case.warning, case.next_due) == ("none", None)
    ended = act(
        client, world["mediator@county"], number, "end_hearing", {"ended_on": TODAY.isoformat()}
    ).get_json()
    assert ended["hearing_days"] == 1
    services.sweep(on=TODAY + dt.timedelta(days=40))
    db.session.commit()
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.warning == "red" and case.next_due == dt.date.fromisoformat(ended["resolve_due"])
