"""Schemas of the cameras API: what a camera takes, what a list filters by, what shows."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from app import jsonfields
from app.cameras import devicecode
from app.cameras.models import STATUSES
from app.geo.crs import CRS_CHOICES
from app.geo.schemas import BBox

MAX_RADIUS_M = 2000
MAX_LIMIT = 1000
MAX_GEOJSON_LIMIT = 20_000


def check_url(value: str) -> None:
    """A link to the video platform: http(s) only (never javascript:, file: or data:)."""
    if not (value.startswith(("http://", "https://")) and len(value) > len("https://")):
        raise ValidationError(_l("视频平台链接应以 http:// 或 https:// 开头"))


def check_code(value: str) -> None:
    """The GB/T 28181 structure (app/cameras/devicecode.py)."""
    message = devicecode.problem(value)
    if message:
        raise ValidationError(message)


STATUS = validate.OneOf(STATUSES, error=_l("status 应为 online、offline 或 fault"))
DIRECTION = validate.Range(0, 359, error=_l("方向应为 0–359 度（正北为 0，顺时针）"))


class CameraIn(Schema):
    """A new camera point."""

    device_code = fields.String(required=True, validate=check_code)
    name = fields.String(required=True, validate=validate.Length(1, 100))
    lon = jsonfields.Float(required=True, validate=validate.Range(-180, 180))
    lat = jsonfields.Float(required=True, validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES))
    direction = jsonfields.Integer(allow_none=True, validate=DIRECTION)
    status = fields.String(load_default="online", validate=STATUS)
    department_id = jsonfields.Integer(allow_none=True, validate=validate.Range(min=1))
    owner = fields.String(allow_none=True, validate=validate.Length(1, 100))
    video_url = fields.String(allow_none=True, validate=[validate.Length(max=500), check_url])


class CameraUpdate(Schema):
    """A change to a camera (its device code never changes: it names the device)."""

    name = fields.String(validate=validate.Length(1, 100))
    lon = jsonfields.Float(validate=validate.Range(-180, 180))
    lat = jsonfields.Float(validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES))
    direction = jsonfields.Integer(allow_none=True, validate=DIRECTION)
    status = fields.String(validate=STATUS)
    department_id = jsonfields.Integer(allow_none=True, validate=validate.Range(min=1))
    owner = fields.String(allow_none=True, validate=validate.Length(1, 100))
    video_url = fields.String(allow_none=True, validate=[validate.Length(max=500), check_url])
    version = fields.Raw(metadata={"description": "看到的版本（或 If-Match）"})

    @validates_schema
    def both_coordinates(self, data: dict, **kwargs) -> None:
        """A move gives both coordinates."""
        if ("lon" in data) != ("lat" in data):
            missing = "lon" if "lat" in data else "lat"
            raise ValidationError(_l("移动点位须同时给出 lon 和 lat"), missing)


class Near(fields.String):
    """`lon,lat` in WGS84 degrees."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            lon, lat = (float(p) for p in str(value).split(","))
        except ValueError:
            raise ValidationError(_l("near 应为 经度,纬度 两个数字")) from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError(_l("near 超出范围：经度 -180–180，纬度 -90–90"))
        return lon, lat


class CameraQuery(Schema):
    """Filters of the camera list: a box, or a point and a radius (nearest first)."""

    bbox = BBox()
    near = Near(metadata={"description": "经度,纬度（WGS84）：按距离由近到远"})
    radius = fields.Integer(
        validate=validate.Range(1, MAX_RADIUS_M, error=_l("radius 应在 1 到 2000 米之间")),
        metadata={"description": "与 near 一起：半径（米，默认 300，最多 2000）"},
    )
    status = fields.String(validate=STATUS)
    q = fields.String(validate=validate.Length(1, 50), metadata={"description": "名称或编码"})
    limit = fields.Integer(load_default=200, validate=validate.Range(1, MAX_LIMIT))

    @validates_schema
    def radius_with_near(self, data: dict, **kwargs) -> None:
        """A radius means nothing without a point."""
        if "radius" in data and "near" not in data:
            raise ValidationError(_l("radius 须与 near 一起使用"), "radius")
        if "near" in data:
            data.setdefault("radius", current_app.config["CAMERA_NEARBY_RADIUS_M"])


class CameraGeoQuery(Schema):
    """Filters of the camera map layer."""

    bbox = BBox()
    status = fields.String(validate=STATUS)
    limit = fields.Integer(load_default=5000, validate=validate.Range(1, MAX_GEOJSON_LIMIT))


class PlaceOut(Schema):
    """A region or cell: code and name."""

    code = fields.String()
    name = fields.String()


class CameraOut(Schema):
    """A camera as the API shows it."""

    id = fields.Integer()
    device_code = fields.String()
    device_type = fields.Function(lambda c: devicecode.CAMERA_TYPES.get(c.device_code[10:13]))
    name = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    direction = fields.Integer(allow_none=True)
    status = fields.String()
    status_name = fields.String()
    department = fields.Function(
        lambda c: {"id": c.department.id, "name": c.department.name} if c.department else None
    )
    owner = fields.String(allow_none=True)
    video_url = fields.String(allow_none=True)
    grid_cell = fields.Nested(PlaceOut)
    village = fields.Nested(PlaceOut)
    town = fields.Nested(PlaceOut)
    distance_m = fields.Integer(allow_none=True, metadata={"description": "与 near 的距离（米）"})
    version = fields.Integer()
    updated_at = fields.DateTime()


class CameraPage(Schema):
    """A list of cameras."""

    items = fields.List(fields.Nested(CameraOut))
    truncated = fields.Boolean(metadata={"description": "超过 limit 时为 true"})
