"""Geography operations: import boundaries, generate grid cells.

Services flush; the caller (a request or a CLI command) commits once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date

import shapely
from shapely import wkb as shapely_wkb
from sqlalchemy import text

from app.core import geojson
from app.extensions import db
from app.geo.crs import transform_coordinates

# Mainland China's extent, as the import and locate checks apply it (73–136°E, 3–54°N).
CHINA_EXTENT = (73.0, 3.0, 136.0, 54.0)
# "Enormous" geometry is refused before PostGIS has to chew on it. China's largest county
# (若羌县, about 200,000 km²) spans some 6° by 4°: a feature wider or taller than 10° is no
# county, town, village or cell. Real boundaries (天地图 village lines) have a few thousand
# vertices; 100,000 in one feature is a mistake (an undecimated survey) or an attack.
MAX_FEATURE_DEGREES = 10.0
MAX_FEATURE_VERTICES = 100_000
# Tolerances from the issue: a cell may stick out of its village by 1 m; overlaps up to 1 m².
CONTAINMENT_TOLERANCE_M = 1.0
OVERLAP_TOLERANCE_M2 = 1.0
SLIVER_SHARE = 0.25
MAX_CELLS_PER_VILLAGE = 999

CODE_PATTERNS = {
    # county: 6 digits + 000000
    "county": re.compile(r"^\d{6}000000$"),
    # town: county digits + 001–399 + 000
    "town": re.compile(r"^\d{6}(?!000)([0-3]\d{2})000$"),
    # village: town digits + 001–999
    "village": re.compile(r"^\d{6}(?!000)[0-3]\d{2}(?!000)\d{3}$"),
    # grid cell: village digits + 001–999
    "grid": re.compile(r"^\d{6}(?!000)[0-3]\d{2}(?!000)\d{3}(?!000)\d{3}$"),
}
CODE_RULES = {
    "county": "12 位数字：6 位县级代码 + 000000",
    "town": "12 位数字：6 位县级代码 + 3 位乡级代码(001–399) + 000",
    "village": "12 位数字：9 位乡级代码 + 3 位村级代码(001–999)",
    "grid": "15 位数字：12 位村级代码 + 3 位网格序号(001–999)",
}
PARENT_LEVEL = {"town": "county", "village": "town", "grid": "village"}
PARENT_PREFIX = {"town": 6, "village": 9, "grid": 12}
IMPORT_LEVELS = ("county", "town", "village", "grid")


# --- import -------------------------------------------------------------------------------------


@dataclass
class Problem:
    """One problem with one feature of an import file."""

    index: int | None
    code: str | None
    message: str

    def __str__(self) -> str:
        where = "文件" if self.index is None else f"要素 #{self.index}"
        if self.code:
            where += f" (code {self.code})"
        return f"{where}: {self.message}"


class ImportRejected(Exception):
    """The import was refused; nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class ImportResult:
    """What an import changed."""

    level: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    codes: list[str] = field(default_factory=list)


MALFORMED_RING = "坐标格式错误：每个位置应为 [经度, 纬度]"


def _geometry_problem(geometry) -> str | None:
    """Check a GeoJSON geometry's structure (validity proper is PostGIS's job)."""
    if not isinstance(geometry, dict):
        return "缺少几何对象 geometry"
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    if gtype not in ("Polygon", "MultiPolygon"):
        return f"几何类型应为 Polygon 或 MultiPolygon，而不是 {gtype!r}"
    polygons = [coords] if gtype == "Polygon" else coords
    if not isinstance(polygons, (list, tuple)) or not polygons:
        return "几何对象没有坐标"
    if _vertex_count(polygons) > MAX_FEATURE_VERTICES:
        return f"顶点过多（超过 {MAX_FEATURE_VERTICES} 个）：请先抽稀边界再导入"
    for polygon in polygons:
        if not isinstance(polygon, (list, tuple)) or not polygon:
            return "多边形没有坐标环"
        for ring in polygon:
            problem = geojson.ring_problem(ring, malformed=MALFORMED_RING)
            if problem:
                return problem
    return None


def _vertex_count(polygons) -> int:
    """Positions in a list of polygons (malformed parts count as none; checked afterwards)."""
    return sum(
        len(ring)
        for polygon in polygons
        if isinstance(polygon, (list, tuple))
        for ring in polygon
        if isinstance(ring, (list, tuple))
    )


