"""Self-reports made directly (without the phone-code round trip), for tests that need one."""

from __future__ import annotations

from app.attachments import services as attachments
from app.geo.placement import cell_at
from app.resident import receipts
from app.resident import selfreports

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cf00000301010018dd8db40000000049454e44ae426082"
)


def make_self_report(point: dict, phone: str = "13912345678") -> tuple[str, int]:
    """A pending self-report at a point with one photo and a receipt: (number, photo id)."""
    data = {**point, "category": "邻里纠纷", "description": "邻居占道堆放杂物"}
    photo = attachments.check(PNG, "photo.png")
    report = selfreports.new_report(data, cell_at(point["lon"], point["lat"]), phone, [photo])
    receipts.issue(number=report.number, self_report_id=report.id)
    return report.number, selfreports.photos_of(report)[0].id
