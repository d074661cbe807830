"""Schemas of the risks API: what registration, actions and inspections take, and what shows."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates
from marshmallow import validates_schema

from app import jsonfields
from app.cases.models import COMPLEXITY
from app.cases.models import KINDS
from app.cases.schemas import CATEGORIES as CASE_CATEGORIES
from app.cases.schemas import one_of
from app.core import geojson
from app.geo.crs import CRS_CHOICES
from app.geo.schemas import BBox
from app.risks.models import LEVELS
from app.risks.models import RESULTS
from app.risks.models import STATUSES

MAX_POSITIONS = 10_000  # vertices of one polygon: a risk point is a site, not a county
MAX_LIST_LIMIT = 200
MAX_GEOJSON_LIMIT = 20_000


def geometry_problem(geometry) -> str | None:
    """Check a GeoJSON Point or Polygon's structure; validity proper is PostGIS's job."""
    if not isinstance(geometry, dict):
        return "geometry 应为 GeoJSON 几何对象"
    gtype, coords = geometry.get("type"), geometry.get("coordinates")
    if gtype not in ("Point", "Polygon"):
        return f"几何类型应为 Point 或 Polygon，而不是 {gtype!r}"
    if not isinstance(coords, list):
        return "缺少坐标 coordinates"
    if gtype == "Point":
        if coords and not geojson.is_position(coords, lonlat=True, planar=True):
            return "点的坐标应为 [经度, 纬度]（经度 -180–180，纬度 -90–90；不接受高程）"
        return None
    if sum(len(ring) if isinstance(ring, list) else 0 for ring in coords) > MAX_POSITIONS:
        return f"多边形顶点过多（最多 {MAX_POSITIONS} 个）"
    for ring in coords:
        problem = geojson.ring_problem(
            ring,
            lonlat=True,
            planar=True,
            malformed="多边形坐标格式错误：每个位置应为 [经度, 纬度]（不接受高程）",
        )
        if problem:
            return problem
    return None


class GeometryField(fields.Dict):
    """A GeoJSON Point or Polygon (structure checked here, validity by PostGIS)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        problem = geometry_problem(value)
        if problem:
            raise ValidationError(problem)
        return {"type": value["type"], "coordinates": value["coordinates"]}


class RiskPointIn(Schema):
    """A new risk point."""

    category = fields.String(required=True, validate=validate.Length(1, 20))
    subcategory = fields.String(validate=validate.Length(1, 40))
    level = fields.String(required=True, validate=one_of(LEVELS, "level "))
    geometry = GeometryField(
        required=True, metadata={"description": "GeoJSON Point 或 Polygon（经纬度）"}
    )
    crs = fields.String(load_default="wgs84", validate=one_of(CRS_CHOICES, "crs "))
    name = fields.String(
        validate=validate.Length(1, 100), metadata={"description": "风险点名称（重点人群不填）"}
    )
    description = fields.String(
        validate=validate.Length(1, 5000), metadata={"description": "风险描述（重点人群不填）"}
    )
    measures = fields.String(
        required=True, validate=validate.Length(1, 5000), metadata={"description": "管控措施"}
    )
    responsible_id = jsonfields.Integer(
        validate=validate.Range(min=1), metadata={"description": "责任人（用户 id）；默认本人"}
    )


VERSION = {
    "validate": validate.Range(min=1),
    "metadata": {"description": "调用方看到的版本（或用 If-Match 头）"},
}


class RiskReasonIn(Schema):
    """An action with a written reason, and the version the caller saw."""

    version = jsonfields.Integer(**VERSION)
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class ChangeLevelIn(RiskReasonIn):
    """调整等级."""

    level = fields.String(required=True, validate=one_of(LEVELS, "level "))


class ApproveClearIn(RiskReasonIn):
    """审批消除（或干部直接消除）."""

    approved = jsonfields.Boolean(required=True)