def _properties_problems(level: str, props) -> tuple[list[str], dict]:
    """Check a feature's properties; returns problems and the cleaned values."""
    problems: list[str] = []
    if not isinstance(props, dict):
        return ["缺少 properties"], {}
    code = props.get("code")
    name = props.get("name")
    parent = props.get("parent_code")
    clean = {"code": None, "name": None, "parent_code": None}
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code:
        problems.append("缺少 code")
    elif not CODE_PATTERNS[level].match(code):
        problems.append(f"code 格式错误：{CODE_RULES[level]}")
    else:
        clean["code"] = code
    if not isinstance(name, str) or not name.strip():
        problems.append("缺少 name")
    elif len(name.strip()) > 100:
        problems.append("name 过长（最多 100 个字符）")
    else:
        clean["name"] = name.strip()
    if level == "county" and clean["code"]:
        # A county's parent is its 市 (4 digits + zeros), linked when that region exists.
        clean["parent_code"] = clean["code"][:4] + "0" * 8
    if level != "county":
        if isinstance(parent, int) and not isinstance(parent, bool):
            parent = str(parent)
        if not isinstance(parent, str) or not parent:
            problems.append("缺少 parent_code")
        elif (
            clean["code"]
            and parent[: PARENT_PREFIX[level]] != clean["code"][: PARENT_PREFIX[level]]
        ):
            problems.append(
                f"parent_code {parent} 与 code 不一致：code 应以上级代码的前 "
                f"{PARENT_PREFIX[level]} 位开头"
            )
        else:
            clean["parent_code"] = parent
    for key in ("households", "population"):
        value = props.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            problems.append(f"{key} 应为非负整数")
    preds = props.get("predecessors")
    clean["predecessors"] = []
    if preds is not None:
        if level != "village":
            problems.append("只有村级区划可以有 predecessors（被合并或搬迁的原村）")
        elif not isinstance(preds, list) or not all(isinstance(c, str) for c in preds):
            problems.append("predecessors 应为原村代码的列表")
        elif clean["code"] in preds:
            problems.append("predecessors 不能包含自身")
        else:
            clean["predecessors"] = preds
    valid_from = props.get("valid_from")
    clean["valid_from"] = None
    if valid_from is not None:
        try:
            clean["valid_from"] = date.fromisoformat(str(valid_from))
        except ValueError:
            problems.append("valid_from 应为 YYYY-MM-DD 格式的日期")
    clean["households"] = props.get("households") if level == "grid" else None
    clean["population"] = props.get("population") if level == "grid" else None
    return problems, clean


