"""研判预警 (docs/warnings.md): raised once with its explanation, told, mapped, scoped, handled."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.cases.models import Case
from app.core import clock
from app.core import fast
from app.extensions import db
from app.geo.models import Region
from app.notify import services as notify_services
from app.notify.models import Notification
from app.notify.models import SmsMessage
from app.risks import services as risk_services
from app.risks.models import RiskPoint
from app.warnings import services
from app.warnings.models import EarlyWarning
from app.warnings.models import WarningRule
from app.warnings.queries import counts
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import report
from tests.factories import OTHER_TOWN
from tests.factories import bearer
from tests.factories import make_user
from tests.factories import statements
from tests.risks.factories import make_point
from tests.warnings.factories import case_id
from tests.warnings.factories import old_case
from tests.warnings.factories import scan
from tests.warnings.factories import warnings_of


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


LABOUR = {"category": "劳资", "title": "工地拖欠工资", "parties": []}


def told(event: str) -> list[int]:
    """Who got a notification of this event, in order."""
    return list(
        db.session.scalars(
            select(Notification.user_id)
            .where(Notification.event == event)
            .order_by(Notification.id)
        )
    )


def test_five_labour_cases_in_a_cell_raise_one_hotspot(client, world):
    """Five 劳资 cases in one cell within three days, against a baseline of three in the past
    year: one hotspot warning with its explanation, in the village official's inbox and on the
    map; the job was queued by each report; a sixth updates the warning and raises no second."""
    worker = world["grid_worker@village"]
    for days_ago in (40, 120, 250):
        old_case(worker, days_ago, **LABOUR)
    numbers = []
    for _ in range(5):
        answer = report(client, worker, **LABOUR)
        assert answer.status_code == 201, answer.get_json()
        numbers.append(answer.get_json()["number"])
        scan(numbers[-1])
    queued = db.session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'warnings.scan_case'"
            " AND (args->>'case_id')::int = ANY(:ids)"
        ),
        {"ids": [case_id(n) for n in numbers]},
    )
    assert queued == 5

    [hot] = warnings_of("hotspot")
    assert hot.explanation == "甲镇东村第1网格 劳资：近 14 天 5 件，按过去 12 个月应约 0.1 件"
    assert (hot.observed, hot.level, hot.state) == (5, "village", "open")
    assert hot.p_value < 0.01 and 0.11 < hot.expected < 0.12
    assert hot.region_code == "371699101200001" and hot.category == "劳资"
    assert told("warning_raised") == [world.user_ids["official@village"]]

    headers = bearer(world["official@town"])
    layer = client.get("/api/v1/warnings.geojson", headers=headers)
    assert layer.status_code == 200 and layer.mimetype == "application/geo+json"
    [feature] = layer.get_json()["features"]
    assert feature["properties"]["explanation"] == hot.explanation
    lon, lat = feature["geometry"]["coordinates"]
    assert 118.0 < lon < 118.025 and 37.3 < lat < 37.35  # inside cell …001

    sixth = report(client, worker, **LABOUR).get_json()["number"]
    outcome = scan(sixth)
    assert outcome.raised == [] and outcome.updated == [hot.id]
    assert db.session.scalar(select(func.count()).select_from(EarlyWarning)) == 1
    db.session.expire_all()
    hot = db.session.get(EarlyWarning, hot.id)
    assert hot.observed == 6 and len(hot.case_ids) == 6
    assert "近 14 天 6 件" in hot.explanation
    assert told("warning_raised") == [world.user_ids["official@village"]]  # told once
    assert scan(sixth).updated == []  # a rescan changes nothing

    # Handled: the six are spent; the same key warns again only on three new ones.
    hot_id, version = hot.id, hot.version
    done = client.post(
        f"/api/v1/warnings/{hot_id}/actions/handle",
        json={"version": version, "note": "已约谈包工头，工资三日内结清"},
        headers=bearer(world["official@village"]),
    )
    assert done.status_code == 200, done.get_json()
    seventh = report(client, worker, **LABOUR).get_json()["number"]
    assert scan(seventh).raised == []


def test_repeat_party_bypass_and_group(client, world):
    """The same person (by ID number) in three cases in a year warns once; a county-level
    report brought by a resident is 越级; a 集体访 is a group matter told to the town."""
    worker = world["grid_worker@village"]
    old_case(worker, 200, category="邻里")
    old_case(worker, 100, category="婚姻家庭")
    # Both older cases are still open: the new one is "a new case while another is open" too.
    number = report(client, worker).get_json()["number"]
    outcome = scan(number)
    [repeat] = warnings_of("repeat_party")
    assert outcome.raised[0] == repeat.id
    assert repeat.observed == 3 and repeat.party_hash and len(repeat.case_ids) == 3
    assert "同一当事人（按身份证号比对）近 12 个月 3 件事件" in repeat.explanation
    assert "另有 2 件在办时又有新事件" in repeat.explanation
    assert "张三" not in repeat.explanation and "110101" not in repeat.explanation
    assert scan(number).raised == []

    county = world["official@county"]
    up = report(client, county, source="visit", parties=[], title="到县里反映征地补偿")
    assert up.status_code == 201, up.get_json()
    scan(up.get_json()["number"])
    [bypass] = warnings_of("bypass")
    assert bypass.explanation.startswith("甲镇东村 越级：")
    assert "首次在县级上报，未经村、镇两级" in bypass.explanation
    assert told("warning_raised")[-1:] == [world.user_ids["official@town"]]

    visit = report(client, worker, group_visit=True, title="村民集体反映土地承包").get_json()
    scan(visit["number"])
    [group] = warnings_of("group")
    assert group.level == "town" and "集体访" in group.explanation


def test_risk_point_warnings(client, world):
    """Three abnormal inspections in a row warn; a red point's overdue inspection warns (once)."""
    worker = world["grid_worker@village"]
    point = make_point(worker)
    for _ in range(3):
        risk_services.record_inspection(point, worker, {"result": "abnormal", "notes": "隐患未改"})
    queued = db.session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'warnings.scan_risk_point'"
            " AND (args->>'point_id')::int = :id"
        ),
        {"id": point.id},
    )
    assert queued == 3  # one job per inspection, in its transaction
    red = make_point(worker, level="red", name="东村加油站")
    db.session.execute(
        text("UPDATE risk_points SET next_due = :d WHERE id = :id"),
        {"d": clock.today() - dt.timedelta(days=3), "id": red.id},
    )
    db.session.commit()
    db.session.expire_all()
    outcome = services.scan_risk_points()
    db.session.commit()
    assert len(outcome.raised) == 2
    abnormal, overdue = warnings_of("risk_point")
    assert abnormal.risk_point_id == point.id and "连续 3 次排查异常" in abnormal.explanation
    assert overdue.level == "town" and "排查已逾期 3 天" in overdue.explanation
    assert db.session.get(RiskPoint, red.id).level == "red"
    again = services.scan_risk_points()
    assert again.raised == [] and again.updated == []


