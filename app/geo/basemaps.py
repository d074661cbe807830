"""Base maps as configuration (docs/maps.md): which tile layers a page draws, in which CRS.

`BASEMAP` names one of `BASEMAPS`; Tianditu needs `TIANDITU_KEY` (its `tk`); `custom` (and the
back-compatible `TILE_URL` alone) draws `TILE_URL` in `TILE_CRS`. Every layer of a base map is in
the same CRS: `wgs84` (OSM, Tianditu's w-suffixed Web Mercator layers) or `gcj02` (Amap,
Tencent). With gcj02 the page projects every WGS84 overlay and click through GCJ-02
(app/static/js/crs.js) and vector tiles are shifted on the server (app/tiles/services.py), so the
data stays WGS84 everywhere else. The Content-Security-Policy's img-src lists exactly the hosts
of the configured layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

NAMES = ("osm", "tianditu-vec", "tianditu-img", "amap", "tencent", "none", "custom")
TILE_CRS = ("wgs84", "gcj02")

OSM_ATTRIBUTION = "&copy; OpenStreetMap contributors"
TIANDITU_ATTRIBUTION = "&copy; 天地图 tianditu.gov.cn"
AMAP_ATTRIBUTION = "&copy; 高德地图 AutoNavi"
TENCENT_ATTRIBUTION = "&copy; 腾讯地图 Tencent"

# Tianditu's WMTS in Web Mercator (TILEMATRIXSET=w): layer `vec`/`img` with its annotation
# `cva`/`cia`, on the hosts t0–t7.
TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
AMAP_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)
# Tencent numbers tile rows from the south (TMS): Leaflet's {-y}.
TENCENT_URL = "https://rt{s}.map.gtimg.com/realtimerender?z={z}&x={x}&y={-y}&type=vector&style=0"
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


@dataclass(frozen=True)
class Layer:
    """One tile layer: a URL template ({s} {z} {x} {y}), its subdomains and attribution."""

    url: str
    attribution: str = ""
    subdomains: str = ""
    max_zoom: int = 18

    def hosts(self) -> list[str]:
        """The CSP sources this layer loads from: one per subdomain, never a wildcard."""
        parts = urlsplit(self.url)
        if not parts.scheme or not parts.netloc:
            return []
        names = [parts.netloc]
        if "{s}" in parts.netloc:
            names = [parts.netloc.replace("{s}", s) for s in (self.subdomains or "abc")]
        return [f"{parts.scheme}://{name}" for name in names]


@dataclass(frozen=True)
class Basemap:
    """The configured base map: its name, tile layers (base first, annotation over it), CRS."""

    name: str
    crs: str = "wgs84"
    layers: tuple[Layer, ...] = ()

    @property
    def base(self) -> Layer | None:
        """The base layer, or None when there are no tiles."""
        return self.layers[0] if self.layers else None

    @property
    def annotation(self) -> Layer | None:
        """The annotation (labels) layer drawn over the base (Tianditu's cva/cia)."""
        return self.layers[1] if len(self.layers) > 1 else None

    def csp_sources(self) -> list[str]:
        """Every host the page's tiles come from, in order, each once."""
        seen: list[str] = []
        for layer in self.layers:
            seen += [host for host in layer.hosts() if host not in seen]
        return seen


def tianditu(kind: str, key: str) -> Basemap:
    """天地图: `vec` (vector) or `img` (imagery), with its annotation layer."""
    labels = {"vec": "cva", "img": "cia"}[kind]
    layers = tuple(
        Layer(TIANDITU_URL.format(layer=name, key=key), TIANDITU_ATTRIBUTION, "01234567", 18)
        for name in (kind, labels)
    )
    return Basemap(f"tianditu-{kind}", "wgs84", layers)


def configured(
    name: str | None,
    *,
    tile_url: str | None = None,
    attribution: str = "",
    tianditu_key: str = "",
    tile_crs: str = "wgs84",
) -> Basemap:
    """The base map for configuration values (app/config.py's BASEMAP block)."""
    name = (name or "").strip().lower() or "custom"
    if name == "osm":
        return Basemap("osm", "wgs84", (Layer(OSM_URL, OSM_ATTRIBUTION, "", 19),))
    if name in ("tianditu-vec", "tianditu-img"):
        if not tianditu_key:
            raise ValueError(f"BASEMAP={name} needs TIANDITU_KEY (the Tianditu tk)")
        return tianditu(name.removeprefix("tianditu-"), tianditu_key)
    if name == "amap":
        return Basemap("amap", "gcj02", (Layer(AMAP_URL, AMAP_ATTRIBUTION, "1234", 18),))
    if name == "tencent":
        return Basemap("tencent", "gcj02", (Layer(TENCENT_URL, TENCENT_ATTRIBUTION, "0123", 18),))
    if name == "none":
        return Basemap("none")
    if name == "custom":
        if tile_crs not in TILE_CRS:
            raise ValueError(f"TILE_CRS must be one of {', '.join(TILE_CRS)}")
        url = (tile_url or "").strip()
        if not url or url.lower() == "none":
            return Basemap("none")
        return Basemap("custom", tile_crs, (Layer(url, attribution, "abc", 19),))
    raise ValueError(f"BASEMAP must be one of {', '.join(NAMES)}")


def from_config(config) -> Basemap:
    """The base map of a Flask config (read per call: tests change the config)."""
    return configured(
        config.get("BASEMAP"),
        tile_url=config.get("TILE_URL"),
        attribution=config.get("TILE_ATTRIBUTION", ""),
        tianditu_key=config.get("TIANDITU_KEY", ""),
        tile_crs=config.get("TILE_CRS", "wgs84"),
    )
