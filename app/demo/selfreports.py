"""Demo self-reports (随手拍): three residents' reports waiting in 王网格's cells (待核实).

Idempotent: skipped when the demo county has self-reports already. No receipt codes are shown
(they are shown once, to the resident); try the whole path at /report/public instead.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.extensions import db
from app.geo.placement import cell_at
from app.resident import receipts
from app.resident import selfreports
from app.resident.selfreport_models import SelfReport

COUNTY_PREFIX = "371699"
# (cell code, public category, description, fake mobile for the SMS sink)
REPORTS = [
    (
        "371699101200001",
        "环境卫生",
        "村东头路边垃圾堆了一个星期没人清运，气味很大。",
        "13905390001",
    ),
    ("371699101200001", "安全隐患", "小学门口的井盖松动，孩子们上下学经过很危险。", "13905390002"),
    ("371699101200002", "邻里纠纷", "邻居在公共过道上搭棚子堆放柴火，出入不便。", "13905390003"),
]
POINT_SQL = text(
    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cells "
    "WHERE code = :code) s"
)


def seed_demo_self_reports() -> int:
    """Create the demo self-reports unless the county has some; answer how many were made."""
    existing = db.session.scalar(
        select(func.count())
        .select_from(SelfReport)
        .where(SelfReport.region_code.startswith(COUNTY_PREFIX))
    )
    if existing:
        return 0
    made = 0
    for cell, category, description, phone in REPORTS:
        point = db.session.execute(POINT_SQL, {"code": cell}).first()
        placement = cell_at(point[0], point[1]) if point else None
        if placement is None:
            continue
        data = {"lon": point[0], "lat": point[1], "category": category, "description": description}
        report = selfreports.new_report(data, placement, phone)
        receipts.issue(number=report.number, self_report_id=report.id)
        made += 1
    return made
