"""Demo cameras (雪亮工程): one at the inner point of every grid cell of the demo town, with
GB/T 28181 codes of the demo county; a few offline or faulty.

Deterministic and idempotent: a camera whose device code exists is skipped.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.cameras import services
from app.cameras.models import Camera
from app.extensions import db
from app.scoping import scope_for

TOWN_PREFIX = "371699101"
ADMIN = "xian_admin"
CELLS_SQL = text(
    """
    SELECT g.code, v.name AS village, ST_X(ST_PointOnSurface(g.geom)) AS lon,
           ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM grid_cells g JOIN regions v ON v.id = g.village_id
     WHERE g.code LIKE :prefix || '%' AND (v.valid_to IS NULL OR v.valid_to > current_date)
     ORDER BY g.code
    """
)


def seed_demo_cameras() -> int:
    """Register the demo cameras that do not exist yet; the number added."""
    admin = db.session.scalar(select(User).where(User.username == ADMIN))
    if admin is None:
        return 0
    existing = set(db.session.scalars(select(Camera.device_code)))
    added = 0
    for serial, cell in enumerate(db.session.execute(CELLS_SQL, {"prefix": TOWN_PREFIX}), 1):
        code = f"3716990100{'131' if serial % 5 == 0 else '132'}5{serial:06d}"
        if code in existing:
            continue
        status = "fault" if serial % 17 == 0 else "offline" if serial % 11 == 0 else "online"
        body = {
            "device_code": code,
            "name": f"{cell.village}{cell.code[-3:]}网格路口",
            "lon": cell.lon,
            "lat": cell.lat,
            "direction": (serial * 47) % 360,
            "status": status,
            "owner": "示范县公安局",
        }
        services.create(body, scope_for(admin), admin, audited=False)
        added += 1
    return added
