"""A GCJ-02 base map (Amap) in a real browser (docs/maps.md): crs.js computes what app/geo/crs.py
does, a WGS84 case is drawn at its GCJ-02 position, and a click on the map where the tiles show a
place sends that place's WGS84 point. Tile requests never leave the machine: the test answers them.
"""

from __future__ import annotations

import base64
import math
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from app.config import sqlalchemy_url
from app.geo.crs import gcj02_to_wgs84
from app.geo.crs import wgs84_to_gcj02
from tests.browser.conftest import DESKTOP
from tests.browser.conftest import Watch
from tests.browser.conftest import watch_page
from tests.browser.server import running_server
from tests.browser.server import sign_in

# A 1×1 transparent PNG: every Amap tile the page asks for.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
AMAP_HOSTS = {f"webrd0{i}.is.autonavi.com" for i in range(1, 5)}
# Where the base map's tiles draw a latLng: its pixel (not rounded) read back in plain Web
# Mercator, the grid the GCJ-02 tiles are cut in.
DRAWN_AT = """([lat, lon]) => {
  const map = GG.map(KEY).map, z = map.getZoom();
  const drawn = L.CRS.EPSG3857.pointToLatLng(map.project(L.latLng(lat, lon), z), z);
  return [drawn.lng, drawn.lat];
}"""


@pytest.fixture(scope="module")
def amap_server(live_server):
    """A second server on the demo database, configured with BASEMAP=amap."""
    _, database = live_server
    with running_server(database, workers=1, BASEMAP="amap") as base:
        yield base, database


@pytest.fixture
def amap_page(browser, amap_server):
    """open(username) -> a signed-in page whose Amap tile requests the test answers itself."""
    base, _ = amap_server
    contexts = []

    def opener(username: str):
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        watch, tiles = Watch(base), []
        contexts.append((context, watch, tiles))

        def answer_tile(route):
            tiles.append(urlsplit(route.request.url).hostname)
            route.fulfill(status=200, content_type="image/png", body=PNG)

        context.route("https://*.is.autonavi.com/**", answer_tile)
        context.on("request", lambda request: watch.requests.append(request.url))
        context.on("page", lambda page: watch_page(page, watch))
        page = context.new_page()
        page.set_default_timeout(15000)
        sign_in(page, base, username)
        page.tiles = tiles
        return page

    yield opener
    for context, watch, tiles in contexts:
        context.close()
        # Amap's hosts only (answered here, so they passed the CSP); nothing else left the server.
        assert tiles and set(tiles) <= AMAP_HOSTS, tiles
        outside = [u for u in watch.outside() if urlsplit(u).hostname not in AMAP_HOSTS]
        assert not outside, outside
        assert not watch.problems, watch.problems


def sample_points() -> list[tuple[float, float]]:
    """Points across China (and two outside it, where GCJ-02 adds nothing)."""
    inside = [(73.5 + 6.1 * i, 18.3 + 3.7 * j) for i in range(11) for j in range(10)]
    return [*inside, (118.05, 37.38), (2.35, 48.85), (-74.0, 40.7)]


def test_gcj02_base_map_draws_wgs84_data_at_gcj02_and_clicks_back_to_wgs84(amap_page, amap_server):
    """crs.js equals app/geo/crs.py; the case page draws a known case at its GCJ-02 position
    (1e-6°); a click on the report map where the tiles show a place sends its WGS84 point (1 m)."""
    _, database = amap_server
    engine = create_engine(sqlalchemy_url(database))
    with engine.connect() as conn:
        number, lon, lat = conn.execute(
            text("SELECT number, ST_X(location), ST_Y(location) FROM cases ORDER BY id LIMIT 1")
        ).one()
        # The report page's worker: a point inside their first grid cell.
        plon, plat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) AS p"
                " FROM grid_cells g JOIN user_grid_cells u ON u.grid_cell_id = g.id"
                " JOIN users a ON a.id = u.user_id WHERE a.username = 'cun_wangge'"
                " ORDER BY g.code LIMIT 1) t"
            )
        ).one()
    engine.dispose()

    base, _ = amap_server
    page = amap_page("xian_ganbu")
    page.goto(f"{base}/cases/{number}")
    page.wait_for_function("() => window.GGCrs && GG.map('case')")
    assert page.evaluate("() => GG.map('case').crs") == "gcj02"

    # The same formulas in the browser as on the server.
    points = sample_points()
    forward = page.evaluate("(ps) => ps.map(([x, y]) => GGCrs.wgs84ToGcj02(x, y))", points)
    back = page.evaluate("(ps) => ps.map(([x, y]) => GGCrs.gcj02ToWgs84(x, y))", forward)
    for (x, y), js, js_back in zip(points, forward, back, strict=True):
        assert js == pytest.approx(wgs84_to_gcj02(x, y), abs=1e-9)
        assert js_back == pytest.approx(gcj02_to_wgs84(*js), abs=1e-9)
        assert js_back == pytest.approx((x, y), abs=1e-8)

    # The case's marker: its data is WGS84, drawn where the GCJ-02 tiles show that place.
    marker = page.evaluate(
        """() => {
          const map = GG.map('case').map, found = [];
          map.eachLayer((l) => { if (l instanceof L.CircleMarker) { found.push(l.getLatLng()); } });
          return found.map((ll) => [ll.lat, ll.lng]);
        }"""
    )
    assert len(marker) == 1 and marker[0] == pytest.approx([lat, lon], abs=1e-9)
    drawn = page.evaluate(DRAWN_AT.replace("KEY", "'case'"), marker[0])
    assert drawn == pytest.approx(wgs84_to_gcj02(lon, lat), abs=1e-6)
    assert metres(drawn, (lon, lat)) > 100  # not where plain Web Mercator would put WGS84

    # 上报: the worker clicks where the tiles show the point; the page sends its WGS84 point.
    page = amap_page("cun_wangge")
    page.goto(f"{base}/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    glon, glat = wgs84_to_gcj02(plon, plat)
    target = page.evaluate(
        """([lat, lon, glat, glon]) => {
          const map = GG.map('report').map;
          map.setView(L.latLng(lat, lon), 19, {animate: false});
          if (map.getZoom() !== 19) { throw new Error('the report map did not stay at zoom 19'); }
          const px = L.CRS.EPSG3857.latLngToPoint(L.latLng(glat, glon), map.getZoom());
          const at = map.layerPointToContainerPoint(px.subtract(map.getPixelOrigin()));
          const box = map.getContainer().getBoundingClientRect();
          return [box.left + at.x, box.top + at.y];
        }""",
        [plat, plon, glat, glon],
    )
    with page.expect_request(lambda r: "/api/v1/locate?" in r.url) as asked:
        page.mouse.click(*target)
    query = parse_qs(urlsplit(asked.value.url).query)
    sent = (float(query["lon"][0]), float(query["lat"][0]))
    assert metres(sent, (plon, plat)) < 1.0, (sent, (plon, plat))
    assert float(page.input_value("#lon")) == sent[0] and float(page.input_value("#lat")) == sent[1]
    page.wait_for_selector("#placed.ok")  # the server placed it in a cell: a real WGS84 point


def metres(a, b) -> float:
    """Distance in metres between two nearby (lon, lat) points."""
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_574)
