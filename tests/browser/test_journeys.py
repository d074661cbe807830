"""A case's whole life in the browser: reported on a phone, handled by the village mediator, seen
on the risk map and in the village-retention measure; and reports that survive a bad network.

The tests run in file order and share one case (STORY): each step is the next person's work.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import create_engine
from sqlalchemy import text

from app.config import sqlalchemy_url
from tests.browser.conftest import DESKTOP
from tests.browser.conftest import PHONE
from tests.browser.server import submitted
from tests.risks.factories import png_bytes

STORY: dict = {}
PNG = png_bytes()  # a real image: uploads must decode
VILLAGE = "371699101200"


def cases_titled(database: str, title: str) -> list[str]:
    """Numbers of the cases with this title, straight from the database."""
    engine = create_engine(sqlalchemy_url(database))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT number FROM cases WHERE title = :t ORDER BY id"), {"t": title}
                ).scalars()
            )
    finally:
        engine.dispose()


def case_point(database: str, number: str) -> tuple[float, float]:
    """(lat, lon) of a case."""
    engine = create_engine(sqlalchemy_url(database))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT ST_Y(location), ST_X(location) FROM cases WHERE number = :n"),
                {"n": number},
            ).one()
            return row[0], row[1]
    finally:
        engine.dispose()


def fill_report(page, base: str, title: str) -> None:
    """Open 上报, tap the middle of the map (the worker's own cells) and fill in the form."""
    page.goto(f"{base}/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    page.locator("#report-map").tap()
    page.wait_for_selector("#placed.ok")
    assert re.search(r"网格：.+村：", page.text_content("#placed"))
    page.select_option("#kind", "dispute")
    page.select_option("#category", "邻里")
    page.fill("#title", title)
    page.fill("#description", "两户因院墙排水发生争执，网格员现场登记。")
    page.click("#add-party")
    page.fill("#parties [data-name=name]", "王五")


def village_retention(page, base: str) -> tuple[int, int]:
    """The village's 小事不出村率 on the 工作台, as (numerator, denominator)."""
    page.goto(f"{base}/workbench?region={VILLAGE}")
    fraction = page.text_content("[data-measure=village_retention] [data-fraction]")
    numerator, denominator = (int(x) for x in fraction.split("/"))
    return numerator, denominator


def test_grid_worker_reports_a_case_by_tapping_the_map(open_as, live_server):
    """On a 360×640 phone: tap the map, see the cell and village at once, submit, get a number."""
    base, database = live_server
    page = open_as("cun_wangge", PHONE)
    fill_report(page, base, "院墙排水纠纷（浏览器测试）")
    page.click("#submit-report")
    page.wait_for_selector("#placed.ok >> text=已提交")
    number = re.search(r"\d{6}-\d{4}-\d{6}", page.text_content("#placed")).group(0)
    assert cases_titled(database, "院墙排水纠纷（浏览器测试）") == [number]
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    STORY["number"] = number


def test_official_sees_the_new_case_on_the_risk_map(open_as, live_server):
    """The town official finds the case among the single cases of the zoomed-in map."""
    base, database = live_server
    number = STORY["number"]
    page = open_as("zhen_ganbu", DESKTOP)
    STORY["retention_before"] = village_retention(page, base)
    page.goto(f"{base}/map")
    page.wait_for_function("() => window.GridGovMaps.risk.loaded")
    assert page.evaluate("GridGovMaps.risk.loaded.mode") == "counts"
    # Risk points arrive as vector tiles, fetched with the page's tile key and data version.
    page.wait_for_function("() => GridGovMaps.risk.tiles.features > 0", timeout=30000)
    tile_urls = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/api/v1/tiles/risk_points/'))"
    )
    assert tile_urls and all("key=" in u and "&v=" in u for u in tile_urls)
    lat, lon = case_point(database, number)
    page.evaluate(f"GridGovMaps.risk.map.setView([{lat}, {lon}], 17, {{animate: false}})")
    try:
        page.wait_for_function(
            """(n) => { const l = GridGovMaps.risk.loaded;
                        return l.mode === 'points' && l.cases.features.some(f => f.id === n); }""",
            arg=number,
            timeout=30000,
        )
    except PlaywrightTimeout:
        state = page.evaluate(
            "[GridGovMaps.risk.map.getZoom(), (GridGovMaps.risk.loaded || {}).mode,"
            " document.getElementById('map-status').textContent]"
        )
        raise AssertionError(
            f"case {number} not on the map: zoom, mode, status = {state}"
        ) from None


def test_mediator_accepts_mediates_resolves_follows_up_and_closes(open_as, live_server):
    """The village mediator takes the case through every step, each a short form."""
    base, _ = live_server
    number = STORY["number"]
    page = open_as("cun_tiaojie", DESKTOP)
    page.goto(f"{base}/cases")
    page.click(f"a[href='/cases/{number}']")
    page.wait_for_url(f"{base}/cases/{number}")

    def act(action: str, fill=None) -> None:
        page.click(f"#action-{action} summary")
        form = page.locator(f"#action-{action} form")
        if fill:
            fill(form)
        submitted(page, form.locator("button[type=submit]"))

    act("accept")
    act("start")

    def agreement(form):
        form.locator("select[name=outcome]").select_option("agreement")
        form.locator("textarea[name=note]").fill("双方达成协议")
        form.locator("textarea[name='agreement.facts']").fill("排水沟走向争议")
        form.locator("textarea[name='agreement.responsibilities']").fill("双方各半")
        form.locator("textarea[name='agreement.terms']").fill("共同出资改建排水沟")
        form.locator("input[name='agreement.performance_method']").fill("十日内施工")
        form.locator("input[name='agreement.performance_due']").fill("2030-01-01")
        # Today in Asia/Shanghai, the service's day (the browser's UTC date lags it at night).
        form.locator("input[name='agreement.signed_on']").fill(
            dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        )
        form.locator("input[name='agreement.signed_by_parties']").check()
        form.locator("input[name='agreement.signed_by_mediator']").check()

    act("resolve", agreement)
    assert "调解成功" in page.text_content("body")

    # A second tab still shows the case before the follow-up: its submit must not be lost
    # silently, it must say someone else changed the case.
    stale = page.context.new_page()
    stale.goto(f"{base}/cases/{number}")
    act("follow_up")
    stale.click("#action-follow_up summary")
    stale.locator("#action-follow_up form button[type=submit]").click()
    stale.wait_for_selector("#stale-alert")
    assert "已被他人修改" in stale.text_content("#stale-alert")

    act("close")
    assert "已归档" in page.text_content(".badge-state")


def test_village_retention_counts_the_closed_case(open_as, live_server):
    """The village's 小事不出村率 counts one more closed case, kept in the village."""
    base, _ = live_server
    before = STORY["retention_before"]
    page = open_as("zhen_ganbu", DESKTOP)
    assert village_retention(page, base) == (before[0] + 1, before[1] + 1)


def test_offline_report_is_sent_once_when_the_network_returns(open_as, live_server):
    """Offline the report waits on the phone as 待发送; back online it becomes exactly one case."""
    base, database = live_server
    title = "离线上报（浏览器测试）"
    page = open_as("cun_wangge", PHONE)
    fill_report(page, base, title)
    page.context.set_offline(True)
    page.click("#submit-report")
    page.wait_for_selector("#outbox-list li.pending >> text=待发送")
    assert cases_titled(database, title) == []

    page.context.set_offline(False)
    page.wait_for_selector("#outbox-list li.sent", timeout=20000)
    numbers = cases_titled(database, title)
    assert len(numbers) == 1
    assert numbers[0] in page.text_content("#outbox-list")
    # Retrying again, and reloading, never makes a second case.
    page.evaluate("Outbox.flush()")
    page.reload()
    page.wait_for_selector("#report-map[data-ready=true]")
    assert cases_titled(database, title) == numbers


def test_a_lost_answer_is_retried_without_a_second_case(open_as, live_server):
    """The server made the case but the answer never arrived: the retry replays it."""
    base, database = live_server
    title = "应答丢失（浏览器测试）"
    page = open_as("cun_wangge", PHONE)
    fill_report(page, base, title)

    def lose_the_answer(route):
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch()  # reaches the server, which creates the case...
        STORY["lost_status"] = answer.status
        route.abort()  # ...but the phone sees a failed connection

    page.route("**/api/v1/cases", lose_the_answer)
    page.click("#submit-report")
    for _ in range(100):  # route handlers run while Playwright waits
        if "lost_status" in STORY:
            break
        page.wait_for_timeout(100)
    assert STORY["lost_status"] == 201
    page.wait_for_selector("#outbox-list li.pending")
    assert len(cases_titled(database, title)) == 1
    page.unroute("**/api/v1/cases")
    # Retry (as the `online` event or the 30-second timer would) until the outbox is done.
    page.wait_for_function(
        "() => { Outbox.flush(); return document.querySelector('#outbox-list li.sent'); }",
        polling=500,
    )
    numbers = cases_titled(database, title)
    assert len(numbers) == 1 and numbers[0] in page.text_content("#outbox-list")


def test_pages_speak_english_after_the_switch(open_as, live_server):
    """The language switch turns the pages into complete English, and back."""
    base, _ = live_server
    page = open_as("cun_wangge", PHONE)
    page.goto(f"{base}/report")
    page.click("a[hreflang=en]")
    page.wait_for_selector("h1 >> text=Report a case")
    assert page.get_attribute("html", "lang") == "en"
    page.click("a[hreflang=zh]")
    page.wait_for_selector("h1 >> text=上报事件")


def test_abnormal_inspection_with_a_photo_opens_a_case(open_as, live_server):
    """排查 on a phone: an abnormal result with a camera photo, and a case opened from it."""
    base, database = live_server
    page = open_as("cun_wangge", PHONE)
    page.goto(f"{base}/inspections")
    form = page.locator("form.inspect-form").first
    form.locator("input[name=result][value=abnormal]").check()
    form.locator("input[name=open_case]").check()
    form.locator("select[name=kind]").select_option("incident")
    form.locator("select[name=category]").select_option("消防")
    form.locator("input[name=title]").fill("排查发现消防通道堵塞（浏览器测试）")
    form.locator("textarea[name=notes]").fill("通道堆放杂物")
    form.locator("input[name=photos]").set_input_files(
        files=[{"name": "scene.png", "mimeType": "image/png", "buffer": PNG}]
    )
    form.locator("button[type=submit]").click()
    form.locator(".result-msg a").wait_for()
    assert cases_titled(database, "排查发现消防通道堵塞（浏览器测试）")


def test_api_docs_page_fetches_nothing_from_outside(open_as, live_server):
    """Swagger UI (vendored) renders the OpenAPI document from 127.0.0.1 alone: the URLs inside
    the bundle are strings (licence and error links, schema ids), never requested. Swagger UI
    5.35 draws only the tags near the viewport, so the test scrolls the page and collects every
    tag it draws: each tag with operations in the document appears."""
    base, _ = live_server
    page = open_as("xian_ganbu", DESKTOP)
    spec = page.request.get(f"{base}/api/v1/openapi.json").json()
    expected = {
        tag
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict)  # a path item's shared "parameters" are a list
        for tag in op["tags"]
    }
    page.goto(f"{base}/api/v1/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30000)
    seen: set[str] = set()
    for _ in range(400):
        seen |= set(
            page.eval_on_selector_all(
                ".opblock-tag", "els => els.map(e => e.getAttribute('data-tag'))"
            )
        )
        at_end = page.evaluate(
            "() => window.scrollY + window.innerHeight >= document.body.scrollHeight - 2"
        )
        if seen >= expected and at_end:
            break
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(50)
    assert seen >= expected, f"tags never drawn: {sorted(expected - seen)}"
