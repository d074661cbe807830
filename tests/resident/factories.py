"""Self-reports made directly (without the phone-code round trip), for tests that need one."""

from __future__ import annotations

from app.attachments import services as attachments
from app.geo.placement import cell_at
from app.resident import receipts
from app.resident import selfreports
from tests.risks.factories import png_bytes

PNG = png_bytes()  # a real image: uploads must decode


def make_self_report(point: dict, phone: str = "13912345678") -> tuple[str, int]:
    """A pending self-report at a point with one photo and a receipt: (number, photo id)."""
    data = {**point, "category": "邻里纠纷", "description": "邻居占道堆放杂物"}
    photo = attachments.check(PNG, "photo.png")
    report = selfreports.new_report(data, cell_at(point["lon"], point["lat"]), phone, [photo])
    receipts.issue(number=report.number, self_report_id=report.id)
    return report.number, selfreports.photos_of(report)[0].id
