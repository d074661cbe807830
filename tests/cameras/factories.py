"""Helpers for camera tests: valid device codes, bodies, a registered camera, an xlsx ledger."""

from __future__ import annotations

import io

from openpyxl import Workbook

from app.cameras import services
from app.extensions import db
from app.scoping import scope_for


def device_code(serial: int, *, centre: str = "37169901", kind: str = "132") -> str:
    """A valid GB/T 28181 camera code: centre 8, industry 00, type, network 5, serial 6."""
    return f"{centre}00{kind}5{serial:06d}"


def camera_body(serial: int = 1, **overrides) -> dict:
    """A valid camera at a point in cell 371699101200001 of 东村."""
    body = {
        "device_code": device_code(serial),
        "name": f"东村路口{serial}号",
        "lon": 118.01,
        "lat": 37.32,
        "direction": 90,
        "status": "online",
        "owner": "县公安局",
        "video_url": "https://video.example.gov.cn/play?id=1",
    }
    body.update(overrides)
    return body


def make_camera(user, serial: int = 1, **overrides):
    """Register a camera through the service and commit; returns its id."""
    camera = services.create(camera_body(serial, **overrides), scope_for(user), user)
    db.session.commit()
    return camera.id


def ledger(rows: list[list], header=None) -> io.BytesIO:
    """An xlsx camera ledger with Chinese headers."""
    book = Workbook()
    sheet = book.active
    sheet.append(
        header or ["设备编码", "名称", "经度", "纬度", "方向", "状态", "所属单位", "视频平台链接"]
    )
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out
