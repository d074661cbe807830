"""Issue 14's closed loop in the browser: a 欠薪 report dispatched by the town centre to its 人社所,
signed, reported back with a photo, accepted, followed up and closed, with the inboxes and the SMS
sink receiving each step; a return and a re-dispatch; an unsigned dispatch turning red on time.

The tests run in file order; each journey makes its own case. The database is read directly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import urllib.request

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from app.config import sqlalchemy_url
from app.notify.models import EVENTS
from tests.browser.conftest import DESKTOP
from tests.browser.conftest import PHONE
from tests.browser.server import BIN
from tests.browser.server import DEMO_PASSWORD
from tests.browser.server import ROOT
from tests.browser.server import server_env
from tests.browser.server import submitted
from tests.browser.test_journeys import PNG
from tests.browser.test_journeys import fill_report

TOWN_LABOUR = "371699101-labour"  # 黄河镇人社所: the demo's routing table sends 劳资 there
TOWN_POLICE = "371699101-police"  # 黄河镇派出所
# Whose SMS the first journey follows: they take every event by SMS, without quiet hours.
TOKENS: dict[str, str] = {}
PARTICIPANTS = ("cun_wangge", "cun_tiaojie", "zhen_ganbu", "zhen_tiaojie", "zhen_renshe")


@pytest.fixture(scope="module")
def sql(live_server):
    """sql(statement, **params) -> rows, on the live server's database (committed at once)."""
    engine = create_engine(sqlalchemy_url(live_server[1]))

    def run(statement: str, **params):
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else None

    yield run
    engine.dispose()