def test_scope_actions_and_versions(client, world):
    """Another town's official sees nothing; acknowledge and handle need the version (428),
    refuse a stale one (409) and a handled warning (409); handling needs a note (422)."""
    worker = world["grid_worker@village"]
    number = report(client, worker, group_visit=True, parties=[]).get_json()["number"]
    scan(number)
    [warning] = warnings_of("group")
    wid = warning.id
    outside = client.get(f"/api/v1/warnings/{wid}", headers=bearer(world["outsider-admin"]))
    assert outside.status_code == 403  # admins do not read warnings
    stranger = make_user("other-town-official", "official", OTHER_TOWN)
    theirs = bearer(stranger)
    assert client.get("/api/v1/warnings", headers=theirs).get_json()["items"] == []
    assert client.get(f"/api/v1/warnings/{wid}", headers=theirs).status_code == 404
    layer = client.get("/api/v1/warnings.geojson", headers=theirs).get_json()
    assert layer["features"] == []

    mine = bearer(world["official@town"])
    listed = client.get("/api/v1/warnings?kind=group&state=open", headers=mine).get_json()
    assert [w["id"] for w in listed["items"]] == [wid]
    one = client.get(f"/api/v1/warnings/{wid}", headers=mine)
    assert one.headers["ETag"] == '"1"' and one.get_json()["case_numbers"] == [number]
    path = f"/api/v1/warnings/{wid}/actions"
    assert client.post(f"{path}/acknowledge", json={}, headers=mine).status_code == 428
    stale = client.post(f"{path}/acknowledge", json={"version": 7}, headers=mine)
    assert stale.status_code == 409 and stale.get_json()["errors"]["version"]["current"] == 1
    ack = client.post(f"{path}/acknowledge", json={"version": 1}, headers=mine)
    assert ack.status_code == 200 and ack.get_json()["state"] == "acknowledged"
    assert client.post(f"{path}/acknowledge", json={"version": 2}, headers=mine).status_code == 409
    no_note = client.post(f"{path}/handle", json={"version": 2}, headers=mine)
    assert no_note.status_code == 422 and "note" in no_note.get_json()["errors"]["json"]
    done = client.post(f"{path}/handle", json={"version": 2, "note": "已化解"}, headers=mine)
    assert done.status_code == 200 and done.get_json()["state"] == "handled"
    again = client.post(f"{path}/handle", json={"version": 3, "note": "再处置"}, headers=mine)
    assert again.status_code == 409
    db.session.expire_all()
    row = db.session.get(EarlyWarning, wid)
    assert (row.state, row.note, row.handled_by_id) == (
        "handled",
        "已化解",
        world.user_ids["official@town"],
    )
    # Mediators read but do not act.
    mediator = bearer(world["mediator@town"])
    assert client.get(f"/api/v1/warnings/{wid}", headers=mediator).status_code == 200
    assert (
        client.post(f"{path}/acknowledge", json={"version": 3}, headers=mediator).status_code == 403
    )
    assert report(client, world["outsider"], **POINT_OTHER_COUNTY).status_code == 201


