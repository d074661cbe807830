"""Small hand-built geographies for the tests."""

from __future__ import annotations

from app.extensions import db
from app.geo import services

COUNTY = "371699000000"
TOWN = "371699101000"
TOWN_B = "371699102000"
VILLAGE = "371699101200"  # west half of TOWN
VILLAGE_B = "371699101201"  # east half of TOWN
VILLAGE_C = "371699102200"


def box(minx: float, miny: float, maxx: float, maxy: float) -> dict:
    """A GeoJSON Polygon for a lon/lat box."""
    return {
        "type": "Polygon",
        "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]],
    }


def feature(code: str, name: str, geometry: dict, parent: str | None = None, **props) -> dict:
    """A GeoJSON Feature with code, name and parent_code."""
    properties = {"code": code, "name": name, **props}
    if parent is not None:
        properties["parent_code"] = parent
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict) -> dict:
    """A FeatureCollection."""
    return {"type": "FeatureCollection", "features": list(features)}


def build_county() -> None:
    """County 0.2°×0.2° at 118.0–118.2E 37.3–37.5N; two towns; three villages."""
    services.import_geojson(
        collection(
            feature(COUNTY, "测试县", box(118.0, 37.3, 118.2, 37.5), valid_from="2000-01-01")
        ),
        "county",
    )
    services.import_geojson(
        collection(
            feature(TOWN, "甲镇", box(118.0, 37.3, 118.1, 37.5), COUNTY, valid_from="2000-01-01"),
            feature(TOWN_B, "乙镇", box(118.1, 37.3, 118.2, 37.5), COUNTY, valid_from="2000-01-01"),
        ),
        "town",
    )
    services.import_geojson(
        collection(
            feature(
                VILLAGE, "东村", box(118.0, 37.3, 118.05, 37.35), TOWN, valid_from="2000-01-01"
            ),
            feature(
                VILLAGE_B, "西村", box(118.05, 37.3, 118.1, 37.35), TOWN, valid_from="2000-01-01"
            ),
            feature(
                VILLAGE_C, "南村", box(118.1, 37.3, 118.15, 37.35), TOWN_B, valid_from="2000-01-01"
            ),
        ),
        "village",
    )
    db.session.commit()


def build_cells() -> None:
    """Two cells splitting VILLAGE at 118.025E, one covering VILLAGE_B."""
    services.import_geojson(
        collection(
            feature(f"{VILLAGE}001", "东村第1网格", box(118.0, 37.3, 118.025, 37.35), VILLAGE),
            feature(f"{VILLAGE}002", "东村第2网格", box(118.025, 37.3, 118.05, 37.35), VILLAGE),
            feature(f"{VILLAGE_B}001", "西村第1网格", box(118.05, 37.3, 118.1, 37.35), VILLAGE_B),
        ),
        "grid",
    )
    db.session.commit()
