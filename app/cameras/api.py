"""Cameras API (雪亮工程): list (box, or nearby), detail, register, change, the map layer.

A thin adapter over app.cameras.queries (reads) and app.cameras.services (writes); the request
boundary commits or rolls back (app/core/transaction.py).
"""

from __future__ import annotations

from flask import Response
from flask import request
from flask import url_for
from flask_login import current_user

from app.cameras import queries
from app.cameras import schemas
from app.cameras import services
from app.core.actions import version_from
from app.extensions import Blueprint
from app.geo.schemas import FeatureCollectionSchema
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint(
    "cameras", __name__, url_prefix="/api/v1", description="雪亮工程摄像机点位 (cameras)"
)

GEOJSON = "application/geo+json"
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": '摄像机的版本（ETag），如 "3"；或在请求体中给出 version',
}


def answer(camera, headers: dict | None = None):
    """A camera, its version as the ETag (send it back in If-Match)."""
    return queries.shown(camera), {"ETag": f'"{camera.version}"', **(headers or {})}


@blp.route("/cameras")
@requires("cameras.read")
@blp.arguments(schemas.CameraQuery, location="query")
@blp.response(200, schemas.CameraPage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_cameras(args):
    """Cameras in the caller's scope: in `bbox`, or within `radius` metres (default 300, at
    most 2000) of `near` (nearest first, with `distance_m`); at most `limit` (default 200)."""
    return queries.list_page(args, current_scope())


@blp.route("/cameras", methods=["POST"])
@requires("cameras.manage")
@blp.arguments(schemas.CameraIn)
@blp.response(201, schemas.CameraOut)
@blp.alt_response(403, response="DEFAULT_ERROR", description="该点位不在您的辖区内")
@blp.alt_response(409, response="DEFAULT_ERROR", description="设备编码已登记")
@blp.alt_response(422, response="DEFAULT_ERROR", description="编码结构不符、不在网格内或数据有误")
def create_camera(data):
    """Register a camera at a point (`crs=gcj02` converts it first) with its GB/T 28181 device
    code (20 digits, structure checked: docs/cameras.md)."""
    camera = services.create(data, current_scope(), current_user)
    location = url_for("cameras.get_camera", camera_id=camera.id)
    return answer(camera, {"Location": location})


@blp.route("/cameras/<int:camera_id>")
@requires("cameras.read")
@blp.response(200, schemas.CameraOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_camera(camera_id: int):
    """One camera; the `ETag` is its version."""
    return answer(queries.visible_camera(camera_id, current_user))


@blp.route("/cameras/<int:camera_id>", methods=["PATCH"], parameters=[IF_MATCH])
@requires("cameras.manage")
@blp.arguments(schemas.CameraUpdate)
@blp.response(200, schemas.CameraOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期")
@blp.alt_response(422, response="DEFAULT_ERROR")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本（If-Match 或 version）")
def update_camera(data, camera_id: int):
    """Rename, move (re-placed in its cell), re-aim, change the status, owner or link of a
    camera, with the version the caller saw."""
    camera = queries.visible_camera(camera_id, current_user)
    version = version_from(request.headers.get("If-Match"), data)
    data.pop("version", None)
    services.check_version(camera, version)
    return answer(services.update(camera, data, current_scope(), current_user))


@blp.route("/cameras.geojson")
@requires("cameras.read")
@blp.arguments(schemas.CameraGeoQuery, location="query")
@blp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
@blp.alt_response(400, response="DEFAULT_ERROR")
def cameras_geojson(args):
    """Cameras in the caller's scope as GeoJSON (the map layer), built in PostGIS."""
    return Response(queries.cameras_geojson(args, current_scope()), mimetype=GEOJSON)