def test_rule_edit_changes_the_threshold(client, world):
    """An admin raises the group threshold: version required, stale 409, a bad key 422 naming
    it; afterwards five people no longer warn, and switching the rule off stops it."""
    admin = bearer(world["admin@county"])
    rules = client.get("/api/v1/warning-rules", headers=admin).get_json()
    group = next(r for r in rules if r["kind"] == "group")
    assert group["params"] == {"min_people": 5, "group_visit": True} and group["version"] == 1
    path = "/api/v1/warning-rules/group"
    assert client.put(path, json={"params": {"min_people": 8}}, headers=admin).status_code == 428
    assert client.put(path, json={"version": 4, "enabled": False}, headers=admin).status_code == 409
    bad = client.put(path, json={"version": 1, "params": {"min_pople": 8}}, headers=admin)
    assert bad.status_code == 422
    assert "min_pople" in bad.get_json()["errors"]["json"]["params"]
    wrong = client.put(path, json={"version": 1, "params": {"min_people": "8"}}, headers=admin)
    assert wrong.status_code == 422 and "min_people" in wrong.get_json()["errors"]["json"]["params"]
    ok = client.put(path, json={"version": 1, "params": {"min_people": 8}}, headers=admin)
    assert ok.status_code == 200 and ok.get_json()["params"]["min_people"] == 8
    assert ok.headers["ETag"] == '"2"'

    five = [{"role": "applicant", "name": f"村民{i}"} for i in range(5)]
    worker = world["grid_worker@village"]
    number = report(client, worker, parties=five, category="村(社)务管理").get_json()["number"]
    scan(number)
    assert warnings_of("group") == []
    client.put(path, json={"version": 2, "params": {"min_people": 5}}, headers=admin)
    off = client.put(path, json={"version": 3, "enabled": False}, headers=admin)
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    scan(number)
    assert warnings_of("group") == []
    assert (
        client.get("/api/v1/warning-rules", headers=bearer(world["official@town"])).status_code
        == 403
    )


def test_counts_for_the_briefing(client, world):
    """counts(region, start, end): raised, acknowledged, handled by kind in the region."""
    worker = world["grid_worker@village"]
    scan(report(client, worker, group_visit=True, parties=[]).get_json()["number"])
    town = db.session.scalar(select(Region.id).where(Region.code == "371699101000"))
    other = db.session.scalar(select(Region.id).where(Region.code == "371699102000"))
    today = clock.today()
    got = counts(town, today - dt.timedelta(days=7), today)
    assert got["group"] == {"raised": 1, "acknowledged": 0, "handled": 0}
    assert got["total"]["raised"] == 1 and got["hotspot"]["raised"] == 0
    assert counts(other, today, today)["total"]["raised"] == 0


def test_full_pass_command(client, world, runner):
    """`flask warnings scan` raises what no job has scanned yet, and a second pass nothing."""
    worker = world["grid_worker@village"]
    for _ in range(2):
        report(client, worker, group_visit=True, parties=[])
    first = runner.invoke(args=["warnings", "scan"])
    assert first.exit_code == 0 and "新预警 2 条" in first.output, first.output
    second = runner.invoke(args=["warnings", "scan"])
    assert "新预警 0 条，更新 0 条" in second.output
    layer = client.get(
        "/api/v1/warnings.geojson?limit=1000", headers=bearer(world["official@town"])
    )
    assert layer.status_code == 200 and len(layer.get_json()["features"]) == 2