CHECKS_SQL = {
    "invalid": """
        SELECT idx, code, '几何无效：' || ST_IsValidReason(geom) AS message
          FROM import_features WHERE NOT ST_IsValid(geom)
    """,
    "empty": """
        SELECT idx, code, '几何为空' AS message FROM import_features WHERE ST_IsEmpty(geom)
    """,
    "extent": """
        SELECT idx, code,
               format('坐标超出中国范围（经度 73–136°E，纬度 3–54°N）：%s',
                      ST_Extent(geom)::text)
          FROM import_features
         WHERE ST_XMin(geom) < :minx OR ST_YMin(geom) < :miny
            OR ST_XMax(geom) > :maxx OR ST_YMax(geom) > :maxy
         GROUP BY idx, code
    """,
    "enormous": """
        SELECT idx, code,
               format('范围过大：%s × %s 度，超过 %s 度（远大于一个县）',
                      round((ST_XMax(geom) - ST_XMin(geom))::numeric, 2),
                      round((ST_YMax(geom) - ST_YMin(geom))::numeric, 2), :maxdeg)
          FROM import_features
         WHERE ST_XMax(geom) - ST_XMin(geom) > :maxdeg OR ST_YMax(geom) - ST_YMin(geom) > :maxdeg
    """,
    "level_clash": """
        SELECT f.idx, f.code, format('code 已被%s级区划使用', r.level) AS message
          FROM import_features f JOIN regions r ON r.code = f.code
         WHERE :level <> 'grid' AND r.level <> :level
    """,
    "parent_missing": """
        SELECT f.idx, f.code, format('上级 %s 不存在或不是%s', f.parent_code, :parent_level_name)
          FROM import_features f
         WHERE :level <> 'county' AND NOT EXISTS (
               SELECT 1 FROM regions p WHERE p.code = f.parent_code AND p.level = :parent_level)
    """,
    "parent_unbounded": """
        SELECT f.idx, f.code, format('上级村 %s 边界未导入：先导入村界再导入网格', p.code)
          FROM import_features f JOIN regions p ON p.code = f.parent_code
         WHERE :level = 'grid' AND p.boundary IS NULL
    """,
    "parent_abolished": """
        SELECT f.idx, f.code, format('上级 %s 已撤销（%s）', p.code, p.valid_to)
          FROM import_features f JOIN regions p ON p.code = f.parent_code
         WHERE p.valid_to IS NOT NULL AND p.valid_to <= current_date
    """,
    "outside_parent": """
        WITH f AS MATERIALIZED (
            SELECT f.idx, f.code, f.geom, p.boundary, p.code AS parent_code
              FROM import_features f
              JOIN regions p ON p.code = f.parent_code AND p.level = :parent_level
             WHERE ST_IsValid(f.geom) AND ST_IsValid(p.boundary))
        SELECT idx, code,
               format('超出上级 %s 的范围 %s 米以上（超出部分约 %s 平方米）', parent_code, :tol,
                      round(ST_Area(ST_Difference(geom, boundary)::geography)::numeric, 1))
          FROM f
         WHERE NOT ST_Covers(ST_Buffer(boundary::geography, :tol)::geometry, geom)
    """,
    "predecessors": """
        SELECT f.idx, f.code, format('原村 %s 不存在或不是村级区划', pc)
          FROM import_features f, unnest(f.predecessors) AS pc
         WHERE NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = pc AND r.level = 'village')
        UNION ALL
        SELECT f.idx, f.code,
               format('原村 %s 的生效日期 %s 不早于新村的 valid_from %s', r.code, r.valid_from,
                      coalesce(f.valid_from, current_date))
          FROM import_features f, unnest(f.predecessors) AS pc
          JOIN regions r ON r.code = pc
         WHERE r.valid_from >= coalesce(f.valid_from, current_date)
    """,
    "overlap": """
        WITH cand AS MATERIALIZED (
            SELECT f.idx, f.code, f.geom, f.parent_code
              FROM import_features f
             WHERE ST_IsValid(f.geom)
               -- an abolished (已撤销) region may lie under the 新村 that replaced it
               AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = f.code
                                  AND r.valid_to IS NOT NULL AND r.valid_to <= current_date)),
        siblings AS MATERIALIZED (
            SELECT NULL::int AS idx, s.code, s.geom, s.parent_code FROM (
                SELECT g.code, g.geom, v.code AS parent_code
                  FROM grid_cells g JOIN regions v ON v.id = g.village_id
                 WHERE :level = 'grid'
                UNION ALL
                SELECT r.code, r.boundary, p.code
                  FROM regions r LEFT JOIN regions p ON p.id = r.parent_id
                 WHERE :level <> 'grid' AND r.level = :level
                   AND (r.valid_to IS NULL OR r.valid_to > current_date)
            ) s
             WHERE s.code NOT IN (SELECT code FROM import_features)
               -- villages being replaced by a 新村 of this file are abolished by it
               AND s.code NOT IN (SELECT unnest(predecessors) FROM import_features)
               AND ST_IsValid(s.geom)
               AND coalesce(s.parent_code, '') IN (SELECT coalesce(parent_code, '') FROM cand)
            UNION ALL
            SELECT idx, code, geom, parent_code FROM cand)
        SELECT a.idx, a.code,
               format('与 %s 重叠约 %s 平方米（允许 %s 平方米）', b.code,
                      round(ST_Area(ST_Intersection(a.geom, b.geom)::geography)::numeric, 1), :area)
          FROM cand a
          JOIN siblings b
            ON b.parent_code IS NOT DISTINCT FROM a.parent_code AND b.code <> a.code
           AND (b.idx IS NULL OR b.idx > a.idx)
           AND ST_Intersects(a.geom, b.geom)
         WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography) > :area
    """,
}