class InspectionIn(Schema):
    """An inspection (排查); with `open_case`, the fields of the case an abnormal one opens."""

    version = jsonfields.Integer(**VERSION)
    inspected_on = fields.Date(metadata={"description": "排查日期；默认今天（北京时间）"})
    result = fields.String(required=True, validate=one_of(RESULTS, "result "))
    notes = fields.String(validate=validate.Length(1, 5000))
    # JSON true/false only ("yes" was taken as true); a multipart form's "true"/"false" is
    # converted before loading (app/risks/api.py inspection_body).
    open_case = jsonfields.Boolean(load_default=False, metadata={"description": "异常时一并立案"})
    kind = fields.String(validate=one_of(KINDS, "kind "))
    category = fields.String(validate=validate.Length(1, 40))
    title = fields.String(validate=validate.Length(1, 100))
    description = fields.String(validate=validate.Length(1, 5000))
    complexity = fields.String(validate=one_of(COMPLEXITY, "complexity "))

    @validates_schema
    def check_case_fields(self, data: dict, **kwargs) -> None:
        """A case only from an abnormal inspection, with its kind, category and title."""
        if not data.get("open_case"):
            return
        if data.get("result") != "abnormal":
            raise ValidationError(_("只有排查结果为异常时才能一并立案"), "open_case")
        errors = {}
        for name in ("kind", "category", "title"):
            if not data.get(name):
                errors[name] = [_("立案时必填")]
        if not data.get("description") and not data.get("notes"):
            errors["description"] = [_("立案时必填（或填写排查情况 notes）")]
        kind = data.get("kind")
        if kind in CASE_CATEGORIES and data.get("category") not in CASE_CATEGORIES[kind]:
            errors["category"] = [
                _("类别应为以下之一：%(values)s", values=", ".join(CASE_CATEGORIES[kind]))
            ]
        if errors:
            raise ValidationError(errors)


class RiskPointQuery(Schema):
    """Filters of the risk point list (and the export)."""

    category = fields.String(validate=validate.Length(1, 20))
    level = fields.String(validate=one_of(LEVELS, "level "))
    status = fields.String(validate=one_of(STATUSES, "status "))
    region = fields.String(validate=validate.Regexp(r"^\d{12}$", error="region 应为 12 位区划代码"))
    grid_cell = fields.String(
        validate=validate.Regexp(r"^\d{15}$", error="grid_cell 应为 15 位网格代码")
    )
    overdue = fields.Boolean(metadata={"description": "排查是否逾期（在控风险点）"})
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, MAX_LIST_LIMIT, error=f"limit 应在 1 到 {MAX_LIST_LIMIT} 之间"),
    )
    after = fields.String(metadata={"description": "上一页返回的 next 游标"})


class RiskExportQuery(RiskPointQuery):
    """The list's filters, without paging."""

    class Meta:
        exclude = ("limit", "after")


class RiskGeoQuery(Schema):
    """Filters of the risk point map layer."""

    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84)"})
    category = fields.String(validate=validate.Length(1, 20))
    level = fields.String(validate=one_of(LEVELS, "level "))
    include_cleared = fields.Boolean(load_default=False, metadata={"description": "含已消除"})
    limit = fields.Integer(
        load_default=5000,
        validate=validate.Range(
            1, MAX_GEOJSON_LIMIT, error=f"limit 应在 1 到 {MAX_GEOJSON_LIMIT} 之间"
        ),
    )


class RiskMapQuery(Schema):
    """Which grid cells to score."""

    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84)"})
    village = fields.String(
        validate=validate.Regexp(r"^\d{12}$", error="village 应为 12 位村级区划代码")
    )
    limit = fields.Integer(
        load_default=1000,
        validate=validate.Range(1, 5000, error="limit 应在 1 到 5000 之间"),
        metadata={"description": "最多返回的网格数（默认 1000，上限 5000）"},
    )