def test_scan_statements(client, world):
    """A scan that raises nothing is one statement (the case, its evidence and the rules'
    version, prepared), two more when the process has no rules kept yet and the connection
    has not prepared it; a raised warning adds two (its INSERT, which reads whom to tell, and
    the inbox rows)."""
    worker = world["grid_worker@village"]
    quiet = [case_id(report(client, worker, **LABOUR).get_json()["number"]) for _ in range(2)]
    loud = case_id(report(client, worker, group_visit=True, parties=[]).get_json()["number"])
    db.session.execute(text("DEALLOCATE ALL"))  # as on a new connection
    fast.PREPARED.pop(db.session.connection().connection.dbapi_connection, None)
    with statements() as sent:
        assert services.scan_case(quiet[0]).raised == []
    assert len(sent) == 3, sent
    assert "JOIN warning_rules" in sent[0]
    assert sent[1].startswith("PREPARE gg_") and "WITH k AS MATERIALIZED" in sent[1]
    assert sent[2].startswith("EXECUTE gg_")
    with statements() as sent:
        assert services.scan_case(quiet[1]).raised == []
    assert len(sent) == 1, sent  # the rules kept at their version
    with statements() as sent:
        outcome = services.scan_case(loud)
    assert len(sent) == 3, sent
    db.session.commit()
    [group] = warnings_of("group")
    assert outcome.raised == [group.id] and outcome.updated == []
    assert (group.level, group.case_ids, group.observed) == ("town", [loud], 0)
    [note] = db.session.scalars(select(Notification).where(Notification.event == "warning_raised"))
    assert note.user_id == world.user_ids["official@town"]
    assert (note.title, note.body) == ("研判预警（群体性事件）", group.explanation)
    assert (note.link, note.dedup_key) == (f"/analysis?warning={group.id}", f"warning:{group.id}")
    with statements() as sent:
        assert services.scan_case(loud).raised == []  # the live key: found, nothing new
    assert len(sent) == 3, sent  # the evidence, the INSERT that skips, the live warning


def test_prepared_evidence_answers_what_the_plain_statement_answers(client, world, app):
    """EVIDENCE_SQL prepared (its generic plan from the sixth run on) reads for each case
    exactly what the statement planned for its values reads: cases of two categories, with
    parties, warnings raised on the way and a live cell hotspot about."""
    worker = world["grid_worker@village"]
    people = [{"role": "applicant", "name": "甲", "phone": "13800000011"}]
    for days_ago in (40, 120, 250):
        old_case(worker, days_ago, **LABOUR)
    ids = []
    for fields in [LABOUR] * 5 + [{"category": "邻里", "parties": people}] * 3:
        number = report(client, worker, **fields).get_json()["number"]
        ids.append(case_id(number))
        scan(number)  # warnings raised on the way: the later cases' evidence counts them
    _version, rules_p = services.scan_rules()

    def read(case):
        _case, ev = services.evidence(case, rules_p, set())
        return dict(ev.row._mapping)

    try:
        app.config["FAST_PATH_PREPARED"] = False
        plain = [read(case) for case in ids]
        app.config["FAST_PATH_PREPARED"] = True
        for _ in range(7):  # custom plans first, then the generic one
            assert [read(case) for case in ids] == plain
    finally:
        app.config["FAST_PATH_PREPARED"] = True
    assert {row["category"] for row in plain} == {"劳资", "邻里"}
    assert max(row["cell_observed"] for row in plain) >= 5
    assert any(row["parties"] for row in plain)


