"""Geography API: locate a point, regions and grid cells as GeoJSON."""

from flask import Response
from flask import current_app
from sqlalchemy import select
from sqlalchemy import text

from app.core import replica
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.extensions import Blueprint
from app.extensions import db
from app.geo import placement
from app.geo.crs import to_wgs84
from app.geo.models import Region
from app.geo.schemas import FeatureCollectionSchema
from app.geo.schemas import FeatureSchema
from app.geo.schemas import GridCellQuery
from app.geo.schemas import LocateQuery
from app.geo.schemas import LocateResult
from app.geo.schemas import RegionQuery
from app.policy import deny
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("geo", __name__, url_prefix="/api/v1", description="区划、网格与定位 (geography)")

GEOJSON = "application/geo+json"

# A region with its parent's code and its lineage (区划调整): the columns of a region Feature.
REGION_SELECT = """
    SELECT r.code, r.name, r.level, p.code AS parent_code, r.valid_from, r.valid_to,
           r.valid_to IS NOT NULL AND r.valid_to <= current_date AS abolished,
           (SELECT coalesce(json_agg(pr.code ORDER BY pr.code), '[]'::json)
              FROM region_predecessors rp JOIN regions pr ON pr.id = rp.predecessor_id
             WHERE rp.region_id = r.id) AS predecessors,
           (SELECT coalesce(json_agg(sr.code ORDER BY sr.code), '[]'::json)
              FROM region_predecessors rp JOIN regions sr ON sr.id = rp.region_id
             WHERE rp.predecessor_id = r.id) AS successors,
           r.boundary IS NOT NULL AS has_boundary,
           r.boundary
      FROM regions r LEFT JOIN regions p ON p.id = r.parent_id
"""
REGION_PROPERTIES = {
    name: name
    for name in (
        "code",
        "name",
        "level",
        "parent_code",
        "valid_from",
        "valid_to",
        "abolished",
        "predecessors",
        "successors",
        "has_boundary",
    )
}


def regions_sql(where: str) -> str:
    """The FeatureCollection of the regions matching `where` (over alias r), by code."""
    return feature_collection_sql(
        f"{REGION_SELECT} WHERE {where}",
        feature_id="code",
        geometry="boundary",
        properties=REGION_PROPERTIES,
        order_by="code",
        limited=False,
    )


GRID_CELLS_SELECT = """
    SELECT g.code, g.name, g.households, g.population, g.geom,
           v.code AS village_code, v.name AS village_name
      FROM grid_cells g JOIN regions v ON v.id = g.village_id
     WHERE {scope}
       AND (CAST(:village AS text) IS NULL OR v.code = :village)
       AND (CAST(:minx AS float8) IS NULL OR ST_Intersects(
            g.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)))
"""
GRID_CELL_PROPERTIES = {
    name: name
    for name in ("code", "name", "village_code", "village_name", "households", "population")
}


def geojson(body: str) -> Response:
    """A GeoJSON answer built by PostGIS, passed through as text."""
    return Response(body, mimetype=GEOJSON)


@blp.route("/locate")
@requires("geo.read")
@blp.arguments(LocateQuery, location="query", as_kwargs=True)
@blp.response(200, LocateResult)
@blp.alt_response(400, response="DEFAULT_ERROR", description="坐标缺失、格式错误或超出范围")
@blp.alt_response(404, response="DEFAULT_ERROR", description="该点不在任何网格内")
def locate(lon: float, lat: float, crs: str):
    """Find the grid cell, village, town and county containing a point, in the caller's scope.

    A point on a border shared by several cells resolves to the cell with the lowest code.
    """
    prefix = current_scope().prefix
    wlon, wlat = to_wgs84(lon, lat, crs)
    found = placement.cell_at(wlon, wlat, prefix)
    if found is None:
        nearest = placement.nearest_village(wlon, wlat, prefix)
        errors = {"nearest_village": nearest} if nearest else {}
        message = "该点不在您辖区内的任何网格内"
        if nearest:
            message += (
                f"；最近的村是 {nearest['name']}（{nearest['code']}，"
                f"约 {nearest['distance_m']} 米）"
            )
        raise NotFound(message, errors=errors)
    return {"lon": wlon, "lat": wlat, **found.as_dict()}


@blp.route("/regions")
@requires("geo.read")
@blp.arguments(RegionQuery, location="query", as_kwargs=True)
@blp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_regions(level=None, parent=None, include_abolished=False):
    """List regions as a GeoJSON FeatureCollection, filtered by level and parent code."""
    scope, params = current_scope().sql("r", code="code")
    where = f"""(CAST(:level AS text) IS NULL OR r.level = :level)
        AND (CAST(:parent AS text) IS NULL OR p.code = :parent)
        AND {scope}
        AND (:all OR r.valid_to IS NULL OR r.valid_to > current_date)"""
    body = db.session.execute(
        text(regions_sql(where)),
        {"level": level, "parent": parent, "all": include_abolished, **params},
    ).scalar_one()
    return geojson(body)


@blp.route("/regions/<code>")
@requires("geo.read")
@blp.response(200, FeatureSchema, content_type=GEOJSON)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_region(code: str):
    """One region of the caller's subtree as a GeoJSON Feature (abolished ones marked so)."""
    if not current_scope().contains(code):
        if db.session.scalar(select(Region.id).where(Region.code == code)) is not None:
            # Outside the caller's jurisdiction: the same 404, audited as a denial (docs/audit.md).
            deny("geo.read", "region", code, status=404, message="区划不存在")
        raise NotFound("区划不存在")
    # The one Feature of a one-region collection (NULL when there is no such region).
    body = db.session.execute(
        text(
            f"SELECT (doc::json -> 'features' -> 0)::text FROM ({regions_sql('r.code = :code')}) fc"
        ),
        {"code": code},
    ).scalar_one_or_none()
    if body is None:
        raise NotFound("区划不存在")
    return geojson(body)


@blp.route("/grid-cells")
@requires("geo.read")
@blp.arguments(GridCellQuery, location="query", as_kwargs=True)
@blp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_grid_cells(bbox=None, village=None, limit=None):
    """Grid cells as an RFC 7946 FeatureCollection, by bbox and/or village.

    At most `limit` features (default 1000, cap 5000); `truncated` says when more matched.
    """
    limit = limit or current_app.config["GRID_CELLS_DEFAULT_LIMIT"]
    min_lon, min_lat, max_lon, max_lat = bbox or (None, None, None, None)
    scope, params = current_scope().sql("g", code="code")
    sql = feature_collection_sql(
        GRID_CELLS_SELECT.format(scope=scope),
        feature_id="code",
        geometry="geom",
        properties=GRID_CELL_PROPERTIES,
        order_by="code",
    )
    body = (
        replica.session()
        .execute(
            text(sql),
            {
                "village": village,
                "minx": min_lon,
                "miny": min_lat,
                "maxx": max_lon,
                "maxy": max_lat,
                "limit": limit,
                **params,
            },
        )
        .scalar_one()
    )
    return geojson(body)
