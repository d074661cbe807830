"""`make screenshots`: PNGs of the main pages in docs/screenshots/, from a fresh demo server.

Runs the app on a scratch database beside TEST_DATABASE_URL (or DATABASE_URL) with the demo
county, without map tiles (so nothing is fetched from outside and the pictures are repeatable),
and drives Debian's chromium with Playwright.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from app.config import sqlalchemy_url  # noqa: E402
from tests.browser.server import launch  # noqa: E402
from tests.browser.server import prepare  # noqa: E402
from tests.browser.server import running_server  # noqa: E402
from tests.browser.server import scratch_database  # noqa: E402
from tests.browser.server import sign_in  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 860}


def shoot(browser, base: str, user: str, path: str, name: str, viewport: dict, ready=None):
    """Sign in as `user`, open `path`, wait until it is ready, and save a PNG."""
    phone = viewport["width"] < 500
    context = browser.new_context(
        viewport=viewport, locale="zh-CN", has_touch=phone, is_mobile=phone, device_scale_factor=1
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    if user:
        sign_in(page, base, user)
    page.goto(base + path)
    if ready:
        ready(page)
    page.wait_for_timeout(600)  # let the last tiles of vector layers paint
    page.screenshot(path=str(OUT / f"{name}.png"))
    context.close()
    print(f"  docs/screenshots/{name}.png")


def report_ready(page) -> None:
    """The report page with a point tapped on the map and the form begun."""
    page.wait_for_selector("#report-map[data-ready=true]")
    page.locator("#report-map").tap()
    page.wait_for_selector("#placed.ok")
    page.select_option("#category", "邻里")
    page.fill("#title", "院墙排水纠纷")
    page.evaluate("document.getElementById('placed').scrollIntoView({block: 'center'})")


def map_ready(zoom_to=None):
    """Wait for the risk map's layers (optionally after zooming to a village)."""

    def ready(page) -> None:
        page.wait_for_function("() => window.GridGovMaps.risk.loaded")
        # Risk points are vector tiles: wait until some are drawn.
        page.wait_for_function(
            "() => GridGovMaps.risk.tiles && GridGovMaps.risk.tiles.features > 0"
        )
        if zoom_to:
            page.evaluate("GridGovMaps.risk.loaded = null")
            lat, lon = zoom_to
            page.evaluate(f"GridGovMaps.risk.map.setView([{lat}, {lon}], 14, {{animate: false}})")
            page.wait_for_function("() => window.GridGovMaps.risk.loaded")
        page.evaluate("document.getElementById('risk-map').scrollIntoView()")

    return ready


def first_closed_case(database: str) -> tuple[str, float, float]:
    """The demo's first closed case: its number and (lat, lon)."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(sqlalchemy_url(database))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT number, ST_Y(location), ST_X(location) FROM cases"
                " WHERE state = 'closed' ORDER BY id LIMIT 1"
            )
        ).one()
    engine.dispose()
    return row[0], row[1], row[2]


def first_active_risk_point(database: str) -> str:
    """The code of the demo's first active risk point in 示范县's first village."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(sqlalchemy_url(database))
    with engine.connect() as conn:
        code = conn.execute(
            text("SELECT code FROM risk_points WHERE status = 'active' ORDER BY id LIMIT 1")
        ).scalar_one()
    engine.dispose()
    return code


def main() -> None:
    """Build the demo server and take the pictures."""
    base_url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base_url:
        sys.exit("TEST_DATABASE_URL (or DATABASE_URL) is not set: run `make screenshots`")
    OUT.mkdir(parents=True, exist_ok=True)
    with scratch_database(sqlalchemy_url(base_url), "shots") as database:
        prepare(database)
        number, lat, lon = first_closed_case(database)
        risk_point = first_active_risk_point(database)
        with running_server(database) as base, sync_playwright() as playwright:
            browser = launch(playwright)
            shoot(browser, base, "", "/login", "login", PHONE)
            shoot(browser, base, "cun_wangge", "/report", "report-phone", PHONE, report_ready)
            shoot(
                browser,
                base,
                "cun_wangge",
                "/field",
                "my-grid-phone",
                PHONE,
                lambda p: p.wait_for_selector("#grid-map[data-ready=true]"),
            )
            shoot(browser, base, "cun_tiaojie", "/cases?level=all", "queue", DESKTOP)
            shoot(browser, base, "cun_tiaojie", f"/cases/{number}", "case", DESKTOP)
            shoot(browser, base, "xian_ganbu", "/map", "risk-map", DESKTOP, map_ready())
            shoot(
                browser,
                base,
                "xian_ganbu",
                "/map",
                "risk-map-village",
                DESKTOP,
                map_ready((lat, lon)),
            )
            shoot(browser, base, "xian_ganbu", "/workbench", "workbench", DESKTOP)
            shoot(browser, base, "zhen_ganbu", f"/risk-points/{risk_point}", "risk-point", DESKTOP)
            shoot(browser, base, "xian_admin", "/admin/users", "admin-users", DESKTOP)
            shoot(browser, base, "xian_admin", "/admin/holidays", "admin-holidays", DESKTOP)
            context_en = "/language/en?next=/report"
            shoot(browser, base, "cun_wangge", context_en, "report-phone-en", PHONE, report_ready)
            browser.close()


if __name__ == "__main__":
    main()
