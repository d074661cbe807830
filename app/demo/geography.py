"""A synthetic county at real coordinates on the lower Yellow River (Shandong), built by Voronoi.

Deterministic: the same seed always gives the same county, towns, villages and codes.
"""

from __future__ import annotations

import math
import random

import shapely
from shapely.geometry import MultiPoint
from shapely.geometry import Point
from shapely.geometry import Polygon
from shapely.geometry import mapping

SEED = 20261126
COUNTY_CODE = "371699000000"
COUNTY_NAME = "示范县"
# Its parents (issue 17): the 市 and 省 the county's code names, without boundaries.
PREFECTURE_CODE = "371600000000"
PREFECTURE_NAME = "滨州市"
PROVINCE_CODE = "370000000000"
PROVINCE_NAME = "山东省"
ORIGIN_DATE = "2000-01-01"
MERGE_DATE = "2021-07-01"
CENTRE = (118.05, 37.38)  # 滨州 area, near the Yellow River

TOWNS = [
    ("001", "城关街道"),
    ("101", "黄河镇"),
    ("102", "清河镇"),
    ("103", "杨柳镇"),
    ("104", "新集镇"),
    ("201", "白桥乡"),
]
VILLAGES_PER_TOWN = 11
SURNAMES = "张王李赵刘陈杨黄孙周吴徐马朱胡郭何高林罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
VILLAGE_SUFFIXES = ["家庄", "庄", "家村", "集", "家屯", "店", "家洼", "楼"]
COMMUNITY_NAMES = [
    "东关",
    "西关",
    "南关",
    "北关",
    "文昌",
    "育才",
    "新华",
    "幸福",
    "和平",
    "建设",
    "滨河",
]
# 新村: (town index, indices of the villages merged, new village name)
NEW_VILLAGES = [(1, (2, 3), "黄河新村"), (4, (5, 6, 7), "村台新村")]


def _county_outline(rng: random.Random) -> Polygon:
    """An irregular outline about 44 km by 39 km around CENTRE."""
    cx, cy = CENTRE
    points = []
    for k in range(24):
        angle = 2 * math.pi * k / 24
        radius = 1.0 + rng.uniform(-0.12, 0.12)
        points.append((cx + 0.25 * radius * math.cos(angle), cy + 0.175 * radius * math.sin(angle)))
    return Polygon(points)


def _seeds(rng: random.Random, area: Polygon, count: int, min_gap: float) -> list[Point]:
    """Well-spread random points inside an area (rejection sampling)."""
    minx, miny, maxx, maxy = area.bounds
    inner = area.buffer(-min_gap / 3)
    seeds: list[Point] = []
    gap = min_gap
    tries = 0
    while len(seeds) < count:
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        tries += 1
        if tries % 2000 == 0:
            gap *= 0.8
        if inner.contains(p) and all(p.distance(q) >= gap for q in seeds):
            seeds.append(p)
    return seeds


def _partition(area: Polygon, seeds: list[Point]) -> list[Polygon]:
    """Voronoi cells of the seeds, clipped to the area, in the order of the seeds."""
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=area)
    out = []
    for seed in seeds:
        cell = next(c for c in cells.geoms if c.contains(seed))
        piece = cell.intersection(area)
        if piece.geom_type == "MultiPolygon":
            piece = max(piece.geoms, key=lambda g: g.area)
        out.append(shapely.set_precision(piece, 1e-7))
    return out


def _feature(code: str, name: str, geom, parent: str | None = None, **props) -> dict:
    properties = {"code": code, "name": name, **props}
    if parent:
        properties["parent_code"] = parent
    return {"type": "Feature", "properties": properties, "geometry": mapping(geom)}


def build() -> dict[str, list[dict]]:
    """Features for each level: county, towns, villages, then the 新村 that replace some."""
    rng = random.Random(SEED)
    county = shapely.set_precision(_county_outline(rng), 1e-7)
    town_polys = _partition(county, _seeds(rng, county, len(TOWNS), 0.12))
    counties = [_feature(COUNTY_CODE, COUNTY_NAME, county, valid_from=ORIGIN_DATE)]
    towns, villages, new_villages = [], [], []
    used_names: set[str] = set()
    for t, ((tcode, tname), tpoly) in enumerate(zip(TOWNS, town_polys, strict=True)):
        town_code = f"{COUNTY_CODE[:6]}{tcode}000"
        towns.append(_feature(town_code, tname, tpoly, COUNTY_CODE, valid_from=ORIGIN_DATE))
        vpolys = _partition(tpoly, _seeds(rng, tpoly, VILLAGES_PER_TOWN, 0.03))
        codes = []
        for v, vpoly in enumerate(vpolys):
            if tcode.startswith("0"):  # 街道: 社区 numbered from 001
                vcode = f"{town_code[:9]}{v + 1:03d}"
                name = f"{COMMUNITY_NAMES[v % len(COMMUNITY_NAMES)]}社区"
            else:  # 镇/乡: 村 numbered from 200
                vcode = f"{town_code[:9]}{200 + v:03d}"
                while True:
                    name = rng.choice(SURNAMES) + rng.choice(VILLAGE_SUFFIXES) + "村"
                    if name not in used_names:
                        break
            used_names.add(name)
            codes.append((vcode, vpoly))
            villages.append(_feature(vcode, name, vpoly, town_code, valid_from=ORIGIN_DATE))
        for town_index, merged, new_name in NEW_VILLAGES:
            if town_index != t:
                continue
            parts = [codes[i] for i in merged]
            union = shapely.set_precision(shapely.union_all([p for _, p in parts]), 1e-7)
            new_code = f"{town_code[:9]}{200 + VILLAGES_PER_TOWN + len(new_villages):03d}"
            new_villages.append(
                _feature(
                    new_code,
                    new_name,
                    union,
                    town_code,
                    valid_from=MERGE_DATE,
                    predecessors=[c for c, _ in parts],
                )
            )
    return {"county": counties, "town": towns, "village": villages, "new_village": new_villages}


def collection(features: list[dict]) -> dict:
    """Wrap features in a FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}
