"""离线 (issue 19): with the network off, 上报 and 排查 open from the service worker's copy; a
report the page cannot know is wrong is queued, refused once sent (被退回, the server's message),
opened again, corrected and sent; a bad ID number is refused before it is ever queued."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy import text

from app.config import sqlalchemy_url
from tests.browser.conftest import PHONE

TITLE = "离线上报（浏览器测试）：村口路灯损坏"
CACHED = """async () => {
  const keys = await caches.keys();
  if (!keys.length) { return false; }
  const cache = await caches.open(keys[0]);
  return !!(await cache.match('/report')) && !!(await cache.match('/inspections'));
}"""
STORED = "async () => (await Outbox.all()).map(r => r.status)"


def cases_titled(database: str, title: str) -> list[str]:
    """Numbers of the cases with this title, straight from the database."""
    engine = create_engine(sqlalchemy_url(database))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT number FROM cases WHERE title = :t"), {"t": title})
            return list(rows.scalars())
    finally:
        engine.dispose()


def worker_offline(route) -> None:
    """The service worker's requests fail as with no network (set_offline does not reach it)."""
    if route.request.service_worker:
        route.abort("internetdisconnected")
    else:
        route.continue_()


def set_offline(context, offline: bool) -> None:
    """The network off (or back on) for the pages and the service worker alike."""
    context.set_offline(offline)
    if offline:
        context.route("**", worker_offline)
    else:
        context.unroute("**", worker_offline)


def click_map(page, lat: float, lon: float) -> None:
    """Place the report's point as a tap on the map there would."""
    page.evaluate(
        "([lat, lon]) => GridGovMaps.report.map.fire('click', {latlng: L.latLng(lat, lon)})",
        [lat, lon],
    )


def test_offline_report_refused_then_edited_and_sent(open_as, live_server):
    base, database = live_server
    page = open_as("cun_wangge", PHONE)
    page.goto(f"{base}/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    page.wait_for_function(CACHED, polling=200)  # the service worker kept the field pages
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    home = page.evaluate("() => Object.values(GridGovMaps.report.map.getCenter())")

    set_offline(page.context, True)
    page.goto(f"{base}/inspections")
    assert page.text_content("h1") == "排查"
    page.wait_for_selector("#offline-banner")
    page.goto(f"{base}/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    assert "离线" in page.text_content("#offline-banner")

    # A party's ID number with a wrong checksum: said at the field, nothing queued.
    click_map(page, *home)
    page.fill("#title", TITLE)
    page.fill("#description", "路灯不亮，夜间行人不便")
    page.click("#add-party")
    page.fill("#parties [data-name=name]", "张三")
    page.fill("#parties [data-name=id_number]", "110101199003074515")
    page.click("#submit-report")
    page.wait_for_selector("#parties .field-error")
    assert "校验位" in page.text_content("#parties")
    assert page.evaluate(STORED) == []

    # Correct the number; put the point where no grid cell is: the page cannot know, so queued.
    page.fill("#parties [data-name=id_number]", "110101199003074514")
    click_map(page, 30.0, 110.0)
    page.click("#submit-report")
    page.wait_for_selector("#outbox-list li.pending")
    assert page.evaluate(STORED) == ["pending"]

    # Back online: sent, refused (422), kept as 被退回 with the server's message.
    set_offline(page.context, False)
    page.wait_for_selector("#outbox-list li.failed", timeout=20000)
    refused = page.text_content("#outbox-list li.failed")
    assert "被退回" in refused and "不在任何网格内" in refused
    assert cases_titled(database, TITLE) == []

    # Opened again: the form has what was typed; the point moved into the cell, sent again.
    page.click("#outbox-list li.failed .open-report")
    assert page.input_value("#title") == TITLE
    assert page.input_value("#parties [data-name=id_number]") == "110101199003074514"
    click_map(page, *home)
    page.wait_for_selector("#placed.ok")
    page.click("#submit-report")
    page.wait_for_selector("#outbox-list li.sent", timeout=20000)
    numbers = cases_titled(database, TITLE)
    assert len(numbers) == 1 and numbers[0] in page.text_content("#outbox-list")
    page.reload()
    page.wait_for_selector("#report-map[data-ready=true]")
    page.wait_for_function("async () => (await Outbox.all()).length === 0")


def test_a_late_locate_answer_never_overwrites_the_latest_point(open_as, live_server):
    """Two points placed quickly (or a reopened report's old point, then a new tap): the answer
    for the first arriving last must not replace the second's. (It did: the offline test above
    failed under load when the refused point's "not in any cell" came back after the new one.)"""
    base, _database = live_server
    page = open_as("cun_wangge", PHONE)
    page.goto(f"{base}/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    home = page.evaluate("() => Object.values(GridGovMaps.report.map.getCenter())")
    held = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)  # answered below, after the second point's answer

    page.route("**/api/v1/locate?*", hold_the_first)
    click_map(page, 30.0, 110.0)  # in no grid cell: its answer says so (class "bad")
    click_map(page, *home)
    page.wait_for_selector("#placed.ok")
    placed = page.text_content("#placed")
    with page.expect_response(lambda r: "/api/v1/locate" in r.url and "lon=110" in r.url) as late:
        held[0].continue_()
    assert late.value.status == 404
    # The late answer is parsed and handed to the page's handler within a few event-loop turns.
    page.wait_for_timeout(500)
    assert page.get_attribute("#placed", "class") == "placed ok"
    assert page.text_content("#placed") == placed