class CategoryIn(Schema):
    """A new risk category."""

    name = fields.String(required=True, validate=validate.Length(1, 20))
    subcategories = fields.List(
        fields.String(validate=validate.Length(1, 40)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    restricted = jsonfields.Boolean(
        load_default=False, metadata={"description": "重点人群类：不填名称和描述，须选子类"}
    )
    active = jsonfields.Boolean(load_default=True)
    sort_order = jsonfields.Integer(load_default=100, validate=validate.Range(0, 10000))

    @validates("subcategories")
    def check_unique(self, value: list[str], **kwargs) -> None:
        """No sub-category twice."""
        if len(set(value)) != len(value):
            raise ValidationError(_("子类不能重复"))


class CategoryUpdate(CategoryIn):
    """A change to a category: any of its fields, and the version the caller saw."""

    version = jsonfields.Integer(**VERSION)
    name = fields.String(validate=validate.Length(1, 20))
    subcategories = fields.List(
        fields.String(validate=validate.Length(1, 40)), validate=validate.Length(max=50)
    )
    restricted = jsonfields.Boolean()
    active = jsonfields.Boolean()
    sort_order = jsonfields.Integer(validate=validate.Range(0, 10000))


class CategoryOut(Schema):
    """A risk category."""

    id = fields.Integer()
    name = fields.String()
    subcategories = fields.List(fields.String())
    restricted = fields.Boolean()
    active = fields.Boolean()
    sort_order = fields.Integer()
    version = fields.Integer(metadata={"description": "修改时在 If-Match 或 version 中带回"})


DAYS = validate.Range(1, 366, error=_l("周期应为 1 到 366 天"))


class ScheduleIn(Schema):
    """New inspection periods (days) for any of the levels."""

    red = jsonfields.Integer(validate=DAYS)
    orange = jsonfields.Integer(validate=DAYS)
    yellow = jsonfields.Integer(validate=DAYS)
    blue = jsonfields.Integer(validate=DAYS)

    @validates_schema
    def check_any(self, data: dict, **kwargs) -> None:
        """At least one level."""
        if not data:
            raise ValidationError(_("至少填写一个等级的周期：red、orange、yellow 或 blue"))


class ScheduleOut(Schema):
    """One level's inspection period."""

    level = fields.String()
    level_name = fields.String()
    days = fields.Integer()
    source = fields.String(allow_none=True)


class RiskUnitOut(Schema):
    """A region or grid cell by code and name."""

    code = fields.String()
    name = fields.String()


class ResponsibleOut(Schema):
    """A staff member, by id and display name only."""

    id = fields.Integer()
    name = fields.String(attribute="display_name")


class RiskEventOut(Schema):
    """A history entry."""

    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.Function(lambda e: e.actor.display_name if e.actor else "系统")
    action = fields.String()
    from_level = fields.String(allow_none=True)
    to_level = fields.String(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    data = fields.Dict()


class AttachmentOut(Schema):
    """An attachment's description; the bytes are at `url`."""

    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    original_name = fields.String(allow_none=True)
    url = fields.Function(lambda a: f"/api/v1/attachments/{a.id}")


class InspectionOut(Schema):
    """An inspection."""

    id = fields.Integer()
    inspected_on = fields.Date()
    inspector = fields.Function(lambda i: i.inspector.display_name)
    result = fields.String()
    notes = fields.String(allow_none=True)
    case_number = fields.String(allow_none=True)
    photos = fields.List(fields.Nested(AttachmentOut))
    created_at = fields.DateTime()


class RiskPointSummary(Schema):
    """A risk point in lists."""

    id = fields.Integer()
    code = fields.String()
    version = fields.Integer(metadata={"description": "办理操作时在 If-Match 或 version 中带回"})
    category = fields.Function(lambda r: r.category.name)
    subcategory = fields.String(allow_none=True)
    level = fields.String()
    status = fields.String()
    name = fields.String()
    geometry_type = fields.String()
    grid_cell = fields.Nested(RiskUnitOut)
    village = fields.Nested(RiskUnitOut)
    town = fields.Nested(RiskUnitOut)
    responsible = fields.Nested(ResponsibleOut)
    inspection_days = fields.Integer()
    last_inspected_on = fields.Date(allow_none=True)
    next_due = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    overdue_since = fields.Date(allow_none=True)
    clear_requested = fields.Function(lambda r: r.clear_requested_at is not None)


class ClearRequestOut(Schema):
    """A pending request to clear a point."""

    at = fields.DateTime()
    by = fields.String()
    reason = fields.String()


class RiskPointOut(RiskPointSummary):
    """A risk point in full, with its history and inspections."""

    description = fields.String(allow_none=True)
    measures = fields.String()
    geometry = fields.Dict()
    lon = fields.Float(metadata={"description": "代表点（点本身，或面内一点）"})
    lat = fields.Float()
    generalized = fields.Boolean(
        metadata={"description": "重点人群：位置为所在网格内一点，确切位置须经留痕查看"}
    )
    county = fields.Nested(RiskUnitOut)
    registered_at = fields.DateTime()
    registered_by = fields.Function(lambda r: r.registered_by.display_name)
    cleared_at = fields.DateTime(allow_none=True)
    clear_request = fields.Nested(ClearRequestOut, allow_none=True)
    cases = fields.List(fields.String(), metadata={"description": "关联事件编号（本人可见的）"})
    events = fields.List(fields.Nested(RiskEventOut))
    inspections = fields.List(fields.Nested(InspectionOut))
    allowed_actions = fields.List(fields.String())


class RiskPointPage(Schema):
    """A page of risk points, with the cursor of the next page."""

    items = fields.List(fields.Nested(RiskPointSummary))
    next = fields.String(allow_none=True)


class InspectionResult(Schema):
    """What recording an inspection did."""

    inspection = fields.Nested(InspectionOut)
    case_number = fields.String(allow_none=True)
    next_due = fields.Date()
    overdue = fields.Boolean()


class LocationIn(Schema):
    """Why the exact place of a point is needed (recorded in the audit log)."""

    reason = fields.String(
        required=True,
        validate=validate.Length(2, 200),
        metadata={"description": "查看确切位置的理由（如：入户走访）"},
    )


class LocationOut(Schema):
    """The registered geometry of a point."""

    geometry = fields.Dict()
    lon = fields.Float()
    lat = fields.Float()
    generalized = fields.Boolean()