UPSERT_REGION_SQL = text(
    """
    INSERT INTO regions (code, name, level, parent_id, boundary, valid_from)
    SELECT f.code, f.name, :level, p.id, f.geom, coalesce(f.valid_from, current_date)
      FROM import_features f LEFT JOIN regions p ON p.code = f.parent_code
     ORDER BY f.idx
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, parent_id = coalesce(EXCLUDED.parent_id, regions.parent_id),
           boundary = EXCLUDED.boundary,
           valid_from = coalesce(
               (SELECT f.valid_from FROM import_features f WHERE f.code = EXCLUDED.code),
               regions.valid_from),
           updated_at = now()
     WHERE regions.name IS DISTINCT FROM EXCLUDED.name
        OR regions.parent_id IS DISTINCT FROM coalesce(EXCLUDED.parent_id, regions.parent_id)
        OR regions.boundary IS NULL
        OR NOT ST_Equals(regions.boundary, EXCLUDED.boundary)
        OR regions.valid_from IS DISTINCT FROM coalesce(
               (SELECT f.valid_from FROM import_features f WHERE f.code = EXCLUDED.code),
               regions.valid_from)
    RETURNING code, (xmax = 0) AS inserted
    """
)

UPSERT_CELL_SQL = text(
    """
    INSERT INTO grid_cells (code, name, village_id, geom, households, population)
    SELECT f.code, f.name, p.id, f.geom, f.households, f.population
      FROM import_features f JOIN regions p ON p.code = f.parent_code
     ORDER BY f.idx
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, village_id = EXCLUDED.village_id, geom = EXCLUDED.geom,
           households = EXCLUDED.households, population = EXCLUDED.population,
           updated_at = now()
     WHERE grid_cells.name IS DISTINCT FROM EXCLUDED.name
        OR grid_cells.village_id IS DISTINCT FROM EXCLUDED.village_id
        OR NOT ST_Equals(grid_cells.geom, EXCLUDED.geom)
        OR grid_cells.households IS DISTINCT FROM EXCLUDED.households
        OR grid_cells.population IS DISTINCT FROM EXCLUDED.population
    RETURNING code, (xmax = 0) AS inserted
    """
)


def import_geojson(collection, level: str, crs: str = "wgs84") -> ImportResult:
    """Check every feature of an RFC 7946 FeatureCollection, then upsert them all by code.

    Raises ImportRejected listing every problem (and writes nothing) when any feature is bad.
    """
    if level not in IMPORT_LEVELS:
        raise ValueError(f"level must be one of {', '.join(IMPORT_LEVELS)}")
    problems: list[Problem] = []
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ImportRejected([Problem(None, None, "文件不是 GeoJSON FeatureCollection")])
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise ImportRejected([Problem(None, None, "FeatureCollection 中没有要素")])

    rows = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(Problem(index, None, "不是 GeoJSON Feature"))
            continue
        prop_problems, clean = _properties_problems(level, feature.get("properties"))
        code = clean.get("code")
        problems += [Problem(index, code, p) for p in prop_problems]
        if code in seen:
            problems.append(Problem(index, code, f"code 在文件中重复（另见要素 #{seen[code]}）"))
        elif code:
            seen[code] = index
        geometry = feature.get("geometry")
        geom_problem = _geometry_problem(geometry)
        if geom_problem:
            problems.append(Problem(index, code, geom_problem))
            continue
        if prop_problems:
            continue
        coords = transform_coordinates(geometry["coordinates"], crs)
        rows.append(
            {**clean, "idx": index, "geojson": json.dumps({**geometry, "coordinates": coords})}
        )

    session = db.session
    with session.begin_nested():
        session.execute(
            text(
                """
                CREATE TEMP TABLE IF NOT EXISTS import_features (
                    idx int, code text, name text, parent_code text,
                    households int, population int, predecessors text[], valid_from date,
                    geom geometry(MultiPolygon, 4326)
                ) ON COMMIT DROP
                """
            )
        )
        session.execute(text("TRUNCATE import_features"))
        if rows:
            session.execute(
                text(
                    """
                    INSERT INTO import_features
                    VALUES (:idx, :code, :name, :parent_code, :households, :population,
                            :predecessors, :valid_from,
                            ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:geojson), 4326)))
                    """
                ),
                rows,
            )
        params = {
            "level": level,
            "parent_level": PARENT_LEVEL.get(level, ""),
            "parent_level_name": _level_name(PARENT_LEVEL.get(level)),
            "tol": CONTAINMENT_TOLERANCE_M,
            "area": OVERLAP_TOLERANCE_M2,
            "minx": CHINA_EXTENT[0],
            "miny": CHINA_EXTENT[1],
            "maxx": CHINA_EXTENT[2],
            "maxy": CHINA_EXTENT[3],
            "maxdeg": MAX_FEATURE_DEGREES,
        }
        for sql in CHECKS_SQL.values():
            for idx, code, message in session.execute(text(sql), params):
                problems.append(Problem(idx, code, message))
        if problems:
            # Leaving the block by an exception rolls the savepoint back: nothing is written.
            problems.sort(key=lambda p: (-1 if p.index is None else p.index, p.message))
            raise ImportRejected(problems)

        upsert = UPSERT_CELL_SQL if level == "grid" else UPSERT_REGION_SQL
        result = ImportResult(level=level, codes=[r["code"] for r in rows])
        for _code, inserted in session.execute(upsert, {"level": level}):
            if inserted:
                result.inserted += 1
            else:
                result.updated += 1
        result.unchanged = len(rows) - result.inserted - result.updated
        if level == "village":
            _link_predecessors()
        session.execute(text("TRUNCATE import_features"))
    return result


