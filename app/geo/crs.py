"""GCJ-02 (国测局坐标, used by Amap, Tencent and WeChat) and BD-09 to WGS84, at the edge.

GCJ-02 is WGS84 plus a published, deterministic offset of a few hundred metres inside mainland
China. The forward transform is the widely reproduced public algorithm; the inverse is solved by
fixed-point iteration to well under a centimetre.
"""

from __future__ import annotations

import math

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the algorithm uses
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

CRS_CHOICES = ("wgs84", "gcj02", "bd09")


def outside_china(lon: float, lat: float) -> bool:
    """The rough box where GCJ-02 applies an offset at all."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Apply the GCJ-02 offset to a WGS84 point."""
    if outside_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Remove the GCJ-02 offset by iteration (error < 1e-9 degrees)."""
    if outside_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        if abs(dlon) < 1e-10 and abs(dlat) < 1e-10:
            break
        wlon, wlat = wlon - dlon, wlat - dlat
    return wlon, wlat


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Baidu's BD-09 to GCJ-02."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """Convert a point given in `crs` (wgs84, gcj02 or bd09) to WGS84."""
    if crs == "wgs84":
        return lon, lat
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    raise ValueError(f"unknown crs {crs!r}; allowed: {', '.join(CRS_CHOICES)}")


def transform_coordinates(coords, crs: str):
    """Convert nested GeoJSON coordinate arrays from `crs` to WGS84."""
    if crs == "wgs84":
        return coords
    if coords and isinstance(coords[0], (int, float)):
        lon, lat = to_wgs84(float(coords[0]), float(coords[1]), crs)
        return [lon, lat, *coords[2:]]
    return [transform_coordinates(c, crs) for c in coords]


# --- the same offset in SQL, for vector tiles drawn over a GCJ-02 base map (docs/maps.md) ------

# Step of the numerical derivative (degrees): the offset's second derivative is below 0.05 per
# degree, so the affine map below is off by < 0.1 m within 3 km of a feature's centroid.
_SQL_STEP = 0.001


def _sql_transform_lat(x: str, y: str) -> str:
    return (
        f"(-100.0 + 2.0 * {x} + 3.0 * {y} + 0.2 * {y} * {y} + 0.1 * {x} * {y}"
        f" + 0.2 * sqrt(abs({x}))"
        f" + (20.0 * sin(6.0 * {x} * pi()) + 20.0 * sin(2.0 * {x} * pi())) * 2.0 / 3.0"
        f" + (20.0 * sin({y} * pi()) + 40.0 * sin({y} / 3.0 * pi())) * 2.0 / 3.0"
        f" + (160.0 * sin({y} / 12.0 * pi()) + 320 * sin({y} * pi() / 30.0)) * 2.0 / 3.0)"
    )


def _sql_transform_lon(x: str, y: str) -> str:
    return (
        f"(300.0 + {x} + 2.0 * {y} + 0.1 * {x} * {x} + 0.1 * {x} * {y}"
        f" + 0.1 * sqrt(abs({x}))"
        f" + (20.0 * sin(6.0 * {x} * pi()) + 20.0 * sin(2.0 * {x} * pi())) * 2.0 / 3.0"
        f" + (20.0 * sin({x} * pi()) + 40.0 * sin({x} / 3.0 * pi())) * 2.0 / 3.0"
        f" + (150.0 * sin({x} / 12.0 * pi()) + 300.0 * sin({x} / 30.0 * pi())) * 2.0 / 3.0)"
    )


def _sql_offset(lon: str, lat: str) -> tuple[str, str]:
    """SQL for (dlon, dlat) in degrees at a WGS84 point, as wgs84_to_gcj02 adds them."""
    x, y = f"({lon} - 105.0)", f"({lat} - 35.0)"
    magic = f"(1 - {_EE!r} * power(sin({lat} / 180.0 * pi()), 2))"
    dlat = (
        f"({_sql_transform_lat(x, y)} * 180.0"
        f" / (({_A!r} * (1 - {_EE!r})) / ({magic} * sqrt({magic})) * pi()))"
    )
    dlon = (
        f"({_sql_transform_lon(x, y)} * 180.0"
        f" / ({_A!r} / sqrt({magic}) * cos({lat} / 180.0 * pi()) * pi()))"
    )
    return dlon, dlat


def gcj02_sql(geom: str) -> str:
    """SQL shifting a WGS84 (4326) geometry to GCJ-02, as one scalar expression.

    Each feature moves by the offset at its centroid plus its first derivative there (ST_Affine):
    exact for points, and within 0.1 m for features up to a few km across (grid cells, villages'
    anchors). Features whose centroid lies outside China's box are not moved, as in Python.
    """
    h = _SQL_STEP
    x0, y0 = _sql_offset("q.cx", "q.cy")
    x1, y1 = _sql_offset(f"(q.cx + {h})", "q.cy")
    x2, y2 = _sql_offset("q.cx", f"(q.cy + {h})")
    a, b = f"((o.x1 - o.x0) / {h})", f"((o.x2 - o.x0) / {h})"
    d, e = f"((o.y1 - o.y0) / {h})", f"((o.y2 - o.y0) / {h})"
    inside = "CASE WHEN r.cx BETWEEN 72.004 AND 137.8347 AND r.cy BETWEEN 0.8293 AND 55.8271"
    return (
        f"(SELECT ST_Affine(o.g, 1 + {a}, {b}, {d}, 1 + {e},"
        f" o.x0 - {a} * o.cx - {b} * o.cy, o.y0 - {d} * o.cx - {e} * o.cy)"
        f" FROM (SELECT q.g, q.cx, q.cy, q.k * {x0} AS x0, q.k * {y0} AS y0,"
        f" q.k * {x1} AS x1, q.k * {y1} AS y1, q.k * {x2} AS x2, q.k * {y2} AS y2"
        f" FROM (SELECT r.g, r.cx, r.cy, {inside} THEN 1.0 ELSE 0.0 END AS k"
        f" FROM (SELECT s.g, ST_X(ST_Centroid(s.g)) AS cx, ST_Y(ST_Centroid(s.g)) AS cy"
        f" FROM (SELECT ({geom}) AS g) s) r) q) o)"
    )
