"""Map builders: local assets only, tiles from configuration (or none), legends, embedding."""

from __future__ import annotations

import re

import folium

from maps.base import Tiles
from maps.base import base_map
from maps.base import embed
from maps.base import finish
from maps.legends import Legend
from maps.legends import LegendItem
from maps.pages import risk_map

OSM = Tiles.from_config("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OSM")


def tile_layers(m) -> list:
    """The tile layers of a map."""
    return [c for c in m._children.values() if isinstance(c, folium.TileLayer)]


def test_no_tiles_means_no_tile_layer():
    """TILE_URL=none: a map with no tile layer at all (an intranet's plain background)."""
    assert Tiles.from_config("none", "x") == Tiles(None, "")
    assert tile_layers(base_map(Tiles.from_config("none", ""))) == []
    layers = tile_layers(base_map(OSM))
    assert len(layers) == 1 and layers[0].tiles == OSM.url


def test_embedded_parts_load_only_local_assets_with_nonces():
    """The header links /static/vendor only; its inline scripts carry the page's nonce."""
    m = finish(base_map(OSM, key="t"))
    parts = embed(m, "NONCE123")
    assert "/static/vendor/leaflet/leaflet.js" in parts.header
    assert not re.search(r"(src|href)=\"https?://", parts.header)
    for tag in re.findall(r"<script\b[^>]*>", parts.header):
        assert "src=" in tag or 'nonce="NONCE123"' in tag
    assert "html, body" not in parts.header  # folium's notebook styles stay out of our pages
    assert "L.map(" in parts.script and 'GridGovMaps["t"]' in parts.script
    assert 'class="folium-map"' in parts.html


def test_legend_text_cannot_break_out_of_the_script():
    """Labels travel as JSON inside the script, escaped, and become DOM text nodes."""
    m = base_map(Tiles(None))
    Legend("图例</script><b>", [LegendItem("#fff", "</script><img src=x>")]).add_to(m)
    script = embed(finish(m), "n").script
    assert "</script>" not in script and "textContent" in script


def test_risk_map_has_both_legends_and_a_layer_control():
    """风险地图: risk score and risk level legends, and the layer control."""
    m = risk_map(
        OSM,
        "风险地图",
        tiles_name="底图",
        score_title="分值",
        score_range="{low}–{high}",
        risk_title="等级",
        risk_names={"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"},
    )
    script = embed(m, "n").script
    assert script.count("L.control({position") == 2
    assert "L.control.layers(" in script
