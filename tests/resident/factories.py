"""Self-reports made directly (without the phone-code round trip), for tests that need one."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from app import pii
from app.attachments import services as attachments
from app.core import clock
from app.extensions import db
from app.geo.placement import cell_at
from app.resident import receipts
from app.resident import selfreports
from app.resident.selfreport_models import SelfReport
from app.resident.selfreport_models import SelfReportPhoto

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cf00000301010018dd8db40000000049454e44ae426082"
)


def make_self_report(point: dict, phone: str = "13912345678") -> tuple[str, int]:
    """A pending self-report at a point with one photo and a receipt: (number, photo id)."""
    placement = cell_at(point["lon"], point["lat"])
    moment = clock.now()
    report = SelfReport(
        number=selfreports.next_number(placement.county.code[:6], moment.year),
        location=from_shape(Point(point["lon"], point["lat"]), srid=4326),
        grid_cell_id=placement.cell.id,
        village_id=placement.village.id,
        town_id=placement.town.id,
        county_id=placement.county.id,
        region_code=placement.cell.code,
        category="邻里纠纷",
        description="邻居占道堆放杂物",
        phone_enc=pii.encrypt(phone),
        phone_hash=pii.keyed_hash(phone),
        phone_masked=pii.mask_phone(phone),
        client_key=f"factory-{moment.timestamp()}-{point['lon']}",
        reported_at=moment,
        due_at=selfreports.due_at(moment),
    )
    db.session.add(report)
    db.session.flush()
    upload = attachments.check(PNG, "photo.png")
    attachments.write_bytes(upload)
    photo = SelfReportPhoto(
        self_report_id=report.id, sha256=upload.sha256, content_type="image/png", size=len(PNG)
    )
    db.session.add(photo)
    receipts.issue(number=report.number, self_report_id=report.id)
    db.session.flush()
    return report.number, photo.id
