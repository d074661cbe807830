"""Query and response schemas of the geography API."""

from marshmallow import INCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from app.geo.crs import CRS_CHOICES

MAX_BBOX_DEGREES = 2.0  # a bbox wider or taller than this is refused (documented in docs/api.md)
MAX_GRID_CELLS_LIMIT = 5000


class BBox(fields.String):
    """`minLon,minLat,maxLon,maxLat` in WGS84 degrees (a string in the OpenAPI document)."""

    PATTERN = r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$"

    def __init__(self, **kwargs):
        metadata = {
            "description": f"minLon,minLat,maxLon,maxLat (WGS84)，每边最多 {MAX_BBOX_DEGREES} 度",
            "pattern": self.PATTERN,
            "example": "118.0,37.3,118.1,37.4",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parts = str(value).split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValidationError("bbox 应为 minLon,minLat,maxLon,maxLat 四个数字") from None
        if len(numbers) != 4:
            raise ValidationError("bbox 应为 minLon,minLat,maxLon,maxLat 四个数字")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not all(-180 <= x <= 180 for x in (min_lon, max_lon)) or not all(
            -90 <= y <= 90 for y in (min_lat, max_lat)
        ):
            raise ValidationError("bbox 超出范围：经度 -180–180，纬度 -90–90")
        if min_lon >= max_lon or min_lat >= max_lat:
            raise ValidationError("bbox 顺序颠倒：应为 minLon < maxLon 且 minLat < maxLat")
        if max_lon - min_lon > MAX_BBOX_DEGREES or max_lat - min_lat > MAX_BBOX_DEGREES:
            raise ValidationError(f"bbox 过大：每边最多 {MAX_BBOX_DEGREES} 度")
        return tuple(numbers)


class LocateQuery(Schema):
    """A point to locate."""

    lon = fields.Float(
        required=True,
        validate=validate.Range(-180, 180, error="经度 lon 应在 -180 到 180 之间"),
        metadata={"description": "经度 (longitude)"},
    )
    lat = fields.Float(
        required=True,
        validate=validate.Range(-90, 90, error="纬度 lat 应在 -90 到 90 之间"),
        metadata={"description": "纬度 (latitude)"},
    )
    crs = fields.String(
        load_default="wgs84",
        validate=validate.OneOf(CRS_CHOICES, error="crs 应为 wgs84、gcj02 或 bd09"),
        metadata={"description": "坐标系：wgs84（默认）、gcj02（高德/腾讯/微信）、bd09（百度）"},
    )


class UnitSchema(Schema):
    """A region or grid cell, by code and name."""

    code = fields.String()
    name = fields.String()


class LocateResult(Schema):
    """Where a point lies."""

    lon = fields.Float(metadata={"description": "WGS84 longitude used"})
    lat = fields.Float(metadata={"description": "WGS84 latitude used"})
    grid_cell = fields.Nested(UnitSchema)
    village = fields.Nested(UnitSchema)
    town = fields.Nested(UnitSchema, allow_none=True)
    county = fields.Nested(UnitSchema, allow_none=True)


class RegionQuery(Schema):
    """Filters of the region list."""

    level = fields.String(
        validate=validate.OneOf(
            ["province", "prefecture", "county", "town", "village"],
            error="level 应为 province、prefecture、county、town 或 village",
        )
    )
    parent = fields.String(
        validate=validate.Regexp(r"^\d{12}$", error="parent 应为 12 位区划代码"),
        metadata={"description": "上级区划代码"},
    )
    include_abolished = fields.Boolean(load_default=False, metadata={"description": "含已撤销"})


class GridCellQuery(Schema):
    """Filters of the grid-cell FeatureCollection."""

    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84)"})
    village = fields.String(
        validate=validate.Regexp(r"^\d{12}$", error="village 应为 12 位村级区划代码"),
    )
    limit = fields.Integer(
        validate=validate.Range(
            1, MAX_GRID_CELLS_LIMIT, error=f"limit 应在 1 到 {MAX_GRID_CELLS_LIMIT} 之间"
        ),
        metadata={"description": "最多返回的要素数（默认 1000，上限 5000）"},
    )


class GeoJSONSchema(Schema):
    """An RFC 7946 GeoJSON object (Feature or FeatureCollection); foreign members allowed."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    features = fields.List(fields.Dict())
    geometry = fields.Dict(allow_none=True)
    properties = fields.Dict(allow_none=True)


class FeatureSchema(Schema):
    """An RFC 7946 Feature: an id, a geometry (WGS84, 6 decimals) and properties."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, validate=validate.OneOf(["Feature"]))
    id = fields.String()
    geometry = fields.Dict(required=True, allow_none=True)
    properties = fields.Dict(required=True, allow_none=True)


class FeatureCollectionSchema(Schema):
    """An RFC 7946 FeatureCollection, with the foreign members numberReturned and truncated."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, validate=validate.OneOf(["FeatureCollection"]))
    features = fields.List(fields.Nested(FeatureSchema), required=True)
    numberReturned = fields.Integer(metadata={"description": "本次返回的要素数"})
    truncated = fields.Boolean(metadata={"description": "是否因 limit 截断"})


class HealthSchema(Schema):
    """Service and database health."""

    status = fields.String()
    postgresql = fields.String()
    postgis = fields.String()