def _link_predecessors() -> None:
    """Link each 新村 of the import to the villages it replaced and mark those 已撤销."""
    db.session.execute(
        text(
            """
            INSERT INTO region_predecessors (region_id, predecessor_id)
            SELECT r.id, p.id
              FROM import_features f
              JOIN regions r ON r.code = f.code
              JOIN regions p ON p.code = ANY (f.predecessors)
            ON CONFLICT DO NOTHING
            """
        )
    )
    db.session.execute(
        text(
            """
            UPDATE regions p SET valid_to = r.valid_from, updated_at = now()
              FROM import_features f
              JOIN regions r ON r.code = f.code
             WHERE p.code = ANY (f.predecessors) AND p.valid_to IS NULL
            """
        )
    )


def _level_name(level: str | None) -> str:
    return {"county": "县级", "town": "乡级", "village": "村级"}.get(level or "", "")


# --- grid generation ----------------------------------------------------------------------------


class GridError(Exception):
    """A grid cannot be generated as asked; nothing was written."""


@dataclass
class GridResult:
    """What make-grid produced."""

    village_code: str
    srid: int
    cells: int
    merged_slivers: int
    replaced: int


def utm_srid(lon: float) -> int:
    """The WGS84 / UTM north zone (EPSG:326xx) for a longitude: a metric projection."""
    zone = int(math.floor((lon + 180.0) / 6.0)) + 1
    return 32600 + min(max(zone, 1), 60)


