"""Legal clocks on cases: 民法典 counting, holidays, 调休, 工作日 rules, extensions, coverage."""

import datetime as dt

import pytest
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import text

from app.cases import services
from app.cases.models import Case
from app.core import clock
from app.deadlines import policy as deadline_policy
from app.deadlines import snapshot
from app.deadlines import years
from app.deadlines.calendar import SHANGHAI
from app.deadlines.models import DeadlinePolicy
from app.extensions import db
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import bearer


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


D = dt.date


def at(day: str, hour: int = 10) -> dt.datetime:
    """An instant on a Shanghai day."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


@pytest.fixture
def frozen(monkeypatch):
    """Set the current instant (and today) for the services and clocks."""

    def freeze(moment: dt.datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment.astimezone(dt.UTC))
        monkeypatch.setattr(clock, "today", lambda: moment.astimezone(SHANGHAI).date())

    return freeze


@pytest.mark.parametrize(
    ("kind", "reported", "accept_due", "why"),
    [
        # 3 days from Thu 2025-09-25 (start day not counted) → Sun 9-28, a 调休 workday: stands.
        ("dispute", at("2025-09-25"), "2025-09-28", "调休上班日不是法定休假日"),
        # 3 days from Tue 9-30 → Fri 10-03, inside National Day (10-01..10-08) → Thu 10-09.
        ("dispute", at("2025-09-30"), "2025-10-09", "末日在国庆假期内，顺延"),
        # 3 days from Wed 2025-12-31 23:30 → Sat 2026-01-03 (元旦 1-01..1-03) → Sun 1-04 is a
        # 调休 workday in 2026 → 1-04.
        ("dispute", at("2025-12-31", 23), "2026-01-04", "元旦假期后的调休上班日"),
        # 15 days from Mon 2025-02-03 → Tue 02-18.
        ("petition", at("2025-02-03"), "2025-02-18", "普通工作日"),
        # 15 days from Fri 2025-01-31 → Sat 02-15 → Mon 02-17.
        ("petition", at("2025-01-31"), "2025-02-17", "末日为周六，顺延至周一"),
        # UTC 2025-09-29 17:00 is already 9-30 in Shanghai: counted from 9-30.
        ("dispute", dt.datetime(2025, 9, 29, 17, tzinfo=dt.UTC), "2025-10-09", "以北京时间为准"),
    ],
)
def test_acceptance_deadline(client, world, frozen, kind, reported, accept_due, why):
    """The acceptance clock follows 民法典 第二百零一至二百零三条 on the official calendar."""
    frozen(reported)
    body = report(client, world["mediator@village"], kind).get_json()
    assert body["accept_due"] == accept_due, why
    assert body["clock_warning"] is None


def test_month_end_and_resolution_clock(client, world, frozen):
    """Accepted 2025-01-31: a dispute's 30 days end 2025-03-02 (Sun) → Mon 03-03."""
    frozen(at("2025-01-30"))
    number = report(client, world["mediator@village"]).get_json()["number"]
    frozen(at("2025-01-31"))
    body = act(client, world["mediator@village"], number, "accept").get_json()
    assert body["resolve_due"] == "2025-03-03"
    assert body["accepted_on_time"] is True


def test_late_acceptance_is_recorded(client, world, frozen):
    """Accepting after the deadline counts as late in the measures."""
    frozen(at("2025-03-03"))
    number = report(client, world["mediator@village"]).get_json()["number"]
    frozen(at("2025-03-10"))
    body = act(client, world["mediator@village"], number, "accept").get_json()
    assert body["accepted_on_time"] is False


def test_working_day_rule(client, world, frozen):
    """An admin makes dispute acceptance 3 工作日: counted on working days, 调休 included."""
    policy = db.session.scalar(
        select(DeadlinePolicy).where(
            DeadlinePolicy.kind == "dispute", DeadlinePolicy.clock == "accept"
        )
    )
    response = client.put(
        f"/api/v1/deadline-policies/{policy.id}",
        json={"days": 3, "unit": "working_days", "source": "本县规定"},
        headers=bearer(world["admin@county"]),
    )
    assert response.status_code == 200 and response.get_json()["unit"] == "working_days"
    # From Fri 2025-09-26: Sun 9-28 (调休 workday), Mon 9-29, Tue 9-30 → due 9-30.
    frozen(at("2025-09-26"))
    body = report(client, world["mediator@village"]).get_json()
    assert body["accept_due"] == "2025-09-30"
    # From Tue 9-30: the holiday 10-01..10-08 is skipped: 10-09, 10-10, Sat 10-11 (调休) → 10-11.
    frozen(at("2025-09-30"))
    body = report(client, world["mediator@village"]).get_json()
    assert body["accept_due"] == "2025-10-11"


