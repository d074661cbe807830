"""Measures (GET /api/v1/metrics) on a small hand-built set whose answers are worked out here.

The set, all in 甲镇 (times 10:00 Asia/Shanghai, 2026; a dispute's resolution clock is set to
5 days so that a late resolution fits in March):

- A dispute, village: report 3-02, accept 3-03, agreement 3-05, 满意 3-06, close 3-07.
- B dispute, village: report 3-02, accept 3-12 (late), failed 3-13, 基本满意 3-14, close 3-15.
- C dispute: report 3-03, up to the town 3-04, accept 3-05, referred 3-10 (its last day),
  不满意 3-11, close 3-12.
- D dispute: report 3-04, town 3-05, county 3-06, accept 3-20 (late), agreement 3-27 (late),
  满意 3-28, close 3-29.
- E petition, village: report 3-10, never accepted; 黄牌 督办 3-11.
- F dispute, village: report 3-11, rejected 3-12 (on time).
- G dispute, village: report 2-20, accept 2-21, agreement 2-25, 满意 3-01, close 3-02.
- I dispute in 西村, village level: report 3-05, never accepted.
- J dispute, village: report 3-16, accept and start 3-17 (resolution due 3-23).
- H dispute, village: report 4-05.
- X dispute in the other county: report 3-05.

"Now" for the measures is 2026-04-25. The set is built once for the module (`module_story`),
each test reading it in a SAVEPOINT; the measures' rules on cases of a test's own (access, bad
parameters, Shanghai days, review cases) are tests/cases/test_metrics_rules.py's.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy import update

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.cases.models import FollowUp
from app.core import clock as core_clock
from app.deadlines.models import DeadlinePolicy
from app.extensions import db
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import act
from tests.cases.factories import report
from tests.conftest import bind_session
from tests.factories import COUNTY
from tests.factories import OTHER_COUNTY
from tests.factories import bearer
from tests.geo.factories import TOWN
from tests.geo.factories import TOWN_B
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


SHANGHAI = ZoneInfo("Asia/Shanghai")
AGREEMENT = {
    "facts": "楼上漏水",
    "responsibilities": "楼上负责维修",
    "terms": "七日内修复并赔偿 500 元",
    "performance_method": "现金",
    "performance_due": "2026-04-30",
    "signed_on": "2026-03-05",
    "signed_by_parties": True,
    "signed_by_mediator": True,
}
RESOLVE = {
    "agreement": {"outcome": "agreement", "note": "调解成功", "agreement": AGREEMENT},
    "failed": {"outcome": "failed", "note": "调解不成", "routes_informed": ["诉讼"]},
    "referred": {"outcome": "referred", "note": "转法院"},
}


class Clock:
    """Controls `clock.now` and `clock.today` (10:00 Asia/Shanghai on a day of 2026)."""

    def __init__(self, monkeypatch):
        self.moment = dt.datetime(2026, 3, 1, 10, tzinfo=SHANGHAI)
        monkeypatch.setattr(core_clock, "now", lambda: self.moment.astimezone(dt.UTC))
        monkeypatch.setattr(core_clock, "today", lambda: self.moment.date())

    def at(self, month: int, day: int, hour: int = 10, minute: int = 0) -> None:
        """Move to a day (and time) of 2026."""
        self.moment = dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


class Story:
    """Reports and acts on cases at the clock's times."""

    def __init__(self, client, world, clock: Clock):
        self.client, self.world, self.clock = client, world, clock
        self.numbers: dict[str, str] = {}

    def report(self, name: str, day: tuple[int, int], by="grid_worker@village", kind="dispute"):
        """Report case `name` on a day."""
        self.clock.at(*day)
        overrides = {}
        if by == "mediator@town":
            overrides = {"level": "village", **POINT_VILLAGE_B}
        elif by == "outsider":
            overrides = POINT_OTHER_COUNTY
        response = report(self.client, self.world[by], kind, **overrides)
        assert response.status_code == 201, response.get_json()
        self.numbers[name] = response.get_json()["number"]

    def act(self, name: str, day: tuple[int, int], by: str, action: str, body=None) -> None:
        """Take an action on case `name` on a day."""
        self.clock.at(*day)
        number = self.numbers[name]
        if body and "agreement" in body:
            # Signed on the day it is recorded: an agreement is never signed in the future.
            signed = self.clock.moment.date().isoformat()
            body = {**body, "agreement": {**body["agreement"], "signed_on": signed}}
        response = act(self.client, self.world[by], number, action, body)
        assert response.status_code == 200, (name, action, response.get_json())
        if action == "follow_up":
            # follow_ups.at is the database's now(): put it on the story's day.
            case_id = select(Case.id).where(Case.number == number).scalar_subquery()
            db.session.execute(
                update(FollowUp)
                .where(FollowUp.case_id == case_id)
                .values(at=self.clock.moment)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """A controlled clock."""
    return Clock(monkeypatch)


@pytest.fixture(scope="module")
def module_story(app, module_world, module_connection, fsa_session) -> Story:
    """The set, built once in the module's transaction (tests/conftest.py, module_world).

    Every test here reads it and leaves it as it found it (its writes are a SAVEPOINT's).
    """
    bind_session(module_connection)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            return build_story(app.test_client(), module_world, Clock(monkeypatch))
    finally:
        db.session.remove()
        db.session = fsa_session


@pytest.fixture
def story(module_story, clock) -> Story:
    """The hand-built set of the module docstring; the clock on 2026-04-25."""
    clock.at(4, 25)
    return module_story


def build_story(client, world, clock: Clock) -> Story:
    """Report and act on the cases of the module docstring; the clock ends on 2026-04-25."""
    db.session.execute(
        update(DeadlinePolicy)
        .where(DeadlinePolicy.kind == "dispute", DeadlinePolicy.clock == "resolve")
        .values(days=5)
    )
    db.session.commit()
    s = Story(client, world, clock)
    mv, mt, mc, gw = "mediator@village", "mediator@town", "mediator@county", "grid_worker@village"
    reason = {"reason": "需上级协调"}

    s.report("A", (3, 2))
    s.act("A", (3, 3), mv, "accept")
    s.act("A", (3, 5), mv, "resolve", RESOLVE["agreement"])
    s.act("A", (3, 6), gw, "follow_up", {"method": "phone", "satisfaction": "satisfied"})
    s.act("A", (3, 7), mv, "close")

    s.report("B", (3, 2))
    s.act("B", (3, 12), mv, "accept")
    s.act("B", (3, 13), mv, "resolve", RESOLVE["failed"])
    s.act("B", (3, 14), gw, "follow_up", {"method": "visit", "satisfaction": "basically_satisfied"})
    s.act("B", (3, 15), mv, "close")

    s.report("C", (3, 3))
    s.act("C", (3, 4), mv, "escalate", reason)
    s.act("C", (3, 5), mt, "accept")
    s.act("C", (3, 10), mt, "resolve", RESOLVE["referred"])
    s.act("C", (3, 11), gw, "follow_up", {"method": "phone", "satisfaction": "dissatisfied"})
    s.act("C", (3, 12), mt, "close")

    s.report("D", (3, 4))
    s.act("D", (3, 5), mv, "escalate", reason)
    s.act("D", (3, 6), mt, "escalate", reason)
    s.act("D", (3, 20), mc, "accept")
    s.act("D", (3, 27), mc, "resolve", RESOLVE["agreement"])
    s.act("D", (3, 28), gw, "follow_up", {"method": "online", "satisfaction": "satisfied"})
    s.act("D", (3, 29), mc, "close")

    s.report("E", (3, 10), kind="petition")
    s.act("E", (3, 11), "official@town", "supervise", {"supervision": "yellow", "note": "尽快"})

    s.report("F", (3, 11))
    s.act("F", (3, 12), mv, "reject", {"reason": "不属于调解范围"})

    s.report("G", (2, 20))
    s.act("G", (2, 21), mv, "accept")
    s.act("G", (2, 25), mv, "resolve", RESOLVE["agreement"])
    s.act("G", (3, 1), gw, "follow_up", {"method": "phone", "satisfaction": "satisfied"})
    s.act("G", (3, 2), mv, "close")

    s.report("I", (3, 5), by="mediator@town")

    s.report("J", (3, 16))
    s.act("J", (3, 17), mv, "accept")
    s.act("J", (3, 17), mv, "start")

    s.report("H", (4, 5))
    s.report("X", (3, 5), by="outsider")

    clock.at(4, 25)
    return s


def metrics(client, user, **params):
    """GET /api/v1/metrics as `user`."""
    return client.get("/api/v1/metrics", query_string=params, headers=bearer(user))


def ratio(numerator: int, denominator: int, rate: float | None) -> dict:
    """The expected shape of a ratio."""
    return {"numerator": numerator, "denominator": denominator, "rate": rate}


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def test_every_measure_for_the_town_in_march(client, world, story):
    """Each measure of DOMAIN.md §6 matches the count worked out by hand."""
    response = metrics(client, world["official@town"], **MARCH)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["region"] == {"code": TOWN, "name": "甲镇", "level": "town"}
    assert body["period"] == {"from": "2026-03-01", "to": "2026-03-31", "timezone": "Asia/Shanghai"}
    m = body["measures"]
    # closed in March, born in the village: A, B, C, D, G; never left it: A, B, G
    assert m["village_retention"] == ratio(3, 5, 0.6)
    # of the same five, only D reached the county
    assert m["town_retention"] == ratio(4, 5, 0.8)
    # reported in March: A, B, C, D, E, F, I, J (not G: February; not H: April; not X)
    assert m["county_share"] == ratio(1, 8, 0.125)
    # decided in March: A ✓, B ✗, C ✓ (at town), D ✗ (at county), F ✓ (rejected), J ✓
    assert m["on_time_acceptance"] == ratio(4, 6, 0.6667)
    # resolved in March: A ✓, B ✓, C ✓ (on its last day), D ✗
    assert m["on_time_resolution"] == ratio(3, 4, 0.75)
    # disputes resolved in March: A and D agreement, B failed, C referred
    assert m["success_rate"] == ratio(2, 4, 0.5)
    # follow-ups in March: G, A, D 满意; B 基本满意; C 不满意
    assert m["satisfaction"] == {
        **ratio(4, 5, 0.8),
        "satisfied": 3,
        "basically_satisfied": 1,
        "dissatisfied": 1,
    }
    # as of 2026-04-25: open E, I, J, H; overdue for acceptance E (due 3-25), I (3-09),
    # H (4-08); overdue in progress J (3-23); E under a yellow card
    assert m["backlog"] == {
        "open": 4,
        "overdue_acceptance": 3,
        "overdue_in_progress": 1,
        "supervised": 1,
        "supervised_by_colour": {"normal": 0, "yellow": 1, "red": 0},
    }
    # accepted in March: A 1, B 10, C 2, D 16, J 1 days → median 2
    # resolved in March: A 2, B 1, C 5, D 7 days after acceptance → median 3.5
    assert m["speed"] == {
        "report_to_acceptance": {"median_days": 2.0, "count": 5},
        "acceptance_to_resolution": {"median_days": 3.5, "count": 4},
    }
    assert m["risk"] is None
    # the boundaries the comments rely on
    due = dict(db.session.execute(select(Case.number, Case.resolve_due)).all())
    assert due[story.numbers["C"]] == dt.date(2026, 3, 10)  # resolved on 3-10: on time
    assert due[story.numbers["D"]] == dt.date(2026, 3, 25)  # resolved on 3-27: late
    assert body["trend"] == [
        {
            "month": "2026-03",
            "from": "2026-03-01",
            "to": "2026-03-31",
            "reported": 8,
            "closed": 5,
            "village_retention": ratio(3, 5, 0.6),
        }
    ]


def test_the_compiled_answer_is_marshmallows(client, world, story, monkeypatch):
    """The measures are dumped by app/core/dump.py: byte for byte marshmallow's own dump."""
    from app.cases import reports

    for user in ("official@town", "official@county"):
        fast = metrics(client, world[user], **MARCH)
        with monkeypatch.context() as m:
            m.setattr(reports, "dump", lambda schema, obj: schema.dump(obj))
            plain = metrics(client, world[user], **MARCH)
        assert fast.status_code == plain.status_code == 200
        assert fast.get_json()["breakdown"]["items"]
        assert fast.data == plain.data


def test_breakdown_by_village_adds_up(client, world, story):
    """The town's table has a row per village; 西村 holds I, 东村 the rest."""
    body = metrics(client, world["official@town"], **MARCH).get_json()
    breakdown = body["breakdown"]
    assert breakdown["level"] == "village"
    rows = {item["code"]: item for item in breakdown["items"]}
    assert list(rows) == [VILLAGE, VILLAGE_B]
    east, west = rows[VILLAGE], rows[VILLAGE_B]
    assert (east["name"], west["name"]) == ("东村", "西村")
    assert east["measures"]["county_share"] == ratio(1, 7, 0.1429)
    assert west["measures"]["county_share"] == ratio(0, 1, 0.0)
    assert east["measures"]["village_retention"] == ratio(3, 5, 0.6)
    assert west["measures"]["village_retention"] == ratio(0, 0, None)
    assert east["measures"]["backlog"]["open"] == 3
    assert east["measures"]["backlog"]["overdue_acceptance"] == 2
    assert east["measures"]["backlog"]["overdue_in_progress"] == 1
    assert east["measures"]["backlog"]["supervised"] == 1
    assert west["measures"]["backlog"]["open"] == 1
    assert west["measures"]["backlog"]["overdue_acceptance"] == 1
    assert east["measures"]["satisfaction"]["denominator"] == 5
    assert west["measures"]["speed"]["report_to_acceptance"] == {"median_days": None, "count": 0}
    assert "risk" not in east["measures"]


def test_two_months_give_a_monthly_trend(client, world, story):
    """February and March: G counts in February's reports; each month clipped to the period."""
    body = metrics(client, world["official@town"], **{"from": "2026-02-01", "to": "2026-03-31"})
    body = body.get_json()
    assert body["measures"]["county_share"] == ratio(1, 9, 0.1111)
    # G was accepted (on time) on 2-21
    assert body["measures"]["on_time_acceptance"] == ratio(5, 7, 0.7143)
    assert [(t["month"], t["reported"], t["closed"]) for t in body["trend"]] == [
        ("2026-02", 1, 0),
        ("2026-03", 8, 5),
    ]
    assert body["trend"][0]["village_retention"] == ratio(0, 0, None)
    assert (body["trend"][0]["from"], body["trend"][0]["to"]) == ("2026-02-01", "2026-02-28")


def test_default_period_is_the_last_30_days(client, world, story):
    """Without from/to: 3-27 to 4-25; only D (resolved 3-27, closed 3-29) and H fall in it."""
    body = metrics(client, world["official@town"]).get_json()
    assert body["period"]["from"] == "2026-03-27"
    assert body["period"]["to"] == "2026-04-25"
    m = body["measures"]
    assert m["county_share"] == ratio(0, 1, 0.0)  # H
    assert m["village_retention"] == ratio(0, 1, 0.0)  # D left the village
    assert m["town_retention"] == ratio(0, 1, 0.0)
    assert m["on_time_resolution"] == ratio(0, 1, 0.0)
    assert m["success_rate"] == ratio(1, 1, 1.0)
    assert m["satisfaction"]["denominator"] == 1
    assert m["on_time_acceptance"] == ratio(0, 0, None)
    assert [
        (t["month"], t["from"], t["to"], t["reported"], t["closed"]) for t in body["trend"]
    ] == [
        ("2026-03", "2026-03-27", "2026-03-31", 0, 1),
        ("2026-04", "2026-04-01", "2026-04-25", 1, 0),
    ]


def test_kind_filter(client, world, story):
    """kind=petition: only E counts."""
    body = metrics(client, world["official@town"], kind="petition", **MARCH).get_json()
    assert body["kind"] == "petition"
    assert body["measures"]["county_share"] == ratio(0, 1, 0.0)
    assert body["measures"]["backlog"]["open"] == 1
    assert body["measures"]["success_rate"] == ratio(0, 0, None)


def test_village_official_sees_only_their_village(client, world, story):
    """东村's official: I (西村) is not counted; the table is by grid cell, empty cells too."""
    body = metrics(client, world["official@village"], **MARCH).get_json()
    assert body["region"]["code"] == VILLAGE
    assert body["measures"]["county_share"] == ratio(1, 7, 0.1429)
    assert body["measures"]["backlog"]["open"] == 3
    assert body["breakdown"]["level"] == "grid_cell"
    cells = {item["code"]: item["measures"] for item in body["breakdown"]["items"]}
    assert list(cells) == [f"{VILLAGE}001", f"{VILLAGE}002"]
    assert cells[f"{VILLAGE}001"]["county_share"] == ratio(1, 7, 0.1429)
    assert cells[f"{VILLAGE}002"]["county_share"] == ratio(0, 0, None)


def test_county_totals_never_count_the_other_county(client, world, story):
    """The county's official: X (other county) never counts; 乙镇 shows with zeros."""
    body = metrics(client, world["official@county"], **MARCH).get_json()
    assert body["region"]["code"] == COUNTY
    assert body["measures"]["county_share"] == ratio(1, 8, 0.125)
    assert body["measures"]["backlog"]["open"] == 4
    assert body["breakdown"]["level"] == "town"
    towns = {item["code"]: item for item in body["breakdown"]["items"]}
    assert list(towns) == [TOWN, TOWN_B]
    assert towns[TOWN_B]["name"] == "乙镇"
    assert towns[TOWN_B]["measures"]["backlog"]["open"] == 0
    assert "371698" not in str(body)


@pytest.mark.parametrize(
    ("user", "region"),
    [
        ("official@village", TOWN),  # the town above the caller's village
        ("official@town", "371699102200"),  # 南村, in the other town
        ("official@county", OTHER_COUNTY),
    ],
)
def test_region_outside_scope_is_404_like_unknown(client, world, story, user, region):
    """A region outside the caller's scope answers exactly like a region that does not exist."""
    outside = metrics(client, world[user], region=region, **MARCH)
    unknown = metrics(client, world[user], region="371699999999", **MARCH)
    assert outside.status_code == unknown.status_code == 404
    assert outside.get_json() == unknown.get_json()
    denied = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "metrics.read", AuditEntry.object_id == region
        )
    ).all()
    assert [entry.outcome for entry in denied] == ["denied"]


def test_region_inside_scope(client, world, story):
    """The county's official may look at one village of it."""
    body = metrics(client, world["official@county"], region=VILLAGE_B, **MARCH).get_json()
    assert body["region"]["code"] == VILLAGE_B
    assert body["measures"]["county_share"] == ratio(0, 1, 0.0)
    assert [item["code"] for item in body["breakdown"]["items"]] == [f"{VILLAGE_B}001"]
