"""The maps of each page: base map, controls and legends. Layers come from the page's script.

Builders take display text already translated, so they stay pure and language-neutral.
"""

from __future__ import annotations

from maps.base import DEMO_CENTRE
from maps.base import EmbeddedMap
from maps.base import Tiles
from maps.base import base_map
from maps.base import finish
from maps.legends import campaign_legend
from maps.legends import case_legend
from maps.legends import count_legend
from maps.legends import risk_level_legend
from maps.legends import risk_score_legend


def case_map(tiles: Tiles, point: tuple[float, float], label: str) -> EmbeddedMap:
    """A small map around one case (lat, lon); the script adds the marker and its grid cell."""
    m = base_map(tiles, key="case", centre=point, zoom=16, aria_label=label)
    return finish(m, layer_control=False)


def report_map(tiles: Tiles, centre: tuple[float, float], label: str) -> EmbeddedMap:
    """The map a grid worker taps to place a report; the script shows their grid cells."""
    m = base_map(tiles, key="report", centre=centre, zoom=15, aria_label=label)
    return finish(m, layer_control=False)


def grid_map(
    tiles: Tiles,
    centre: tuple[float, float],
    label: str,
    *,
    case_title: str,
    case_names: dict[str, str],
    risk_title: str,
    risk_names: dict[str, str],
) -> EmbeddedMap:
    """我的网格: the worker's cells, open cases and risk points, with legends and a control."""
    m = base_map(tiles, key="grid", centre=centre, zoom=14, aria_label=label)
    case_legend(case_title, case_names).add_to(m)
    risk_level_legend(risk_title, risk_names).add_to(m)
    return finish(m, collapsed=False)


def risk_map(
    tiles: Tiles,
    label: str,
    *,
    centre: tuple[float, float] = DEMO_CENTRE,
    zoom: int = 10,
    tiles_name: str = "",
    score_title: str,
    score_range: str,
    risk_title: str,
    risk_names: dict[str, str],
    case_title: str | None = None,
    case_names: dict[str, str] | None = None,
    cluster_label: str | None = None,
    count_title: str | None = None,
    count_names: dict[str, str] | None = None,
) -> EmbeddedMap:
    """风险地图: cells by risk score, points by level, cases clustered or as a heat map.

    Each legend carries a key (score, risk, cases, counts): the page script shows a legend only
    while its layer is drawn at the current zoom (cells from 13, single cases from 14, counts
    below).
    """
    m = base_map(
        tiles, key="risk", centre=centre, zoom=zoom, aria_label=label, tiles_name=tiles_name
    )
    risk_score_legend(score_title, score_range, key="score").add_to(m)
    risk_level_legend(risk_title, risk_names, key="risk").add_to(m)
    if case_title and case_names:
        case_legend(case_title, case_names, key="cases", cluster=cluster_label).add_to(m)
    if count_title and count_names:
        count_legend(count_title, count_names, key="counts").add_to(m)
    return finish(m, collapsed=True)


def regions_map(tiles: Tiles, label: str, centre: tuple[float, float] = DEMO_CENTRE) -> EmbeddedMap:
    """The admin's view of regions and grid cells."""
    m = base_map(tiles, key="regions", centre=centre, zoom=10, aria_label=label)
    return finish(m, collapsed=False)


def campaign_map(
    tiles: Tiles,
    label: str,
    *,
    centre: tuple[float, float] = DEMO_CENTRE,
    zoom: int = 12,
    legend_title: str,
    state_names: dict[str, str],
) -> EmbeddedMap:
    """A campaign's progress: the script colours its grid cells done / pending / overdue."""
    m = base_map(tiles, key="campaign", centre=centre, zoom=zoom, aria_label=label)
    campaign_legend(legend_title, state_names).add_to(m)
    return finish(m, layer_control=False)


def warnings_map(
    tiles: Tiles, label: str, *, centre: tuple[float, float] = DEMO_CENTRE, zoom: int = 11
) -> EmbeddedMap:
    """研判: live warnings at their cell, village or case point (the script loads the layer)."""
    m = base_map(tiles, key="warnings", centre=centre, zoom=zoom, aria_label=label)
    return finish(m, layer_control=False)


def coverage_map(
    tiles: Tiles, centre: tuple[float, float], label: str, zoom: int = 13
) -> EmbeddedMap:
    """走访覆盖: grid cells coloured by days since their last visit (the script colours them)."""
    m = base_map(tiles, key="coverage", centre=centre, zoom=zoom, aria_label=label)
    return finish(m, layer_control=False)
