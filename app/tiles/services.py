"""Vector tiles built by PostGIS (ST_AsMVT), scoped to the caller, cached by data version.

A tile's cache key is (layer, z, x, y, filters, scope, data version). The data version of a
layer is the sum of its `data_versions` stripes, which statement triggers bump in the writer's own
transaction (migration 0007); a tile is stored under the version read in the same statement, so
cached bytes are never older than their key, and the first request after a committed change
misses the cache.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from psycopg2 import errors as pg_errors
from sqlalchemy import text

from app.cases.workflow import OPEN_STATES
from app.core import fast
from app.core import replica
from app.core import sqltext
from app.extensions import db
from app.geo.crs import gcj02_sql
from app.scoping import Scope

EXTENT = 4096
BUFFER = 64
MARGIN = BUFFER / EXTENT
MAX_ZOOM = 22
# At and below this zoom the cases layer is one point per village with counts (W5).
AGGREGATE_MAX_ZOOM = 11
# Grid cells are too small to draw below this zoom: lower tiles are empty.
GRID_CELLS_MIN_ZOOM = 10

# The tile envelope in Web Mercator, and the same with the buffer in WGS84 for the index. For a
# GCJ-02 base map the envelope is GCJ-02's: the WGS84 rows that shift into it lie within the
# offset (under 0.02 degrees anywhere in China), so the index window grows by that much.
BOUNDS_CTE = """
bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_TileEnvelope(:z, :x, :y, margin => :margin) AS env_buffered,
           {sel} AS sel
)"""
SEL_WGS84 = "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326)"
GCJ02_PAD = 0.02
# Where each layer's geometry comes from (WGS84), before any shift.
RISK_POINT_GEOM = "CASE WHEN k.restricted THEN ST_PointOnSurface(g.geom) ELSE p.geom END"

CASE_FILTERS = """
       AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
       AND (NOT :open OR c.state = ANY(:open_states))"""

# Detail tiles: each visible case once, its tile geometry computed once (the MATERIALIZED CTE:
# a flattened subquery would evaluate ST_AsMVTGeom again for `geom IS NOT NULL`). A tile that
# would hold more than :cluster_max cases (TILE_CLUSTER_CASES) is answered with clusters instead:
# the cases inside the tile itself (not its buffer, so no case is counted by two tiles) grouped
# by a CLUSTER_CELL grid of tile units, one point per occupied cell at the cell's centre with
# `count` and counts per kind, like the low zooms' village points (docs/api.md, "Dense tiles").
CLUSTER_CELL = 256
CASES_DETAIL_SQL = """
WITH {bounds},
features AS MATERIALIZED (
    SELECT c.id, c.number, c.kind, c.category, c.state, c.level, c.warning,
           c.supervision, c.location_approximate,
           to_char(c.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS reported_on,
           c.region_code AS grid_cell,
           ST_AsMVTGeom(ST_Transform({location}, 3857), bounds.env, {extent},
                        {buffer}, true) AS geom
      FROM cases c, bounds
     WHERE c.location && bounds.sel
       AND {visibility}{filters}
)
SELECT (SELECT sum(version) FROM data_versions WHERE name = 'cases') AS version,
       CASE WHEN (SELECT count(*) FROM features WHERE geom IS NOT NULL) <= :cluster_max
       THEN (SELECT ST_AsMVT(t, 'cases', {extent}, 'geom', 'id' ORDER BY t.id)
               FROM features t
              WHERE t.geom IS NOT NULL)
       ELSE (SELECT ST_AsMVT(k, 'cases', {extent}, 'geom')
               FROM (SELECT count(*)::int AS count,
                            count(*) FILTER (WHERE f.kind = 'dispute')::int AS dispute,
                            count(*) FILTER (WHERE f.kind = 'petition')::int AS petition,
                            count(*) FILTER (WHERE f.kind = 'incident')::int AS incident,
                            ST_MakePoint(f.cx * {cluster_cell} + {cluster_cell} / 2,
                                         f.cy * {cluster_cell} + {cluster_cell} / 2) AS geom
                       FROM (SELECT kind,
                                    floor(ST_X(geom) / {cluster_cell})::int AS cx,
                                    floor(ST_Y(geom) / {cluster_cell})::int AS cy
                               FROM features
                              WHERE geom IS NOT NULL
                                AND ST_X(geom) >= 0 AND ST_X(geom) < {extent}
                                AND ST_Y(geom) >= 0 AND ST_Y(geom) < {extent}) f
                      GROUP BY f.cy, f.cx
                      ORDER BY f.cy, f.cx) k)
       END AS tile
"""

# Low zooms: per-village counts from the pre-aggregated facts (app/cases/facts.py), drawn at
# each village's anchor point: each village in the tile looks up its own facts (a LATERAL
# index lookup per village, kept one by `OFFSET 0`), so the cost follows the tile's villages,
# never the county's facts (a join of the county's counts to the villages was planned as a
# nested loop from a one-row estimate and took 380 ms at 5,000,000 cases). Grid workers see
# only some cases of a village, so their counts come from the cases themselves (LIVE_COUNTS),
# with the same answer's shape.
FACT_COUNTS = """
    SELECT f.kind, f.n
      FROM measure_facts f
     WHERE f.metric = :metric AND f.day = DATE '1970-01-01'
       AND f.region_code = v.code AND {scope}
       AND (CAST(:kind AS text) IS NULL OR f.kind = :kind)
    OFFSET 0
"""
LIVE_COUNTS = """
    SELECT left(c.region_code, 12) AS code, c.kind, count(*) AS n
      FROM cases c
     WHERE {visibility}{filters}
     GROUP BY 1, 2
"""
CASES_AGGREGATE_SQL = """
WITH {bounds},{counts}
villages AS (
    SELECT a.code, a.geom
      FROM region_anchors a, bounds
     WHERE a.level = 'village' AND a.geom && {anchor_window}
)
SELECT (SELECT sum(version) FROM data_versions WHERE name = 'cases') AS version,
       (SELECT ST_AsMVT(t, 'cases', {extent}, 'geom' ORDER BY t.village)
          FROM (SELECT v.code AS village, r.name,
                       sum(k.n)::int AS count,
                       coalesce(sum(k.n) FILTER (WHERE k.kind = 'dispute'), 0)::int AS dispute,
                       coalesce(sum(k.n) FILTER (WHERE k.kind = 'petition'), 0)::int AS petition,
                       coalesce(sum(k.n) FILTER (WHERE k.kind = 'incident'), 0)::int AS incident,
                       ST_AsMVTGeom({anchor}, bounds.env, {extent}, {buffer}, true) AS geom
                  FROM villages v
                  {join_counts}
                  JOIN regions r ON r.code = v.code
                  CROSS JOIN bounds
                 GROUP BY v.code, r.name, v.geom, bounds.env
                HAVING sum(k.n) > 0
                OFFSET 0) t
         WHERE t.geom IS NOT NULL) AS tile
"""

# `OFFSET 0` keeps the planner from flattening a layer's subquery into its outer query, which
# would evaluate ST_AsMVTGeom a second time for `t.geom IS NOT NULL`.
GRID_CELLS_SQL = """
WITH {bounds}
SELECT (SELECT sum(version) FROM data_versions WHERE name = 'grid_cells') AS version,
       (SELECT ST_AsMVT(t, 'grid_cells', {extent}, 'geom', 'id' ORDER BY t.id)
          FROM (SELECT g.id, g.code, g.name, g.households, g.population,
                       ST_AsMVTGeom(ST_Transform({cell}, 3857), bounds.env, {extent},
                                    {buffer}, true) AS geom
                  FROM grid_cells g, bounds
                 WHERE g.geom && bounds.sel
                   AND {scope}
                OFFSET 0) t
         WHERE t.geom IS NOT NULL) AS tile
"""

# Risk points: no names or descriptions on the map (a key-population point names nobody), and a
# key-population point is drawn at its grid cell's inner point, never at the household.
RISK_POINTS_SQL = """
WITH {bounds}
SELECT (SELECT sum(version) FROM data_versions WHERE name = 'risk_points') AS version,
       (SELECT ST_AsMVT(t, 'risk_points', {extent}, 'geom', 'id' ORDER BY t.id)
          FROM (SELECT p.id, p.code, p.level, p.status, k.name AS category,
                       p.overdue_since IS NOT NULL AS overdue,
                       p.region_code AS grid_cell,
                       k.restricted AS generalized,
                       ST_AsMVTGeom(ST_Transform({point}, 3857),
                                    bounds.env, {extent}, {buffer}, true) AS geom
                  FROM risk_points p
                  JOIN risk_categories k ON k.id = p.category_id
                  JOIN grid_cells g ON g.id = p.grid_cell_id, bounds
                 WHERE (p.geom && bounds.sel OR (k.restricted AND g.geom && bounds.sel))
                   AND {visibility}
                   AND (NOT :open OR p.status = 'active')
                OFFSET 0) t
         WHERE t.geom IS NOT NULL) AS tile
"""

LAYERS = ("cases", "grid_cells", "risk_points")
# Who, besides a grid worker's cells, makes a row theirs (app/scoping.py).
CASE_OWNERS = ("reporter_id",)
RISK_POINT_OWNERS = ("registered_by_id", "responsible_id")
# Tile statements run without parallel query: parallel workers cost twice the database CPU per
# tile here, and their rows reach ST_AsMVT in varying order, so the same tile's bytes varied.
# SET LOCAL must precede planning; with psycopg2 it travels in the tile statement's own round
# trip (a simple-protocol string of two statements, the answer being the last one's).
NO_PARALLEL = "SET LOCAL max_parallel_workers_per_gather = 0"
# A prepared tile statement always runs by its generic plan. Left to choose, each connection
# compared the generic plan with the custom plans of the first five tiles it happened to build:
# a connection whose first tiles were small ones kept planning every tile afresh (and chose
# bitmap scans for them), another ran the generic plan, so the same tile cost 1.5-1.8x more in
# the database on some of the pool's connections than on others (bench/NOTES.md, issue 18).
# The generic plan reads the tile's box by its GiST index, whatever the zoom.
GENERIC = "SET LOCAL plan_cache_mode = force_generic_plan"
# Cases a detail tile holds before it is clustered (TILE_CLUSTER_CASES overrides).
CLUSTER_CASES = 8000
VERSION_SQL = text("SELECT coalesce(sum(version), 0) FROM data_versions WHERE name = :name")


@dataclass(frozen=True)
class TileRequest:
    """One tile of one layer, with its filters, for one scope."""

    layer: str
    z: int
    x: int
    y: int
    scope: Scope
    role: str
    kind: str | None = None
    open: bool = False
    crs: str = "wgs84"

    @property
    def aggregated(self) -> bool:
        """True when the tile shows counts per village rather than single cases."""
        return self.layer == "cases" and self.z <= AGGREGATE_MAX_ZOOM

    @property
    def empty(self) -> bool:
        """True when the layer draws nothing at this zoom."""
        return self.layer == "grid_cells" and self.z < GRID_CELLS_MIN_ZOOM

    def scope_key(self) -> str:
        """What makes two callers see the same tile: the prefix, and a grid worker's own cases."""
        if self.layer != "grid_cells" and self.role == "grid_worker":
            cells = ",".join(str(c) for c in sorted(self.scope.grid_cell_ids or ()))
            return f"{self.scope.prefix}|u{self.scope.user_id}|{cells}"
        return self.scope.prefix

    def etag(self, version: int) -> str:
        """A weak ETag naming exactly this tile's content at a data version."""
        key = "|".join(
            str(part)
            for part in (
                self.layer,
                self.z,
                self.x,
                self.y,
                self.kind or "",
                int(self.open),
                self.scope_key(),
                version,
                *((self.crs,) if self.crs != "wgs84" else ()),
            )
        )
        return 'W/"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def valid_tile(z: int, x: int, y: int) -> bool:
    """True for an existing tile address of the XYZ scheme."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def data_version(layer: str) -> int:
    """The layer's current data version (the sum of its stripes)."""
    return int(db.session.execute(VERSION_SQL, {"name": layer}).scalar_one())


def data_versions() -> dict[str, int]:
    """Every layer's current data version, in one statement."""
    rows = db.session.execute(
        text("SELECT name, sum(version) FROM data_versions GROUP BY name")
    ).all()
    found = {name: int(total) for name, total in rows}
    return {layer: found.get(layer, 0) for layer in LAYERS}


def tile_sql(
    req: TileRequest, live_counts: bool = False, cluster_max: int = CLUSTER_CASES
) -> tuple[str, dict]:
    """The statement answering (version, tile bytes) for a tile request, with its parameters."""
    fmt = {"bounds": BOUNDS_CTE.format(sel=SEL_WGS84), "extent": EXTENT, "buffer": BUFFER}
    fmt["cluster_cell"] = CLUSTER_CELL
    fmt |= {"location": "c.location", "cell": "g.geom", "point": RISK_POINT_GEOM}
    fmt |= {"anchor": "v.geom", "anchor_window": "bounds.env_buffered"}
    if req.crs == "gcj02":
        fmt |= shifted_to_gcj02()
    params = {"z": req.z, "x": req.x, "y": req.y, "margin": MARGIN}
    if req.layer == "cases":
        visibility, scope_params = req.scope.sql("c", cell="grid_cell_id", own=CASE_OWNERS)
        params |= scope_params | {
            "kind": req.kind,
            "open": req.open,
            "open_states": sorted(OPEN_STATES),
            "cluster_max": cluster_max,
        }
        if not req.aggregated:
            sql = CASES_DETAIL_SQL.format(visibility=visibility, filters=CASE_FILTERS, **fmt)
        elif req.scope.cell_bound or live_counts:
            counts = LIVE_COUNTS.format(visibility=visibility, filters=CASE_FILTERS)
            sql = CASES_AGGREGATE_SQL.format(
                counts=f"\ncounts AS ({counts}),",
                join_counts="JOIN counts k ON k.code = v.code",
                **fmt,
            )
        else:
            params["metric"] = "open" if req.open else "all"
            # The facts are per village: the prefix alone scopes them.
            visibility, _ = req.scope.sql("f")
            facts = FACT_COUNTS.format(scope=visibility)
            sql = CASES_AGGREGATE_SQL.format(
                counts="", join_counts=f"CROSS JOIN LATERAL ({facts}) k", **fmt
            )
    elif req.layer == "grid_cells":
        visibility, scope_params = req.scope.sql("g", code="code")
        sql = GRID_CELLS_SQL.format(scope=visibility, **fmt)
        params |= scope_params
    else:
        visibility, scope_params = req.scope.sql("p", cell="grid_cell_id", own=RISK_POINT_OWNERS)
        sql = RISK_POINTS_SQL.format(visibility=visibility, **fmt)
        params |= scope_params | {"open": req.open}
    return sql, params


def shifted_to_gcj02() -> dict[str, str]:
    """The tile statements' geometry parts for a GCJ-02 base map (app/geo/crs.py gcj02_sql)."""
    pad = GCJ02_PAD
    return {
        "bounds": BOUNDS_CTE.format(sel=f"ST_Expand({SEL_WGS84}, {pad})"),
        "location": gcj02_sql("c.location"),
        "cell": gcj02_sql("g.geom"),
        "point": gcj02_sql(RISK_POINT_GEOM),
        "anchor": f"ST_Transform({gcj02_sql('ST_Transform(v.geom, 4326)')}, 3857)",
        "anchor_window": f"ST_Expand(bounds.env_buffered, {pad * 111_320:.0f})",
    }


def render(
    req: TileRequest, live_counts: bool = False, cluster_max: int = CLUSTER_CASES
) -> tuple[int, bytes]:
    """(data version, tile bytes), read in one snapshot, planned without parallel query."""
    if req.empty:
        return data_version(req.layer), b""
    sql, params = tile_sql(req, live_counts, cluster_max)
    # On the standby when there is one (app/core/replica.py): the version comes from the same
    # snapshot as the bytes, so a lagging standby gives an older tile under its own ETag.
    session = replica.session()
    if session.get_bind().dialect.driver == "psycopg2":
        # The setting and the statement in one round trip, as the driver's own SQL: building
        # and compiling a `text()` of a few kilobytes cost ~0.2 ms a tile (issue 18).
        row = session.connection().exec_driver_sql(driver_sql(sql), params).one()
    else:  # extended protocol: one statement per round trip
        session.execute(text(NO_PARALLEL))
        row = session.execute(text(sql), params).one()
    return int(row.version or 0), bytes(row.tile or b"")


def render_on(
    cursor, req: TileRequest, cluster_max: int = CLUSTER_CASES, prepared: bool = False
) -> tuple[int, bytes]:
    """`render`'s answer read on a psycopg2 cursor outside any session (the keyed-tile path,
    app/tiles/fast.py, in autocommit: the setting and the statement are one round trip and one
    implicit transaction, so the setting ends with it). Not for an empty tile (`req.empty`).

    `prepared` (FAST_PATH_PREPARED): the statement prepared once per connection and run by
    EXECUTE after the setting; a small tile's planning cost about as much as its building
    (bench/NOTES.md). Every layer's features reach ST_AsMVT in a stated order, so a generic
    plan that reads them in another order gives the same bytes (tests/tiles)."""
    sql, params = tile_sql(req, cluster_max=cluster_max)
    if prepared:
        plain = sqltext.driver_sql(sql)
        name, _prepare, run, known = fast.prepared_on(cursor.connection, plain, cursor.execute)
        try:
            cursor.execute(f"{NO_PARALLEL};\n{GENERIC};\n{run}", params)
        except pg_errors.InvalidSqlStatementName:
            known.discard(name)  # deallocated: prepared again next time (Flask answers this)
            raise
    else:
        cursor.execute(driver_sql(sql), params)
    version, tile = cursor.fetchone()  # every layer's statement: (version, tile)
    return int(version or 0), bytes(tile or b"")


@functools.lru_cache(maxsize=64)
def driver_sql(sql: str) -> str:
    """A tile statement as psycopg2 takes it (app/core/sqltext.py), after NO_PARALLEL."""
    return f"{NO_PARALLEL};\n{sqltext.driver_sql(sql)}"


class TileCache:
    """An in-process LRU of tile bytes by ETag, bounded in bytes (one per worker process)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The cached bytes, freshly used, or None."""
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        """Keep a tile, dropping the least recently used beyond the byte budget."""
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = body
            self.size += len(body)
            while self.size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._items)
