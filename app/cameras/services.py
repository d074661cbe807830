"""Camera operations: register, change, import a 点位台账 (xlsx). Services flush, never commit.

Placement is the one rule every point follows (app/geo/placement.py): a camera lies in a grid
cell of the caller's jurisdiction (422 outside every cell, 403 outside the jurisdiction).
"""

from __future__ import annotations

import contextlib

from flask_babel import gettext as _
from geoalchemy2.shape import from_shape
from marshmallow import ValidationError
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from shapely.geometry import Point
from sqlalchemy import func
from sqlalchemy import select

from app.audit import services as audit
from app.cameras import schemas
from app.cameras.models import Camera
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import DomainError
from app.core.errors import Invalid
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.dispatch import departments as units
from app.dispatch.models import Department
from app.extensions import db
from app.geo.crs import to_wgs84
from app.geo.placement import place_point
from app.scoping import Scope

FIELDS = ("name", "direction", "status", "department_id", "owner", "video_url")


def check_department(department_id: int | None, scope: Scope) -> None:
    """The owning unit is one the caller may read (422 naming the field otherwise)."""
    if department_id is None:
        return
    department = db.session.get(Department, department_id)
    if department is None or not units.can_read(department, scope):
        message = _("所属单位不存在或不在您的辖区内")
        raise Invalid(message, {"json": {"department_id": [message]}})


def place(camera: Camera, lon: float, lat: float, scope: Scope) -> None:
    """Put the camera at a WGS84 point, in its cell, village, town and county."""
    placement = place_point(lon, lat, scope, field="lon", outside_scope=_("该点位不在您的辖区内"))
    camera.geom = from_shape(Point(lon, lat), srid=4326)
    camera.grid_cell = placement.cell
    camera.village = placement.village
    camera.town = placement.town
    camera.county = placement.county
    camera.region_code = placement.cell.code


def create(data: dict, scope: Scope, user, *, audited: bool = True) -> Camera:
    """Register a camera (CameraIn, coordinates in `crs`); its device code is unique (409)."""
    if db.session.scalar(select(Camera.id).where(Camera.device_code == data["device_code"])):
        message = _("设备编码已登记")
        raise Conflict(message, errors={"json": {"device_code": [message]}})
    check_department(data.get("department_id"), scope)
    lon, lat = to_wgs84(data["lon"], data["lat"], data.get("crs", "wgs84"))
    camera = Camera(device_code=data["device_code"], version=1)
    for key in FIELDS:
        setattr(camera, key, data.get(key))
    camera.status = data.get("status") or "online"
    place(camera, lon, lat, scope)
    db.session.add(camera)
    db.session.flush()
    if audited:  # an import records itself once (a dry run records nothing it did not do)
        audit.record(
            "cameras.create",
            actor=user,
            object_type="camera",
            object_id=camera.device_code,
            region_code=camera.region_code,
        )
    return camera


def check_version(camera: Camera, version: int | None) -> None:
    """428 without the version the caller saw; 409 when someone changed the camera since."""
    if version is None:
        raise PreconditionRequired(_("缺少版本号：请在 If-Match 头或 version 字段中给出版本"))
    if version != camera.version:
        raise stale(version, camera.version, _("该摄像机已被他人修改，您的修改没有保存"))


def update(camera: Camera, data: dict, scope: Scope, user, *, audited: bool = True) -> Camera:
    """Change a camera (CameraUpdate, the version already checked); a move re-places it."""
    if "department_id" in data:
        check_department(data["department_id"], scope)
    changes = {k: data[k] for k in FIELDS if k in data and getattr(camera, k) != data[k]}
    before = {k: getattr(camera, k) for k in changes}
    for key, value in changes.items():
        setattr(camera, key, value)
    if "lon" in data:
        lon, lat = to_wgs84(data["lon"], data["lat"], data.get("crs", "wgs84"))
        old = db.session.execute(
            select(func.ST_X(Camera.geom), func.ST_Y(Camera.geom)).where(Camera.id == camera.id)
        ).one()
        if (round(old[0], 7), round(old[1], 7)) != (round(lon, 7), round(lat, 7)):
            place(camera, lon, lat, scope)
            before["location"], changes["location"] = list(old), [lon, lat]
    if changes:
        camera.updated_at = clock.now()
        db.session.flush()
    if changes and audited:
        audit.record(
            "cameras.update",
            actor=user,
            object_type="camera",
            object_id=camera.device_code,
            region_code=camera.region_code,
            detail={"before": before, "after": changes},
        )
    return camera


# --- the xlsx import (点位台账) ------------------------------------------------------------------

# Header (as county ledgers write it) → field. English field names are accepted too.
HEADERS = {
    "设备编码": "device_code",
    "国标编码": "device_code",
    "编码": "device_code",
    "名称": "name",
    "点位名称": "name",
    "设备名称": "name",
    "经度": "lon",
    "纬度": "lat",
    "方向": "direction",
    "朝向": "direction",
    "状态": "status",
    "所属单位": "owner",
    "建设单位": "owner",
    "视频平台链接": "video_url",
    "视频链接": "video_url",
    "链接": "video_url",
}
STATUS_WORDS = {"在线": "online", "离线": "offline", "故障": "fault"}
REQUIRED = ("device_code", "name", "lon", "lat")
MAX_ROWS = 20_000


