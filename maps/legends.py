"""Legends: a Leaflet control listing what each colour on the map means."""

from __future__ import annotations

from dataclasses import dataclass

from branca.element import MacroElement
from folium.template import Template

# Colours shared by the legends and the page scripts (app/static/js/maplayers.js reads the same).
RISK_LEVEL_COLOURS = {"red": "#d7191c", "orange": "#f28e2b", "yellow": "#e6c229", "blue": "#2c7bb6"}
# Grid-cell risk score classes: (lower bound, colour), lowest first.
RISK_SCORE_CLASSES = [
    (0, "#f7f7f7"),
    (1, "#fee8c8"),
    (4, "#fdbb84"),
    (8, "#e34a33"),
    (15, "#b30000"),
]
CASE_COLOURS = {"open": "#0b6e4f", "yellow": "#e6c229", "red": "#d7191c", "settled": "#7b8794"}
# Several cases drawn as one numbered circle (the risk map's clusters; app.css .case-cluster).
CLUSTER_COLOUR = "#486581"
# Count bubbles of the risk map by the worst warning among their cases (app.css .agg-marker).
COUNT_COLOURS = {"none": "#0b6e4f", "yellow": "#d6a000", "red": "#c81e1e"}
# Campaign progress by grid cell (app/static/js/campaign.js reads the same).
CAMPAIGN_COLOURS = {"done": "#0b6e4f", "pending": "#e6c229", "overdue": "#d7191c"}


@dataclass(frozen=True)
class LegendItem:
    """One line of a legend: a swatch colour, its shape and what it means."""

    colour: str
    label: str
    shape: str = "square"  # square (areas) or circle (points)


class Legend(MacroElement):
    """A titled legend in a map corner, built with DOM text nodes (labels are never HTML).

    A legend with a `key` carries it as `data-legend`, so the page script can show it only while
    what it explains is drawn.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function () {
                var data = {{ this.data|tojson }};
                var legend = L.control({position: data.position});
                legend.onAdd = function () {
                    var box = L.DomUtil.create('section', 'map-legend');
                    box.setAttribute('aria-label', data.title);
                    if (data.key) { box.setAttribute('data-legend', data.key); }
                    var title = L.DomUtil.create('h2', 'map-legend-title', box);
                    title.textContent = data.title;
                    var list = L.DomUtil.create('ul', '', box);
                    data.items.forEach(function (item) {
                        var li = L.DomUtil.create('li', '', list);
                        var swatch = L.DomUtil.create('span', 'swatch swatch-' + item.shape, li);
                        swatch.style.background = item.colour;
                        li.appendChild(document.createTextNode(item.label));
                    });
                    return box;
                };
                legend.addTo({{ this._parent.get_name() }});
            })();
        {% endmacro %}
        """
    )

    def __init__(
        self, title: str, items: list[LegendItem], position: str = "bottomright", key: str = ""
    ):
        super().__init__()
        self._name = "Legend"
        self.data = {
            "title": title,
            "position": position,
            "key": key,
            "items": [{"colour": i.colour, "label": i.label, "shape": i.shape} for i in items],
        }


def risk_level_legend(title: str, names: dict[str, str], key: str = "") -> Legend:
    """Risk points by level: red, orange, yellow, blue (突发事件应对法 第六十三条)."""
    items = [LegendItem(RISK_LEVEL_COLOURS[k], names[k], "circle") for k in RISK_LEVEL_COLOURS]
    return Legend(title, items, position="bottomleft", key=key)


def risk_score_legend(title: str, range_label: str, key: str = "") -> Legend:
    """Grid cells by risk score class; `range_label` formats '{low}–{high}' / '{low}+'."""
    items = []
    for index, (low, colour) in enumerate(RISK_SCORE_CLASSES):
        nxt = RISK_SCORE_CLASSES[index + 1][0] if index + 1 < len(RISK_SCORE_CLASSES) else None
        if nxt is None:
            text = f"{low}+"
        elif nxt - 1 == low:
            text = str(low)
        else:
            text = range_label.format(low=low, high=nxt - 1)
        items.append(LegendItem(colour, text))
    return Legend(title, items, key=key)


def case_legend(
    title: str, names: dict[str, str], key: str = "", cluster: str | None = None
) -> Legend:
    """Cases by urgency: open, yellow warning, red warning, settled; and, when the map clusters
    them, the numbered circle that stands for several."""
    items = [LegendItem(CASE_COLOURS[k], names[k], "circle") for k in CASE_COLOURS if k in names]
    if cluster:
        items.append(LegendItem(CLUSTER_COLOUR, cluster, "circle"))
    return Legend(title, items, key=key)


def count_legend(title: str, names: dict[str, str], key: str = "") -> Legend:
    """Count bubbles (cases per town, village or grid cell) by their worst warning."""
    items = [LegendItem(COUNT_COLOURS[k], names[k], "circle") for k in COUNT_COLOURS if k in names]
    return Legend(title, items, key=key)


def campaign_legend(title: str, names: dict[str, str], key: str = "") -> Legend:
    """A campaign's grid cells: done, pending, overdue."""
    items = [LegendItem(CAMPAIGN_COLOURS[k], names[k]) for k in CAMPAIGN_COLOURS if k in names]
    return Legend(title, items, key=key)