def test_policy_changes_are_validated_and_admin_only(client, world):
    """Days 1–366, units days or working_days; only admins may change the policy."""
    policy_id = db.session.scalar(select(DeadlinePolicy.id).limit(1))
    admin = bearer(world["admin@county"])
    bad = client.put(f"/api/v1/deadline-policies/{policy_id}", json={"days": 0}, headers=admin)
    assert bad.status_code == 422 and "days" in bad.get_json()["errors"]["json"]
    unit = client.put(
        f"/api/v1/deadline-policies/{policy_id}", json={"days": 3, "unit": "weeks"}, headers=admin
    )
    assert unit.status_code == 422
    official = client.put(
        f"/api/v1/deadline-policies/{policy_id}",
        json={"days": 3},
        headers=bearer(world["official@county"]),
    )
    assert official.status_code == 403
    listed = client.get("/api/v1/deadline-policies", headers=bearer(world["mediator@village"]))
    assert {"kind", "clock", "days", "unit", "source"} <= set(listed.get_json()[0])


def test_approved_extension_moves_the_deadline(client, world, frozen):
    """An approved 20-day extension counts from the old deadline with the same rules."""
    frozen(at("2025-08-01"))
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    body = act(client, world["mediator@village"], number, "accept").get_json()
    # 60 days from Fri 2025-08-01 → Tue 2025-09-30.
    assert body["resolve_due"] == "2025-09-30"
    act(
        client,
        world["mediator@village"],
        number,
        "request_extension",
        {"days": 20, "reason": "需调查取证"},
    )
    body = act(
        client, world["official@town"], number, "approve_extension", {"approved": True}
    ).get_json()
    # 20 days from 9-30 → Mon 10-20 (after the holiday; a working day).
    assert body["resolve_due"] == "2025-10-20"
    assert body["extension_days"] == 20


def test_year_not_covered_warns_then_admin_enters_it(client, world, frozen):
    """A clock running into 2027 says so; once an admin enters 2027, new clocks are exact."""
    frozen(at("2026-12-01"))
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    body = act(client, world["mediator@village"], number, "accept").get_json()
    # 60 days from 2026-12-01 → 2027-01-30 (Sat) → weekends-only guess: Mon 2027-02-01.
    assert body["resolve_due"] == "2027-02-01"
    assert "2027" in body["clock_warning"]
    entered = client.put(
        "/api/v1/holiday-years/2027",
        json={
            "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"]
            + [f"2027-02-{d:02d}" for d in range(5, 12)],
            "workdays": ["2027-02-14"],
            "notice": "测试用安排",
        },
        headers=bearer(world["admin@county"]),
    )
    assert entered.status_code == 200, entered.get_json()
    years = client.get("/api/v1/holiday-years", headers=bearer(world["mediator@village"]))
    assert {"year": 2027, "source": "entered"}.items() <= years.get_json()[-1].items()
    # Another matter (another category): the same petitioner's same matter would be refused
    # while the first is handled (信访工作条例 第十九条).
    number = report(client, world["mediator@village"], "petition", category="婚姻家庭").get_json()[
        "number"
    ]
    body = act(client, world["mediator@village"], number, "accept").get_json()
    assert body["clock_warning"] is None and body["resolve_due"] == "2027-02-01"


def test_bad_holiday_year_is_refused(client, world):
    """Dates outside the year, a weekday make-up workday, a date both off and worked: 422."""
    response = client.put(
        "/api/v1/holiday-years/2027",
        json={"holidays": ["2026-12-31", "2027-05-03"], "workdays": ["2027-05-03", "2027-05-04"]},
        headers=bearer(world["admin@county"]),
    )
    assert response.status_code == 422
    errors = " ".join(response.get_json()["errors"]["json"]["holidays"])
    assert "2026-12-31" in errors and "2027-05-03" in errors and "2027-05-04" in errors