def problem(row: int, column: str, message: str) -> dict:
    """One problem of a file: its row (as the spreadsheet numbers them), column and message."""
    return {"row": row, "column": column, "message": str(message)}


def cell_text(value) -> str | None:
    """A cell as trimmed text (numbers without a trailing .0), None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) > 1000:
        value = int(value)
    text = str(value).strip()
    return text or None


def read_rows(stream) -> tuple[list[tuple[int, dict]], list[dict], dict[str, str]]:
    """The rows of the first sheet as (row number, {field: text}), the header problems, and
    the column letter (header) of each field."""
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable upload is the same refusal
        return [], [problem(0, "", _("无法读取该文件：请上传 .xlsx 工作簿"))], {}
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None) or ()
    columns: dict[int, str] = {}
    headers: dict[str, str] = {}
    for index, value in enumerate(header):
        name = cell_text(value)
        field = HEADERS.get(name or "") or (name if name in (*REQUIRED, *FIELDS) else None)
        if field and field not in columns.values():
            columns[index] = field
            headers[field] = f"{get_column_letter(index + 1)}（{name}）"
    problems = [
        problem(1, field, _("缺少必填列：%(field)s", field=field))
        for field in REQUIRED
        if field not in columns.values()
    ]
    out = []
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            problems.append(problem(number, "", _("行数过多：一次最多 %(n)s 行", n=MAX_ROWS)))
            break
        record = {
            field: cell_text(values[index])
            for index, field in columns.items()
            if index < len(values)
        }
        if any(record.values()):
            out.append((number, record))
    book.close()
    return out, problems, headers


def parse_row(record: dict) -> dict:
    """A spreadsheet row as a CameraIn body (text → numbers, status words → codes)."""
    body = {k: v for k, v in record.items() if v is not None}
    # Text that is no number stays text: the schema then names the field.
    for key in ("lon", "lat", "direction"):
        if key in body:
            with contextlib.suppress(ValueError):
                body[key] = float(body[key]) if key != "direction" else int(float(body[key]))
    if "status" in body:
        body["status"] = STATUS_WORDS.get(body["status"], body["status"].lower())
    return body


def import_file(stream, scope: Scope, user, *, apply: bool) -> dict:
    """Check (dry run) or apply a camera ledger; idempotent by device code.

    Answers {"rows", "new", "updated", "unchanged", "problems": [{row, column, message}],
    "applied"}. Applying refuses (writes nothing) while any row has a problem. A device code
    registered outside the caller's jurisdiction is a problem of its row, like a point outside.
    """
    rows, problems, headers = read_rows(stream)
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    seen: dict[str, int] = {}
    planned = []
    schema = schemas.CameraIn()
    for number, record in rows:
        body = parse_row(record)
        try:
            data = schema.load(body)
        except ValidationError as exc:
            for field, messages in exc.messages.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    problems.append(problem(number, headers.get(field, field), message))
            continue
        # Only what the row gives: a ledger without a status column keeps each camera's status.
        data = {k: v for k, v in data.items() if k in body or k == "crs"}
        code = data["device_code"]
        if code in seen:
            message = _("设备编码与第 %(row)s 行重复", row=seen[code])
            problems.append(problem(number, headers["device_code"], message))
            continue
        seen[code] = number
        existing = db.session.scalar(select(Camera).where(Camera.device_code == code))
        if existing is not None and not scope.contains(existing.region_code):
            message = _("该设备编码已在其他辖区登记")
            problems.append(problem(number, headers["device_code"], message))
            continue
        try:
            # Placement is checked in a savepoint: a dry run leaves nothing behind.
            with db.session.begin_nested() as savepoint:
                if existing is None:
                    create(data, scope, user, audited=False)
                    kind = "new"
                else:
                    before = existing.version
                    update(existing, data, scope, user, audited=False)
                    kind = "updated" if existing.version != before else "unchanged"
                if not apply:
                    savepoint.rollback()
        except DomainError as exc:
            fields = (exc.errors or {}).get("json") or {"lon": [exc.message]}
            for field, messages in fields.items():
                column = headers.get(field, field)
                problems.extend(problem(number, column, m) for m in messages)
            continue
        counts[kind] += 1
        planned.append(code)
    report = {"rows": len(rows), **counts, "problems": problems, "applied": False}
    if apply:
        if problems:
            raise Invalid(
                _("文件中有 %(n)s 处问题，未导入任何点位", n=len(problems)),
                {"problems": problems},
            )
        report["applied"] = True
        audit.record(
            "cameras.import",
            actor=user,
            object_type="cameras",
            region_code=scope.prefix,
            detail={k: report[k] for k in ("rows", "new", "updated", "unchanged")},
        )
    return report
