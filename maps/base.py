"""The base map, its controls and how a page embeds it (shared/STYLE.md §8).

folium builds the Leaflet map, the tile layer (or none), the layer control and legends; the page
embeds folium's header, html and script parts in our own template, and a static script loads
our layers from the API in the browser. Every asset is served from app/static/vendor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import folium
from branca.element import Figure
from branca.element import MacroElement
from folium.template import Template

VENDOR = "/static/vendor"
# crs.js defines L.CRS.GCJ02 (and GGCrs), so it loads right after Leaflet, before the map.
LEAFLET_JS = [("leaflet", f"{VENDOR}/leaflet/leaflet.js"), ("gridgov_crs", "/static/js/crs.js")]
# The Leaflet CRS of each tile datum.
LEAFLET_CRS = {"wgs84": "EPSG3857", "gcj02": "GCJ02"}
LEAFLET_CSS = [("leaflet_css", f"{VENDOR}/leaflet/leaflet.css")]
DEMO_CENTRE = (37.38, 118.05)  # (lat, lon) of the demo county


@dataclass(frozen=True)
class Tiles:
    """The tile server: a URL template and its attribution, or none (intranets).

    `labels` is an annotation layer drawn over the base (Tianditu's cva/cia) with the same
    subdomains; `crs` is the tiles' datum: `wgs84`, or `gcj02` (Amap, Tencent), which makes the
    map project everything through GCJ-02 (app/static/js/crs.js, docs/maps.md).
    """

    url: str | None
    attribution: str = ""
    subdomains: str = "abc"
    native_zoom: int | None = None
    labels: str | None = None
    crs: str = "wgs84"

    @classmethod
    def from_config(cls, url: str | None, attribution: str) -> Tiles:
        """TILE_URL / TILE_ATTRIBUTION; `none` (or empty) means no tiles at all."""
        if not url or url.strip().lower() == "none":
            return cls(None, "")
        return cls(url.strip(), attribution)


class EmbeddedMap(folium.Map):
    """folium's Map for embedding in a page: sized by its container, local assets only.

    folium's own header styles the whole document (html, body at 100%) for a notebook iframe;
    ours styles only the map element.
    """

    default_js = LEAFLET_JS
    default_css = LEAFLET_CSS

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>#{{ this.get_name() }} { position: relative; width: 100%; height: 100%; }</style>
        {% endmacro %}

        {% macro html(this, kwargs) %}
            <div class="folium-map" id={{ this.get_name()|tojson }}
                 role="region" aria-label={{ this.aria_label|tojson }}></div>
        {% endmacro %}

        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.map(
                {{ this.get_name()|tojson }},
                {
                    center: {{ this.location|tojson }},
                    crs: L.CRS.{{ this.crs }},
                    ...{{ this.options|tojavascript }}
                }
            );
            {%- if this.control_scale %}
            L.control.scale({imperial: false}).addTo({{ this.get_name() }});
            {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, *args, aria_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.aria_label = aria_label


class PageHandle(MacroElement):
    """Publishes the map and its layer control to page scripts as `GridGovMaps[key]`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.GridGovMaps = window.GridGovMaps || {};
            window.GridGovMaps[{{ this.key|tojson }}] = {
                map: {{ this._parent.get_name() }},
                layers: {{ this.control.get_name() if this.control else 'null' }},
                tiles: {{ 'true' if this.has_tiles else 'false' }},
                crs: {{ this.crs|tojson }}
            };
        {% endmacro %}
        """
    )

    def __init__(
        self, key: str, control: folium.LayerControl | None, has_tiles: bool, crs: str = "wgs84"
    ):
        super().__init__()
        self._name = "PageHandle"
        self.key = key
        self.control = control
        self.has_tiles = has_tiles
        self.crs = crs


def base_map(
    tiles: Tiles,
    *,
    key: str = "map",
    centre: tuple[float, float] = DEMO_CENTRE,
    zoom: int = 11,
    aria_label: str = "",
    tiles_name: str = "",
    min_zoom: int = 5,
    max_zoom: int = 19,
) -> EmbeddedMap:
    """A Leaflet map on the configured tiles, or on a plain background when there are none.

    Without tiles the page's own layers (boundaries, grid cells, points) carry the map, so it
    stays usable on an intranet.
    """
    m = EmbeddedMap(
        location=list(centre),
        zoom_start=zoom,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        aria_label=aria_label,
        crs=LEAFLET_CRS[tiles.crs],
    )
    # folium passes min/max zoom to tile layers only; the clustering plugin needs the map's.
    m.options["min_zoom"] = min_zoom
    m.options["max_zoom"] = max_zoom
    m.gridgov_key = key
    m.gridgov_crs = tiles.crs
    if tiles.url:
        folium.TileLayer(
            tiles=tiles.url,
            attr=tiles.attribution or " ",
            name=tiles_name or "basemap",
            max_zoom=max_zoom,
            max_native_zoom=tiles.native_zoom,
            subdomains=tiles.subdomains,
            control=bool(tiles_name),
        ).add_to(m)
        if tiles.labels:
            folium.TileLayer(
                tiles=tiles.labels,
                attr=" ",
                name="labels",
                max_zoom=max_zoom,
                max_native_zoom=tiles.native_zoom,
                subdomains=tiles.subdomains,
                overlay=True,
                control=False,
            ).add_to(m)
    return m


def finish(m: EmbeddedMap, *, layer_control: bool = True, collapsed: bool = True) -> EmbeddedMap:
    """Add the layer control (last, as folium wants) and the handle page scripts use."""
    control = None
    if layer_control:
        control = folium.LayerControl(position="topright", collapsed=collapsed)
        control.add_to(m)
    has_tiles = any(isinstance(child, folium.TileLayer) for child in m._children.values())
    PageHandle(m.gridgov_key, control, has_tiles, m.gridgov_crs).add_to(m)
    return m


@dataclass(frozen=True)
class MapParts:
    """The three parts of a rendered map, for our page template."""

    header: str
    html: str
    script: str


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>")


def embed(m: folium.Map, nonce: str) -> MapParts:
    """Render the map's figure and split it into header, html and script parts.

    Inline scripts folium puts in the header get the page's CSP nonce; the script part is
    wrapped by the page in a `<script nonce=...>` of its own.
    """
    figure = m.get_root()
    if not isinstance(figure, Figure):  # a map not yet in a figure
        figure = Figure()
        m.add_to(figure)
    figure.render()
    header = figure.header.render()
    header = header.replace(
        '<meta http-equiv="content-type" content="text/html; charset=UTF-8" />', ""
    )
    header = INLINE_SCRIPT.sub(lambda match: f'<script nonce="{nonce}"{match.group(1)}>', header)
    return MapParts(header=header, html=figure.html.render(), script=figure.script.render())
