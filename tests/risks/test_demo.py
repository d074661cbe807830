"""`flask seed demo` adds about 80 risk points: every category at every level, some overdue."""

from __future__ import annotations

import time

from sqlalchemy import text

from app.core import clock
from app.extensions import db


def test_demo_risk_points(runner):
    """Every category × level, polygons too, inspection histories, some overdue, some cleared;
    a rerun adds nothing; the whole seed stays well under a minute."""
    started = time.monotonic()
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60
    assert "新增风险点 80 个" in result.output
    combos = db.session.execute(
        text(
            """
            SELECT count(DISTINCT (category_id, level)) AS combos, count(*) AS points,
                   count(*) FILTER (WHERE GeometryType(geom) = 'POLYGON') AS polygons,
                   count(*) FILTER (WHERE status = 'active' AND next_due < :today) AS overdue,
                   count(*) FILTER (WHERE overdue_since IS NOT NULL) AS marked,
                   count(*) FILTER (WHERE status = 'cleared') AS cleared,
                   count(*) FILTER (WHERE clear_requested_at IS NOT NULL) AS pending,
                   count(*) FILTER (WHERE region_code LIKE '371699101200%') AS demo_village
              FROM risk_points
            """
        ),
        {"today": clock.today()},
    ).one()
    assert combos.points == 80 and combos.combos == 40
    assert combos.polygons >= 10
    assert 5 <= combos.overdue < 40 and combos.marked == combos.overdue
    assert combos.cleared >= 1 and combos.pending >= 1
    assert combos.demo_village >= 10
    inspections = db.session.scalar(text("SELECT count(*) FROM inspections"))
    assert inspections > 200
    responsible = set(
        db.session.scalars(
            text(
                "SELECT DISTINCT u.username FROM risk_points r"
                " JOIN users u ON u.id = r.responsible_id"
            )
        )
    )
    assert {"cun_wangge", "zhen_ganbu", "xian_tiaojie"} <= responsible

    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0, again.output
    assert "新增风险点 0 个" in again.output
    assert db.session.scalar(text("SELECT count(*) FROM risk_points")) == 80