def flask(database: str, *args: str, **env) -> str:
    """Run a flask command against the live server's database; its output."""
    done = subprocess.run(
        [str(BIN / "flask"), *args],
        cwd=ROOT,
        env={**server_env(database), **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def api(base: str, username: str, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON call as a demo user (a bearer token): set-up that is not the journey itself."""

    def call(method, path, body, headers):
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", **headers},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    if username not in TOKENS:  # one sign-in per user: the login is throttled
        TOKENS[username] = call(
            "POST", "/api/v1/auth/tokens", {"username": username, "password": DEMO_PASSWORD}, {}
        )["token"]
    return call(method, path, body, {"Authorization": f"Bearer {TOKENS[username]}"})


def town_case(base: str, sql, title: str) -> str:
    """A 劳资 dispute reported and accepted at 黄河镇's level by its centre (through the API)."""
    lon, lat = sql(
        "SELECT ST_X(p.geom), ST_Y(p.geom) FROM grid_cells g,"
        " LATERAL ST_Dump(ST_GeneratePoints(ST_Buffer(g.geom, -0.0003), 1, 7)) p"
        " WHERE g.code = '371699101200002'"
    )[0]
    case = api(
        base,
        "zhen_ganbu",
        "POST",
        "/api/v1/cases",
        {
            "kind": "dispute",
            "category": "劳资",
            "source": "visit",
            "level": "town",
            "title": title,
            "description": "务工人员反映工程款结算后工资仍未发放。",
            "lon": lon,
            "lat": lat,
            "parties": [{"role": "applicant", "name": "韩某", "phone": "13905390001"}],
        },
    )
    api(
        base,
        "zhen_ganbu",
        "POST",
        f"/api/v1/cases/{case['number']}/actions/accept",
        {"version": case["version"]},
    )
    return case["number"]


def user_id(sql, username: str) -> int:
    return sql("SELECT id FROM users WHERE username = :u", u=username)[0][0]


def unit_id(sql, code: str) -> int:
    return sql("SELECT id FROM departments WHERE code = :c", c=code)[0][0]


def told(sql, number: str) -> set[tuple[str, str]]:
    """(username, event) of every notification about the case."""
    return set(
        sql(
            "SELECT u.username, n.event FROM notifications n JOIN users u ON u.id = n.user_id"
            " JOIN cases c ON c.id = n.case_id WHERE c.number = :n",
            n=number,
        )
    )


def dispatches(sql, number: str) -> list[tuple]:
    """(id, unit code, state, round, warning) of the case's dispatches, oldest first."""
    return sql(
        "SELECT d.id, u.code, d.state, d.round, d.warning FROM dispatches d"
        " JOIN departments u ON u.id = d.department_id JOIN cases c ON c.id = d.case_id"
        " WHERE c.number = :n ORDER BY d.id",
        n=number,
    )


def open_case(page, base: str, number: str) -> None:
    page.goto(f"{base}/cases/{number}")
    page.wait_for_selector("h1")


def act(page, action: str, fill=None) -> None:
    """Open a case action's form on the case page, fill it, submit, wait for the flash."""
    page.click(f"#action-{action} summary")
    form = page.locator(f"#action-{action} form")
    if fill:
        fill(form)
    submitted(page, form.locator("button[type=submit]"))


def step(page, dispatch_id: int, action: str, fill=None) -> None:
    """A dispatch step from its form in the dispatch panel."""
    act(page, f"d{dispatch_id}-{action}", fill)


def dispatch_to(page, unit: int | None = None, instructions: str = "") -> None:
    """The centre's 分拨交办 form: the lead unit (the suggestion when None) and instructions."""
    form = page.locator("#action-dispatch form")
    if not page.locator("#action-dispatch[open]").count():
        page.click("#action-dispatch summary")
    if unit is not None:
        form.locator("select[name=lead_department_id]").select_option(str(unit))
    form.locator("textarea[name=instructions]").fill(instructions)
    submitted(page, form.locator("button[type=submit]"))


def state_badge(page) -> str:
    return page.text_content("h1 + p .badge-state").strip()


def test_wages_case_runs_the_closed_loop(open_as, live_server, sql):
    """欠薪: reported on a phone → 提级 to the town → accepted and dispatched to the suggested
    人社所 → signed, reported back with a photo → 核查通过 → 回访 → 归档; the inboxes and the SMS
    sink receive each step."""
    base, database = live_server
    everything = "{" + ",".join(EVENTS) + "}"
    for username in PARTICIPANTS:
        sql(
            "INSERT INTO notification_settings (user_id, sms_events, quiet_from, quiet_to)"
            " VALUES (:u, CAST(:e AS varchar[]), NULL, NULL) ON CONFLICT (user_id) DO UPDATE"
            " SET sms_events = excluded.sms_events, quiet_from = NULL, quiet_to = NULL",
            u=user_id(sql, username),
            e=everything,
        )
    sink_before = sql("SELECT coalesce(max(id), 0) FROM sms_sink")[0][0]

    # The grid worker reports the unpaid wages on the phone.
    page = open_as("cun_wangge", PHONE)
    fill_report(page, base, "工地拖欠工资（分拨测试）")
    page.select_option("#category", "劳资")
    page.fill("#description", "六名务工人员反映工地拖欠三个月工资。")
    page.click("#submit-report")
    page.wait_for_selector("#placed.ok >> text=已提交")
    number = re.search(r"\d{6}-\d{4}-\d{6}", page.text_content("#placed")).group(0)

    # The village mediator escalates it to the town's centre.
    page = open_as("cun_tiaojie", PHONE)
    open_case(page, base, number)
    act(
        page,
        "escalate",
        lambda f: f.locator("textarea[name=reason]").fill("欠薪涉及劳动监察，村级无法处理"),
    )
    assert "镇级" in page.text_content("h1 + p")
    assert {("zhen_ganbu", "case_assigned"), ("zhen_tiaojie", "case_assigned")} <= told(sql, number)
    assert ("cun_wangge", "case_escalated") in told(sql, number)

    # The town centre accepts it; the dispatch form suggests 黄河镇人社所 from the routing table.
    centre = open_as("zhen_ganbu", DESKTOP)
    open_case(centre, base, number)
    act(centre, "accept")
    labour = unit_id(sql, TOWN_LABOUR)
    lead = centre.locator("#action-dispatch select[name=lead_department_id]")
    assert lead.input_value() == str(labour)
    assert "黄河镇人社所" in centre.text_content("#dispatch-suggestion")
    dispatch_to(centre, instructions="请核实欠薪人数和金额，督促企业支付")
    ((did, code, state, round_, _w),) = dispatches(sql, number)
    assert (code, state, round_) == (TOWN_LABOUR, "sent", 1)
    assert centre.get_attribute(f"#dispatch-{did}", "data-state") == "sent"
    assert ("zhen_renshe", "dispatch_received") in told(sql, number)

    # The unit's staff find it in 我的待办, sign for it and report back with a photo (phone).
    unit = open_as("zhen_renshe", PHONE)
    unit.goto(f"{base}/tasks")
    unit.click(f"tr[data-task='dispatch:sign'] a[href='/cases/{number}']")
    unit.wait_for_url(f"{base}/cases/{number}")
    step(unit, did, "sign")
    assert unit.get_attribute(f"#dispatch-{did}", "data-state") == "signed"

    def report(form):
        form.locator("textarea[name=note]").fill("已约谈企业负责人，拖欠工资 8.6 万元已全部发放")
        form.locator("input[name=photos]").set_input_files(
            files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}]
        )

    step(unit, did, "report", report)
    assert unit.get_attribute(f"#dispatch-{did}", "data-state") == "reported"
    assert "receipt.png" in unit.text_content(f"#dispatch-{did}")
    assert dispatches(sql, number)[0][2] == "reported"
    assert (
        sql(
            "SELECT count(*) FROM attachments WHERE owner_type = 'dispatch' AND owner_id = :d",
            d=did,
        )[0][0]
        == 1
    )
    assert ("zhen_ganbu", "dispatch_reported") in told(sql, number)

    # The centre accepts the report (核查通过): the case is resolved.
    centre.reload()
    step(
        centre, did, "accept", lambda f: f.locator("select[name=outcome]").select_option("referred")
    )
    assert state_badge(centre) == "已办结"
    assert centre.get_attribute(f"#dispatch-{did}", "data-state") == "accepted"
    assert dispatches(sql, number)[0][2] == "accepted"
    assert ("zhen_renshe", "dispatch_accepted") in told(sql, number)

    # The village mediator follows up (回访); the town mediator closes it (归档).
    page.reload()

    def follow_up(form):
        form.locator("select[name=method]").select_option("phone")
        form.locator("select[name=satisfaction]").select_option("satisfied")

    act(page, "follow_up", follow_up)
    assert state_badge(page) == "已回访"
    closer = open_as("zhen_tiaojie", DESKTOP)
    open_case(closer, base, number)
    act(closer, "close")
    assert state_badge(closer) == "已归档"
    assert sql("SELECT state FROM cases WHERE number = :n", n=number)[0][0] == "closed"

    # Every notification of the journey's people went by SMS once, to their own phone.
    flask(database, "notify", "deliver", "--once")
    expected = sql(
        "SELECT u.phone, n.title FROM notifications n JOIN users u ON u.id = n.user_id"
        " JOIN cases c ON c.id = n.case_id WHERE c.number = :n AND u.username = ANY(:people)"
        " ORDER BY n.id",
        n=number,
        people=list(PARTICIPANTS),
    )
    sunk = sql(
        "SELECT s.phone, s.text FROM sms_sink s WHERE s.id > :after ORDER BY s.message_id",
        after=sink_before,
    )
    mine = [(phone, body) for phone, body in sunk if number in body]
    assert len(mine) == len(expected) >= 6
    assert sorted(p for p, _ in mine) == sorted(p for p, _ in expected)
    assert all(body.startswith("【网格通】") for _, body in mine)
    renshe_phone = sql("SELECT phone FROM users WHERE username = 'zhen_renshe'")[0][0]
    assert any(p == renshe_phone for p, _ in mine)
    # Delivered once: a second run sends nothing more.
    count = sql("SELECT count(*) FROM sms_sink")[0][0]
    flask(database, "notify", "deliver", "--once")
    assert sql("SELECT count(*) FROM sms_sink")[0][0] == count


def test_unit_returns_a_case_and_the_centre_dispatches_it_again(open_as, live_server, sql):
    """The 人社所 returns a case within its window with a reason; the centre sees it returned and
    in its tasks, sends it to the 派出所 (round 2), which sees it; the 人社所 no longer does."""
    base, _ = live_server
    number = town_case(base, sql, "讨薪引发推搡冲突（分拨测试）")
    centre = open_as("zhen_ganbu", DESKTOP)
    open_case(centre, base, number)
    dispatch_to(centre, instructions="请核实欠薪情况")
    ((first, *_),) = dispatches(sql, number)

    unit = open_as("zhen_renshe", PHONE)
    open_case(unit, base, number)
    step(
        unit,
        first,
        "return",
        lambda f: f.locator("textarea[name=reason]").fill(
            "双方已发生肢体冲突，属治安案件，非本所职责"
        ),
    )
    assert unit.get_attribute(f"#dispatch-{first}", "data-state") == "returned"
    assert dispatches(sql, number)[0][2] == "returned"
    assert ("zhen_ganbu", "dispatch_returned") in told(sql, number)

    centre.goto(f"{base}/tasks")
    centre.click(f"tr[data-task='dispatch:redispatch'] a[href='/cases/{number}']")
    centre.wait_for_url(f"{base}/cases/{number}")
    assert "非本所职责" in centre.text_content(f"#dispatch-{first}")
    dispatch_to(centre, unit_id(sql, TOWN_POLICE), "请派出所依法处置")
    rows = dispatches(sql, number)
    assert [(code, state, round_) for _id, code, state, round_, _w in rows] == [
        (TOWN_LABOUR, "returned", 1),
        (TOWN_POLICE, "sent", 2),
    ]
    assert "第 2 轮" in centre.text_content(f"#dispatch-{rows[1][0]}")

    police = open_as("zhen_paichusuo", PHONE)
    police.goto(f"{base}/tasks")
    police.wait_for_selector(f"tr[data-task='dispatch:sign'] a[href='/cases/{number}']")
    unit.goto(f"{base}/tasks")
    assert unit.locator(f"a[href='/cases/{number}']").count() == 0


def test_an_unsigned_dispatch_turns_yellow_then_red(open_as, live_server, sql):
    """Nobody signs: swept on its sign day the dispatch is yellow, the day after red; the case
    page shows it and the unit's staff and the centre are told overdue."""
    base, database = live_server
    number = town_case(base, sql, "年底工资未结清（分拨测试）")
    case = api(base, "zhen_ganbu", "GET", f"/api/v1/cases/{number}")
    api(
        base,
        "zhen_ganbu",
        "POST",
        f"/api/v1/cases/{number}/dispatches",
        {"version": case["version"], "lead_department_id": unit_id(sql, TOWN_LABOUR)},
    )
    ((did, *_),) = dispatches(sql, number)
    sign_due = sql("SELECT sign_due FROM dispatches WHERE id = :d", d=did)[0][0]
    # Sweep as of those days; the escalation policy stays off so the demo's other cases keep
    # their levels for the other browser tests.
    for day, colour in ((sign_due, "yellow"), (sign_due + dt.timedelta(days=1), "red")):
        flask(
            database,
            "cases",
            "sweep",
            "--on",
            day.isoformat(),
            AUTO_ESCALATE_OVERDUE_ACCEPTANCE="false",
        )
        assert dispatches(sql, number)[0][4] == colour

    centre = open_as("zhen_ganbu", DESKTOP)
    open_case(centre, base, number)
    panel = centre.locator(f"#dispatch-{did}")
    assert panel.get_attribute("data-warning") == "red"
    assert panel.locator(".badge-red").count() == 1
    assert {("zhen_renshe", "due_soon"), ("zhen_renshe", "overdue"), ("zhen_ganbu", "overdue")} <= (
        told(sql, number)
    )