def test_warnings_yellow_and_red(client, world, frozen):
    """Yellow with ≤ 20% of the period left; red once overdue (town level: no auto-escalation)."""
    # 15 days from Mon 2025-03-03 → Tue 03-18; 20% of 15 = 3: yellow from Sun 03-16 (16, 17, 18
    # left), none on 03-15 (4 left).
    frozen(at("2025-03-03"))
    number = report(client, world["mediator@town"], "petition").get_json()["number"]
    path = f"/api/v1/cases/{number}"
    assert client.get(path, headers=bearer(world["mediator@town"])).get_json()["warning"] == "none"
    frozen(at("2025-03-16"))
    assert services.sweep().warnings_changed == 1
    db.session.commit()
    assert (
        client.get(path, headers=bearer(world["mediator@town"])).get_json()["warning"] == "yellow"
    )
    frozen(at("2025-03-19"))
    services.sweep()
    db.session.commit()
    body = client.get(path, headers=bearer(world["mediator@town"])).get_json()
    assert body["warning"] == "red" and body["level"] == "town"
    assert [e["data"] for e in body["events"] if e["action"] == "warning"] == [
        {"from": "none", "to": "yellow"},
        {"from": "yellow", "to": "red"},
    ]


def test_extension_lengthens_the_period(client, world, frozen):
    """60 + 30 = one 90-day period from the same start, rolled over once (DOMAIN §4)."""
    # Accepted Sat 2025-08-02: 60 days → Wed 10-01, in National Day (10-01..10-08) → Thu 10-09.
    frozen(at("2025-08-02"))
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    body = act(client, world["mediator@village"], number, "accept").get_json()
    assert body["resolve_due"] == "2025-10-09"
    act(client, world["mediator@village"], number, "request_extension", {"days": 30, "reason": "x"})
    body = act(
        client, world["official@town"], number, "approve_extension", {"approved": True}
    ).get_json()
    # 90 days from 08-02 → Fri 10-31, a working day; not the rolled 10-09 + 30 = Sat 11-08
    # → Mon 11-10.
    assert body["resolve_due"] == "2025-10-31"
    assert body["extension_days"] == 30


def test_yellow_thresholds_by_period(client, world, frozen):
    """A 3-day clock turns yellow on its last day; a 60-day one with 12 days left."""
    # Dispute reported Mon 2025-03-03: 3 days → Thu 03-06; ceil(0.6) = 1 day left → yellow on
    # 03-06 only.
    frozen(at("2025-03-03"))
    number = report(client, world["mediator@town"]).get_json()["number"]
    path = f"/api/v1/cases/{number}"
    assert client.get(path, headers=bearer(world["mediator@town"])).get_json()["warning"] == "none"
    frozen(at("2025-03-05"))
    services.sweep()
    db.session.commit()
    assert client.get(path, headers=bearer(world["mediator@town"])).get_json()["warning"] == "none"
    frozen(at("2025-03-06"))
    services.sweep()
    db.session.commit()
    body = client.get(path, headers=bearer(world["mediator@town"])).get_json()
    assert body["warning"] == "yellow"
    # Petition accepted Mon 2025-03-03: 60 days → Fri 05-02 (劳动节 05-01..05-05) → Tue 05-06;
    # 20% of 60 = 12: yellow from Fri 04-25 (25 … 30 = 6, 1 … 6 May = 6: 12 days left).
    frozen(at("2025-03-03"))
    number = report(client, world["mediator@town"], "petition").get_json()["number"]
    body = act(client, world["mediator@town"], number, "accept").get_json()
    assert body["resolve_due"] == "2025-05-06"
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (
        services.warning_for(
            case.resolve_from, case.resolve_due, D(2025, 4, 24), case.clock_rules["resolve"]
        )
        == "none"
    )
    assert (
        services.warning_for(
            case.resolve_from, case.resolve_due, D(2025, 4, 25), case.clock_rules["resolve"]
        )
        == "yellow"
    )