def test_a_rule_changed_counts_from_the_next_scan(client, world):
    """The rules are kept per process at their data version: a threshold an admin changes, or a
    rule switched off, counts from the very next scan of the same process."""
    admin = bearer(world["admin@county"])
    worker = world["grid_worker@village"]
    three = [{"role": "applicant", "name": f"村民{i}"} for i in range(3)]
    number = report(client, worker, parties=three, category="村(社)务管理").get_json()["number"]
    assert scan(number).raised == []  # three people: under min_people 5; the rules now kept
    kept = fast.kept(client.application, services.RULES)
    before = kept.version
    assert kept.get(before, services.RULES)["group"]["min_people"] == 5
    path = "/api/v1/warning-rules/group"
    ok = client.put(path, json={"version": 1, "params": {"min_people": 3}}, headers=admin)
    assert ok.status_code == 200, ok.get_json()
    scanned = case_id(number)
    with statements() as sent:
        outcome = services.scan_case(scanned)
    db.session.commit()
    # The evidence at the kept rules, whose version it finds changed: the rules, the evidence
    # again at them; then the warning raised (its INSERT, its inbox row).
    assert len(sent) == 5 and "JOIN warning_rules" in sent[1], sent
    [group] = warnings_of("group")
    assert outcome.raised == [group.id] and "涉及 3 名当事人" in group.explanation
    assert kept.version != before and kept.get(kept.version, services.RULES)["group"] == {
        "min_people": 3,
        "group_visit": True,
    }
    off = client.put(path, json={"version": 2, "enabled": False}, headers=admin)
    assert off.status_code == 200
    other = report(client, worker, parties=three, category="村(社)务管理").get_json()["number"]
    assert scan(other).raised == [] and len(warnings_of("group")) == 1


def test_a_rolled_back_rule_change_is_never_kept_for_another(world):
    """The rules' version comes from a sequence (migration 0033): the version of a change that
    rolled back, and the rules a scan kept at it, never stand for a later change."""
    admin = world["admin@county"]

    def version() -> int:
        return db.session.scalar(text(f"SELECT {fast.version_sql(services.RULES)}"))

    def group_rule() -> WarningRule:
        return db.session.scalar(select(WarningRule).where(WarningRule.kind == "group"))

    start = version()
    assert services.scan_rules(start)[1]["group"]["min_people"] == 5
    nested = db.session.begin_nested()
    services.update_rule(group_rule(), admin, {"params": {"min_people": 9}})
    seen = version()
    assert seen != start and services.scan_rules(seen)[1]["group"]["min_people"] == 9
    nested.rollback()
    assert version() == start
    services.update_rule(group_rule(), admin, {"params": {"min_people": 7}})
    after = version()
    assert after not in (start, seen)
    assert services.scan_rules(after)[1]["group"]["min_people"] == 7


def test_told_as_each_official_asked(client, world):
    """A raised warning tells the level's officials as their settings say: one who muted the
    event is not told, one who takes it by SMS gets the text message too."""
    muted = world["official@town"]
    second = make_user("second-official.town", "official", "371699101000")
    second.phone = "13800000009"
    no_quiet = {"quiet_from": None, "quiet_to": None}
    notify_services.save_preferences(
        muted.id, {"sms_events": [], "muted_events": ["warning_raised"], **no_quiet}
    )
    notify_services.save_preferences(
        second.id, {"sms_events": ["warning_raised"], "muted_events": [], **no_quiet}
    )
    db.session.commit()
    worker = world["grid_worker@village"]
    number = report(client, worker, group_visit=True, parties=[]).get_json()["number"]
    [warning_id] = scan(number).raised
    assert told("warning_raised") == [second.id]
    [sms] = db.session.scalars(select(SmsMessage))
    assert (sms.user_id, sms.phone, sms.scheduled_at) == (second.id, "13800000009", None)
    assert sms.text.startswith("【网格通】研判预警（群体性事件）：甲镇东村 集体访")
    note = db.session.get(Notification, sms.notification_id)
    assert note.dedup_key == f"warning:{warning_id}"


def test_a_pass_evaluates_each_unit_and_party_once(client, world):
    """Within a pass (`seen`), a cell, village or party hash is evaluated by the first of its
    cases: the same people in three cases raise one warning, and what the scans evaluated is
    marked seen (the hashes as compared: by ID number, else phone)."""
    worker = world["grid_worker@village"]
    ids = [case_id(report(client, worker).get_json()["number"]) for _ in range(3)]
    seen: set = set()
    outcome = services.Outcome()
    for scanned in ids:
        outcome.add(services.scan_case(scanned, seen))
    db.session.commit()
    [repeat] = warnings_of("repeat_party")
    assert repeat.id in outcome.raised and sorted(repeat.case_ids) == sorted(ids)
    assert "按身份证号比对" in repeat.explanation
    # 李四 (by phone) is in the same three cases: one warning for both (docs/warnings.md).
    hashes = {h for h in seen if isinstance(h, str)}
    assert repeat.party_hash in hashes and len(hashes) == 2  # 张三 by ID number, 李四 by phone
    case = db.session.get(Case, ids[0])
    assert {("cell", case.grid_cell_id, "邻里"), ("village", case.village_id, "邻里")} < seen
