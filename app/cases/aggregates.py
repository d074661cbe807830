"""Case counts per town, village or grid cell as GeoJSON, for maps at low zoom.

A county can hold half a million cases: a map never loads them all. Zoomed out it shows these
counts (one point per region, built in PostGIS over the visible box); zoomed in it loads the
points of the visible box from `/api/v1/cases.geojson`.
"""

from __future__ import annotations

from flask import Response

from app.cases import queries
from app.cases import schemas
from app.extensions import Blueprint
from app.geo.schemas import BBox
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint(
    "case_maps", __name__, url_prefix="/api/v1", description="事件地图聚合 (case map aggregates)"
)


class AggregateQuery(schemas.Schema):
    """Which units to count by, where, and which cases."""

    level = schemas.fields.String(
        load_default="village",
        validate=schemas.one_of(tuple(queries.UNITS), "level "),
        metadata={"description": "按乡镇（town）、村（village）或网格（grid_cell）汇总"},
    )
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat（WGS84），只数框内的事件"})
    kind = schemas.fields.String(
        validate=schemas.one_of(("dispute", "petition", "incident"), "kind ")
    )
    open = schemas.fields.Boolean(load_default=False, metadata={"description": "只数在办事件"})
    reported_from = schemas.fields.Date()
    reported_to = schemas.fields.Date()


@blp.route("/cases/by-region.geojson")
@requires("cases.read")
@blp.arguments(AggregateQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type="application/geo+json")
@blp.alt_response(400, response="DEFAULT_ERROR")
def cases_by_region(args):
    """Case counts per town, village or grid cell (a point inside each), in the caller's scope.

    Counts open cases and their yellow and red warnings too; each feature carries the unit's
    `bbox` so that a map can zoom into it (county → town → village).
    """
    body = queries.cases_by_region(args, current_scope())
    return Response(body, mimetype="application/geo+json")
