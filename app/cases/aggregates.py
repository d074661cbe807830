"""Case counts per town, village or grid cell as GeoJSON, for maps at low zoom.

A county can hold half a million cases: a map never loads them all. Zoomed out it shows these
counts (one point per region, built in PostGIS over the visible box); zoomed in it loads the
points of the visible box from `/api/v1/cases.geojson`.
"""

from __future__ import annotations

import datetime as dt

from flask import Response
from flask_login import current_user
from sqlalchemy import text

from app.cases import schemas
from app.cases import services
from app.cases.api import start_of
from app.extensions import Blueprint
from app.extensions import db
from app.geo.schemas import BBox
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint(
    "case_maps", __name__, url_prefix="/api/v1", description="事件地图聚合 (case map aggregates)"
)

# level → (digits of the case's grid-cell code that name the unit, SQL for the unit's code,
#          the table and geometry holding the unit's shape)
UNITS = {
    "town": (9, "k || '000'", "regions", "boundary"),
    "village": (12, "k", "regions", "boundary"),
    "grid_cell": (15, "k", "grid_cells", "geom"),
}


class AggregateQuery(schemas.Schema):
    """Which units to count by, where, and which cases."""

    level = schemas.fields.String(
        load_default="village",
        validate=schemas.one_of(tuple(UNITS), "level "),
        metadata={"description": "按乡镇（town）、村（village）或网格（grid_cell）汇总"},
    )
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat（WGS84），只数框内的事件"})
    kind = schemas.fields.String(
        validate=schemas.one_of(("dispute", "petition", "incident"), "kind ")
    )
    open = schemas.fields.Boolean(load_default=False, metadata={"description": "只数在办事件"})
    reported_from = schemas.fields.Date()
    reported_to = schemas.fields.Date()


AGGREGATE_SQL = """
WITH agg AS (
    SELECT left(c.region_code, {digits}) AS k,
           count(*) AS cases,
           count(*) FILTER (WHERE c.state IN ('reported', 'accepted', 'in_progress')) AS open,
           count(*) FILTER (WHERE c.warning = 'yellow'
                            AND c.state IN ('reported', 'accepted', 'in_progress')) AS yellow,
           count(*) FILTER (WHERE c.warning = 'red'
                            AND c.state IN ('reported', 'accepted', 'in_progress')) AS red
      FROM cases c
     WHERE {visibility}
       AND (CAST(:minx AS float8) IS NULL
            OR c.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
       AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
       AND (NOT :open OR c.state IN ('reported', 'accepted', 'in_progress'))
       AND (CAST(:rfrom AS timestamptz) IS NULL OR c.reported_at >= :rfrom)
       AND (CAST(:rto AS timestamptz) IS NULL OR c.reported_at < :rto)
     GROUP BY 1
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'level', CAST(:level AS text),
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', u.code,
        'geometry', ST_AsGeoJSON(ST_PointOnSurface(u.{geom}), 6)::json,
        'bbox', json_build_array(round(ST_XMin(u.{geom})::numeric, 6),
                                 round(ST_YMin(u.{geom})::numeric, 6),
                                 round(ST_XMax(u.{geom})::numeric, 6),
                                 round(ST_YMax(u.{geom})::numeric, 6)),
        'properties', json_build_object(
            'code', u.code, 'name', u.name, 'level', CAST(:level AS text),
            'cases', agg.cases, 'open', agg.open, 'yellow', agg.yellow, 'red', agg.red))
        ORDER BY u.code), '[]'::json),
    'total', coalesce(sum(agg.cases), 0))::text
  FROM agg JOIN {table} u ON u.code = {code}
"""


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
    digits, code, table, geom = UNITS[args["level"]]
    condition, params = services.visibility_sql(current_scope(), current_user.role, alias="c")
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    rto = args.get("reported_to")
    body = db.session.execute(
        text(
            AGGREGATE_SQL.format(
                digits=digits, code=code, table=table, geom=geom, visibility=condition
            )
        ),
        {
            **params,
            "level": args["level"],
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "kind": args.get("kind"),
            "open": args["open"],
            "rfrom": start_of(args["reported_from"]) if args.get("reported_from") else None,
            "rto": start_of(rto + dt.timedelta(days=1)) if rto else None,
        },
    ).scalar_one()
    return Response(body, mimetype="application/geo+json")
