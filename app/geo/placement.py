"""Placement: the one rule that puts a point in its grid cell, village, town and county.

Used by /api/v1/locate, case reports and risk-point registration alike. A point on a border
shared by several cells goes to the lowest cell code; only current villages (not 已撤销) hold
cells, and only villages with a boundary (a region from the code list alone, 边界未导入,
places nothing). Outside every cell, the refusal names the nearest village — only ever one
inside the caller's jurisdiction, so a refusal never tells anyone about places they may not see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload

from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.scoping import Scope

NEAREST_VILLAGE_SQL = text(
    """
    SELECT v.code, v.name,
           round(ST_Distance(v.boundary::geography,
                             ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)) AS metres
      FROM regions v
     WHERE v.level = 'village' AND (v.valid_to IS NULL OR v.valid_to > current_date)
       AND v.boundary IS NOT NULL
       AND v.code LIKE :prefix || '%'
     ORDER BY v.boundary <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
     LIMIT 1
    """
)


@dataclass
class Placement:
    """Where a point falls: its cell and the regions above it."""

    cell: GridCell
    village: Region
    town: Region | None
    county: Region | None

    def as_dict(self) -> dict:
        """The locate answer: code and name of each unit."""

        def unit(item) -> dict | None:
            return {"code": item.code, "name": item.name} if item is not None else None

        return {
            "grid_cell": unit(self.cell),
            "village": unit(self.village),
            "town": unit(self.town),
            "county": unit(self.county),
        }


def _cell_at_statement(within_prefix: bool):
    """The cell containing the point (:lon, :lat), with its village, town and county loaded
    together, without their geometries; within the code pattern :pattern if asked."""
    point = func.ST_SetSRID(func.ST_MakePoint(bindparam("lon"), bindparam("lat")), 4326)
    stmt = (
        select(GridCell)
        .join(Region, Region.id == GridCell.village_id)
        .where(
            func.ST_Intersects(GridCell.geom, point),
            Region.valid_to.is_(None) | (Region.valid_to > func.current_date()),
            # never a guess: only villages whose boundary is imported hold placed points
            Region.boundary.is_not(None),
        )
        .order_by(GridCell.code)
        .limit(1)
        .options(
            defer(GridCell.geom),
            joinedload(GridCell.village).options(
                defer(Region.boundary),
                joinedload(Region.parent).options(
                    defer(Region.boundary),
                    joinedload(Region.parent).defer(Region.boundary),
                ),
            ),
        )
    )
    if within_prefix:
        stmt = stmt.where(GridCell.code.like(bindparam("pattern"), escape="/"))
    return stmt


# Built once (issue 18): building it cost more than running it, on every report.
CELL_AT = {False: _cell_at_statement(False), True: _cell_at_statement(True)}


def prefix_pattern(prefix: str) -> str:
    """A LIKE pattern for codes starting with `prefix` (its wildcards escaped with "/")."""
    return re.sub(r"([/%_])", r"/\1", prefix) + "%"


def cell_at(lon: float, lat: float, prefix: str = "") -> Placement | None:
    """The cell containing a WGS84 point (within a code prefix), with its regions; or None.

    One round trip: the cell, its village, town and county are loaded together, without their
    geometries.
    """
    params = {"lon": lon, "lat": lat}
    if prefix:
        params["pattern"] = prefix_pattern(prefix)
    cell = db.session.scalar(CELL_AT[bool(prefix)], params)
    if cell is None:
        return None
    village = cell.village
    town = village.parent
    return Placement(cell, village, town, town.parent if town is not None else None)


def nearest_village(lon: float, lat: float, prefix: str = "") -> dict | None:
    """The current village (within `prefix`) nearest to a point, with the distance in metres."""
    params = {"lon": lon, "lat": lat, "prefix": prefix}
    row = db.session.execute(NEAREST_VILLAGE_SQL, params).first()
    if row is None:
        return None
    return {"code": row.code, "name": row.name, "distance_m": int(row.metres)}


def outside_every_cell(lon: float, lat: float, scope: Scope, field: str) -> Invalid:
    """The 422 for a point in no cell, naming the nearest village of the caller's jurisdiction."""
    nearest = nearest_village(lon, lat, scope.prefix)
    outside = _("该点不在任何网格内")
    message = outside
    if nearest:
        message = _(
            "该点不在任何网格内；最近的村是 %(name)s（%(code)s，约 %(m)s 米）",
            name=nearest["name"],
            code=nearest["code"],
            m=nearest["distance_m"],
        )
    return Invalid(message, errors={"json": {field: [outside]}, "nearest_village": nearest})


def place_point(
    lon: float, lat: float, scope: Scope, *, field: str = "location", outside_scope: str = ""
) -> Placement:
    """Place a point for someone working in `scope`: 422 outside every cell, 403 outside scope.

    `field` names the request field in the 422; `outside_scope` is the 403's message.
    """
    placement = cell_at(lon, lat)
    if placement is None:
        raise outside_every_cell(lon, lat, scope, field)
    if not scope.contains(placement.cell.code):
        raise Forbidden(outside_scope or _("该点不在您的辖区内"))
    return placement


def join_places(stmt, subject, town, village):
    """`stmt` joined to the town, village and grid cell a placed row (case, risk point) is in.

    `subject` is the placed model (its town_id, village_id, grid_cell_id); `town` and `village`
    are aliases of Region, so the caller can select their names (and GridCell's).
    """
    return (
        stmt.join(town, town.id == subject.town_id)
        .join(village, village.id == subject.village_id)
        .join(GridCell, GridCell.id == subject.grid_cell_id)
    )
