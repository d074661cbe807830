"""The read side of cameras: what a caller may see, lists, nearby, the map layer.

Nothing here writes. This module imports nothing from app.cases: the cases package imports
`get_visible` to check a case's camera, and that must not close an import cycle.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import joinedload

from app.cameras.models import STATUS_NAMES
from app.cameras.models import Camera
from app.core.errors import NotFound
from app.core.geojson import feature_collection_sql
from app.extensions import db
from app.policy import deny
from app.scoping import Scope
from app.scoping import scope_for


def visible(stmt, scope: Scope):
    """Restrict a select of Camera to the scope's subtree (the one scoping rule).

    Cameras are infrastructure, not matters: a grid worker sees every camera of their village
    subtree, not only those of their own cells.
    """
    return stmt.where(scope.clause(Camera.region_code))


def get_visible(camera_id: int, user) -> Camera | None:
    """The camera if the user may see it, else None."""
    return db.session.scalar(visible(select(Camera).where(Camera.id == camera_id), scope_for(user)))


def id_of_code(device_code: str) -> int:
    """The id of the camera with this device code (0 when there is none)."""
    return db.session.scalar(select(Camera.id).where(Camera.device_code == device_code)) or 0


def visible_camera(camera_id: int, user) -> Camera:
    """The camera if the user may see it; 404 like a missing one otherwise (and audited)."""
    camera = get_visible(camera_id, user)
    if camera is None:
        if db.session.get(Camera, camera_id) is not None:
            deny("cameras.read", "camera", camera_id, status=404, message=_("摄像机不存在"))
        raise NotFound(_("摄像机不存在"))
    return shown(camera)


def shown(camera: Camera) -> Camera:
    """One camera with what its answer shows beside the columns."""
    point = db.session.execute(
        select(func.ST_X(Camera.geom), func.ST_Y(Camera.geom)).where(Camera.id == camera.id)
    ).one()
    return decorate([(camera, *point, None)])[0]


def decorate(rows) -> list[Camera]:
    """Cameras with what answers show beside the columns: coordinates, status name, distance.

    `rows` are (camera, lon, lat, distance in metres or None)."""
    cameras = []
    for camera, lon, lat, distance in rows:
        camera.lon, camera.lat = lon, lat
        camera.status_name = _(STATUS_NAMES[camera.status])
        camera.distance_m = None if distance is None else round(distance)
        cameras.append(camera)
    return cameras


def list_page(args: dict, scope: Scope) -> dict:
    """Cameras in scope: in a box, or within a radius of a point (nearest first)."""
    stmt = visible(select(Camera), scope).options(
        joinedload(Camera.department),
        joinedload(Camera.grid_cell),
        joinedload(Camera.village),
        joinedload(Camera.town),
    )
    distance = None
    if args.get("bbox"):
        stmt = stmt.where(Camera.geom.intersects(func.ST_MakeEnvelope(*args["bbox"], 4326)))
    if args.get("status"):
        stmt = stmt.where(Camera.status == args["status"])
    if args.get("q"):
        pattern = "%" + args["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            Camera.name.ilike(pattern + "%") | Camera.device_code.startswith(args["q"])
        )
    if args.get("near"):
        lon, lat = args["near"]
        here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
        geography = func.Geography(here)
        distance = func.ST_Distance(func.Geography(Camera.geom), geography)
        stmt = stmt.where(
            func.ST_DWithin(func.Geography(Camera.geom), geography, args["radius"])
        ).order_by(distance, Camera.id)
    else:
        stmt = stmt.order_by(Camera.id)
    stmt = stmt.add_columns(
        func.ST_X(Camera.geom),
        func.ST_Y(Camera.geom),
        distance if distance is not None else text("NULL"),
    )
    rows = db.session.execute(stmt.limit(args["limit"] + 1)).unique().all()
    return {"items": decorate(rows[: args["limit"]]), "truncated": len(rows) > args["limit"]}


NEARBY_SQL = """
    SELECT c.id, c.device_code, c.name, c.status, c.video_url, c.direction,
           round(ST_Distance(c.geom::geography, t.geom::geography))::int AS metres
      FROM cameras c, (SELECT {target} AS geom) t
     WHERE {visibility}
       AND ST_DWithin(c.geom::geography, t.geom::geography, :radius)
     ORDER BY metres, c.id
     LIMIT 50
"""


def nearby(target_sql: str, params: dict, scope: Scope, radius: int) -> list[dict]:
    """Cameras in scope within `radius` metres of a geometry (a case's point, a risk point's
    shape), nearest first, as dicts for a page: id, device_code, name, status, video_url,
    direction, metres. `target_sql` is trusted SQL written in code, selecting one geometry."""
    condition, scope_params = scope.sql("c")
    sql = NEARBY_SQL.format(target=target_sql, visibility=condition)
    rows = db.session.execute(text(sql), {**params, **scope_params, "radius": radius})
    return [dict(row, status_name=_(STATUS_NAMES[row["status"]])) for row in rows.mappings()]


GEO_SELECT = """
    SELECT c.id, c.device_code, c.name, c.status, c.direction, c.video_url, c.geom
      FROM cameras c
     WHERE {visibility}
       AND (CAST(:minx AS float8) IS NULL
            OR c.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
       AND (CAST(:status AS text) IS NULL OR c.status = :status)
"""

GEO_PROPERTIES = {
    "id": "id",
    "device_code": "device_code",
    "name": "name",
    "status": "status",
    "direction": "direction",
    "video_url": "video_url",
}


def cameras_geojson(args: dict, scope: Scope) -> str:
    """The map layer's FeatureCollection (text), built in PostGIS."""
    condition, params = scope.sql("c")
    sql = feature_collection_sql(
        GEO_SELECT.format(visibility=condition),
        feature_id="id",
        geometry="geom",
        properties=GEO_PROPERTIES,
        order_by="id",
    )
    minx, miny, maxx, maxy = args.get("bbox") or (None, None, None, None)
    return db.session.execute(
        text(sql),
        {
            **params,
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "status": args.get("status"),
            "limit": args["limit"],
        },
    ).scalar_one()
