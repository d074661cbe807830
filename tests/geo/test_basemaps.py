"""Base maps as configuration (docs/maps.md): layers, CRS, the CSP's hosts, shifted vector tiles."""

from __future__ import annotations

import math
import re

import pytest

from app.geo import basemaps
from app.geo.crs import wgs84_to_gcj02
from tests.cases.factories import POINT
from tests.factories import bearer
from tests.tiles.mvt import decode
from tests.web.test_pages import reported
from tests.web.test_pages import signed_in


def img_src(response) -> list[str]:
    """The img-src sources of a response's Content-Security-Policy."""
    csp = response.headers["Content-Security-Policy"]
    return re.search(r"img-src ([^;]+)", csp).group(1).split()


def use(app, monkeypatch, **settings):
    """Configure the base map for the rest of the test."""
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)


def test_tianditu_draws_its_annotation_over_the_base_from_t0_to_t7(app, client, world, monkeypatch):
    """天地图: vec_w with cva_w over it, the tk, subdomains 0–7; the CSP lists exactly t0..t7."""
    use(app, monkeypatch, BASEMAP="tianditu-vec", TIANDITU_KEY="tk-test")
    response = signed_in(client, world, "grid_worker@village").get("/report")
    html = response.get_data(as_text=True)
    urls = re.findall(r'L\.tileLayer\(\s*"([^"]+)"', html)
    assert [re.search(r"/(\w+)_w/wmts", u).group(1) for u in urls] == ["vec", "cva"]
    assert all("tk=tk-test" in u and u.startswith("https://t{s}.tianditu.gov.cn/") for u in urls)
    assert html.count('"subdomains": "01234567"') == 2 and "L.CRS.EPSG3857" in html
    hosts = [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
    assert img_src(response) == ["'self'", "data:", "blob:", *hosts]

    use(app, monkeypatch, BASEMAP="tianditu-img")
    html = client.get("/report").get_data(as_text=True)
    assert "/img_w/wmts" in html and "/cia_w/wmts" in html and "/vec_w/" not in html


def test_none_draws_no_tiles_and_allows_no_outside_image(app, client, world, monkeypatch):
    """BASEMAP=none: no tile layer, the overlays' script still runs; img-src is the site only."""
    use(app, monkeypatch, BASEMAP="none")
    response = signed_in(client, world, "grid_worker@village").get("/report")
    html = response.get_data(as_text=True)
    assert "L.tileLayer" not in html and "L.map(" in html and "/static/js/report.js" in html
    assert img_src(response) == ["'self'", "data:", "blob:"]


def test_gcj02_base_map_projects_through_gcj02_and_shifts_vector_tiles(
    app, client, world, monkeypatch
):
    """Amap: the map's CRS is GCJ-02, the CSP lists its hosts, tile URLs ask for crs=gcj02, and
    a case's vector-tile point lies at its GCJ-02 position (within 0.5 m), not at WGS84's."""
    use(app, monkeypatch, BASEMAP="amap")
    response = signed_in(client, world, "grid_worker@village").get("/report")
    html = response.get_data(as_text=True)
    assert "L.CRS.GCJ02" in html and "/static/js/crs.js" in html and "autonavi.com" in html
    hosts = [f"https://webrd0{i}.is.autonavi.com" for i in range(1, 5)]
    assert img_src(response)[3:] == hosts

    reported(world)
    headers = bearer(world["mediator@village"])
    access = client.get("/api/v1/tiles/access", headers=headers).get_json()
    assert all("crs=gcj02" in url for url in access["urls"].values())

    z = 16
    glon, glat = wgs84_to_gcj02(POINT["lon"], POINT["lat"])
    for crs, (lon, lat) in (("gcj02", (glon, glat)), ("wgs84", (POINT["lon"], POINT["lat"]))):
        x, y = tile_xy(lon, lat, z)
        answer = client.get(f"/api/v1/tiles/cases/{z}/{x}/{y}.pbf?crs={crs}", headers=headers)
        assert answer.status_code == 200
        [feature] = decode(answer.get_data())["cases"]
        got = tile_point_lonlat(z, x, y, feature["point"])
        assert metres(got, (lon, lat)) < 0.5, (crs, got)
    assert metres((glon, glat), (POINT["lon"], POINT["lat"])) > 100  # the offset is real here

    bad = client.get(f"/api/v1/tiles/cases/{z}/{x}/{y}.pbf?crs=bd09", headers=headers)
    assert bad.status_code == 400 and "crs" in str(bad.get_json()), bad.get_json()


def test_configuration_names_what_is_wrong():
    """An unknown base map, Tianditu without its key, or a bad TILE_CRS is refused at start."""
    with pytest.raises(ValueError, match="BASEMAP must be one of"):
        basemaps.configured("google")
    with pytest.raises(ValueError, match="TIANDITU_KEY"):
        basemaps.configured("tianditu-vec")
    with pytest.raises(ValueError, match="TILE_CRS"):
        basemaps.configured("custom", tile_url="https://x/{z}/{x}/{y}.png", tile_crs="bd09")
    tencent = basemaps.configured("tencent")
    assert tencent.crs == "gcj02" and "{-y}" in tencent.base.url
    assert basemaps.configured("custom", tile_url="none").layers == ()


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_point_lonlat(z: int, x: int, y: int, point: tuple[int, int], extent: int = 4096):
    """(lon, lat) of a point in a tile's coordinates, read in plain Web Mercator."""
    n = 2**z
    fx, fy = (x + point[0] / extent) / n, (y + point[1] / extent) / n
    return fx * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy))))


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in metres between two nearby (lon, lat) points."""
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_574)
