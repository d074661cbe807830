"""A visit logged on a phone with no network waits in the outbox, and is sent once it returns."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy import text

from app.config import sqlalchemy_url
from tests.browser.conftest import PHONE


def visits_heard(database: str, heard: str) -> list[int]:
    """Ids of the visits with this text, straight from the database."""
    engine = create_engine(sqlalchemy_url(database))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT id FROM visits WHERE heard = :h ORDER BY id"), {"h": heard}
                ).scalars()
            )
    finally:
        engine.dispose()


def test_offline_visit_is_queued_then_sent_once(open_as, live_server):
    base, database = live_server
    heard = "离线走访（浏览器测试）：反映灌溉渠堵塞"
    page = open_as("cun_wangge", PHONE)
    page.goto(f"{base}/field/visits/new")
    page.wait_for_function("() => window.GridGovMaps && window.GridGovMaps.report")
    page.locator("#report-map").tap()
    page.wait_for_selector("#placed.ok")
    page.fill("#household", "5组8号")
    page.select_option("#purpose", "disputes")
    page.fill("#heard", heard)

    page.context.set_offline(True)
    page.click("#submit-visit")
    page.wait_for_selector("#outbox-list li.pending >> text=待发送")
    assert "5组8号" in page.text_content("#outbox-list")
    assert visits_heard(database, heard) == []

    page.context.set_offline(False)
    page.wait_for_selector("#outbox-list li.sent", timeout=20000)
    ids = visits_heard(database, heard)
    assert len(ids) == 1
    assert str(ids[0]) in page.text_content("#outbox-list")
    # Sending again never makes a second visit.
    page.evaluate("Outbox.flush()")
    page.reload()
    page.wait_for_function("() => window.GridGovMaps && window.GridGovMaps.report")
    assert visits_heard(database, heard) == ids


def test_coverage_map_colours_the_village_cells(open_as, live_server):
    """The village official's 走访覆盖 colours the demo village's cells (no script errors)."""
    base, _ = live_server
    page = open_as("cun_ganbu")
    page.goto(f"{base}/visits/coverage")
    page.wait_for_selector("#coverage-map[data-ready=true]")
    # The map draws on a canvas: count the coloured cells in Leaflet itself.
    page.wait_for_function(
        """() => { let n = 0;
                   window.GridGovMaps.coverage.map.eachLayer(l => {
                     if (l.feature && l.options.fillOpacity > 0) { n += 1; } });
                   return n >= 3; }"""
    )
    assert "走访次数" in page.text_content("body")