def referencing_columns() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to grid_cells.id, read from the catalogue."""
    rows = db.session.execute(
        text(
            """
            SELECT c.conrelid::regclass::text, a.attname
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
             WHERE c.contype = 'f' AND c.confrelid = 'grid_cells'::regclass
            """
        )
    )
    return [(table, column) for table, column in rows]


def make_grid(village_code: str, shape: str = "square", cell_size: float = 500.0) -> GridResult:
    """Cover a village with square or hexagonal cells, merging slivers, numbered W→E, N→S."""
    if shape not in ("square", "hex"):
        raise GridError("shape 应为 square 或 hex")
    if not (10 <= cell_size <= 20000):
        raise GridError("cell-size 应在 10 到 20000 米之间")
    session = db.session
    village = session.execute(
        text(
            """
            SELECT id, code, name, level, valid_to, ST_X(ST_Centroid(boundary)) AS lon
              FROM regions WHERE code = :code
            """
        ),
        {"code": village_code},
    ).first()
    if village is None:
        raise GridError(f"村级区划 {village_code} 不存在")
    if village.level != "village":
        raise GridError(f"{village_code} 是{_level_name(village.level)}区划，不是村")
    if village.valid_to is not None:
        raise GridError(f"村 {village_code} 已撤销（{village.valid_to}），不能生成网格")
    if village.lon is None:
        raise GridError(f"村 {village_code} 边界未导入，不能生成网格")

    existing = [
        r[0]
        for r in session.execute(
            text("SELECT id FROM grid_cells WHERE village_id = :vid"), {"vid": village.id}
        )
    ]
    if existing:
        for table, column in referencing_columns():
            used = session.execute(
                text(f'SELECT count(*) FROM {table} WHERE "{column}" = ANY(:ids)'),
                {"ids": existing},
            ).scalar_one()
            if used:
                raise GridError(
                    f"村 {village_code} 的现有网格被 {table} 中 {used} 条记录引用，不能替换"
                )

    srid = utm_srid(village.lon)
    nominal = cell_size**2 if shape == "square" else 3 * math.sqrt(3) / 2 * cell_size**2
    area = session.execute(
        text("SELECT ST_Area(ST_Transform(boundary, :srid)) FROM regions WHERE id = :vid"),
        {"srid": srid, "vid": village.id},
    ).scalar_one()
    if area / nominal > MAX_CELLS_PER_VILLAGE:
        raise GridError(
            f"约需 {math.ceil(area / nominal)} 个网格，超过每村 {MAX_CELLS_PER_VILLAGE} 个的上限："
            "请加大 cell-size"
        )
    grid_fn = "ST_SquareGrid" if shape == "square" else "ST_HexagonGrid"
    pieces = session.execute(
        text(
            f"""
            WITH v AS (SELECT ST_Transform(boundary, :srid) AS g FROM regions WHERE id = :vid)
            SELECT grid.i, grid.j,
                   ST_AsBinary(ST_CollectionExtract(ST_Intersection(grid.geom, v.g), 3)) AS wkb
              FROM v, {grid_fn}(:size, v.g) AS grid
             WHERE ST_Intersects(grid.geom, v.g)
            """
        ),
        {"srid": srid, "vid": village.id, "size": cell_size},
    ).all()
    cells = []
    for i, j, wkb in pieces:
        geom = shapely_wkb.loads(bytes(wkb))
        if not geom.is_empty and geom.area > 0:
            cells.append({"i": i, "j": j, "geom": geom})
    if not cells:
        raise GridError(f"村 {village_code} 的边界为空，无法生成网格")

    merged = _merge_slivers(cells, SLIVER_SHARE * nominal)
    if len(cells) > MAX_CELLS_PER_VILLAGE:
        raise GridError(
            f"将生成 {len(cells)} 个网格，超过每村 {MAX_CELLS_PER_VILLAGE} 个的上限："
            "请加大 cell-size"
        )
    # West→east, north→south: rows by descending j, then columns by ascending i.
    cells.sort(key=lambda c: (-c["j"], c["i"]))

    session.execute(text("DELETE FROM grid_cells WHERE village_id = :vid"), {"vid": village.id})
    session.execute(
        text(
            """
            INSERT INTO grid_cells (code, name, village_id, geom)
            VALUES (:code, :name, :vid,
                    ST_Multi(ST_Transform(ST_SetSRID(ST_GeomFromWKB(:wkb), :srid), 4326)))
            """
        ),
        [
            {
                "code": f"{village.code}{n:03d}",
                "name": f"{village.name}第{n}网格",
                "vid": village.id,
                "wkb": shapely.to_wkb(cell["geom"]),
                "srid": srid,
            }
            for n, cell in enumerate(cells, start=1)
        ],
    )
    session.flush()
    return GridResult(village.code, srid, len(cells), merged, len(existing))


def _merge_slivers(cells: list[dict], min_area: float) -> int:
    """Merge each cell under min_area into the neighbour sharing its longest border."""
    merged = 0
    while len(cells) > 1:
        slivers = [c for c in cells if c["geom"].area < min_area]
        if not slivers:
            break
        sliver = min(slivers, key=lambda c: c["geom"].area)
        others = [c for c in cells if c is not sliver]
        border = sliver["geom"].boundary
        best = max(others, key=lambda c: border.intersection(c["geom"].boundary).length)
        if border.intersection(best["geom"].boundary).length == 0:
            # Not touching any cell (a detached piece of the village): join the nearest one.
            best = min(others, key=lambda c: c["geom"].distance(sliver["geom"]))
        best["geom"] = shapely.union(best["geom"], sliver["geom"])
        cells.remove(sliver)
        merged += 1
    return merged