def test_escalating_an_incident_keeps_its_resolution_clock(client, world, frozen):
    """An overdue incident stays overdue when escalated, and is in the overdue list."""
    # Simple incident reported Mon 2025-03-03: 1 day → Tue 03-04.
    frozen(at("2025-03-03"))
    created = report(client, world["mediator@village"], "incident", complexity="simple")
    number = created.get_json()["number"]
    assert created.get_json()["resolve_due"] == "2025-03-04"
    frozen(at("2025-03-06"))
    listed = client.get("/api/v1/cases?overdue=true", headers=bearer(world["official@town"]))
    assert number in [c["number"] for c in listed.get_json()["items"]]
    body = act(
        client, world["mediator@village"], number, "escalate", {"reason": "需镇级处置"}
    ).get_json()
    assert body["level"] == "town" and body["state"] == "reported"
    assert body["resolve_due"] == "2025-03-04" and body["warning"] == "red"
    listed = client.get("/api/v1/cases?overdue=true", headers=bearer(world["official@town"]))
    assert number in [c["number"] for c in listed.get_json()["items"]]


def test_year_warning_in_list_goes_when_entered_and_recomputed(client, world, frozen):
    """The 2027 warning shows in the list; entering 2027 recounts the clock on the timeline."""
    # Accepted Tue 2026-12-01: 60 days → Sat 2027-01-30 → Mon 02-01 (2027 by law: no change).
    frozen(at("2026-12-01"))
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    act(client, world["mediator@village"], number, "accept")
    listed = client.get("/api/v1/cases", headers=bearer(world["mediator@village"])).get_json()
    row = next(c for c in listed["items"] if c["number"] == number)
    assert "2027" in row["clock_warning"]
    # A test notice: Mon 1 Feb 2027 made a day off → the period rolls to Tue 02-02.
    entered = client.put(
        "/api/v1/holiday-years/2027",
        json={"holidays": ["2027-01-01", "2027-02-01"], "workdays": []},
        headers=bearer(world["admin@county"]),
    )
    assert entered.status_code == 200
    body = client.get(f"/api/v1/cases/{number}", headers=bearer(world["mediator@village"]))
    body = body.get_json()
    assert body["clock_warning"] is None and body["resolve_due"] == "2027-02-02"
    recount = [e for e in body["events"] if e["action"] == "recompute"]
    assert recount and recount[-1]["data"]["changes"]["resolve_due"] == ["2027-02-01", "2027-02-02"]


def test_year_warning_goes_when_the_clock_stops(client, world, frozen):
    """Withdrawing a case whose clock runs into 2027 takes its warning away."""
    frozen(at("2026-12-01"))
    number = report(client, world["mediator@village"], "petition").get_json()["number"]
    body = act(client, world["mediator@village"], number, "accept").get_json()
    assert "2027" in body["clock_warning"]
    body = act(client, world["mediator@village"], number, "withdraw", {"reason": "撤回"}).get_json()
    assert body["clock_warning"] is None


def test_objection_clock_is_in_the_policy(client, world):
    """The 5-working-day objection clock (信访工作条例 第二十三条) is a policy row."""
    rows = client.get("/api/v1/deadline-policies", headers=bearer(world["mediator@village"]))
    rules = {(r["kind"], r["clock"]): r for r in rows.get_json()}
    assert rules[("petition", "objection")]["days"] == 5
    assert rules[("petition", "objection")]["unit"] == "working_days"
    assert {r["warn_percent"] for r in rows.get_json()} == {20}


def test_policy_and_calendar_cache_follows_every_change(world):
    """The per-process snapshot (app/deadlines/snapshot.py) answers as the tables do: one
    statement when cached; a plain UPDATE, an entered year and a rolled-back change are seen
    by the very next read."""
    statements = []
    first = deadline_policy.current()
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert deadline_policy.current() is first
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(statements) == 1  # the version only
    plain = snapshot.load(first.version)
    assert (first.rules, first.calendar) == (plain.rules, plain.calendar)
    days = first.spec("dispute", "village", deadline_policy.ACCEPT)["days"]
    db.session.execute(
        text(
            "UPDATE deadline_policies SET days = days + 1"
            " WHERE kind = 'dispute' AND clock = 'accept'"
        )
    )
    assert deadline_policy.spec("dispute", "village", deadline_policy.ACCEPT)["days"] == days + 1
    assert not years.calendar().covers(2031)
    inner = db.session.begin_nested()
    years.save_holiday_year(2031, ["2031-01-01"], [], None, world["admin@county"])
    assert years.calendar().covers(2031)
    inside = deadline_policy.current().version
    inner.rollback()
    after = deadline_policy.current()
    assert not after.calendar.covers(2031) and after.version != inside
    assert after.spec("dispute", "village", deadline_policy.ACCEPT)["days"] == days + 1
