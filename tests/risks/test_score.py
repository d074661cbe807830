"""The risk score per grid cell: every component, and the total worked out by hand."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from app.core import clock
from app.extensions import db
from app.risks import services
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import report
from tests.factories import bearer
from tests.geo.factories import VILLAGE
from tests.risks.factories import POLYGON_MOSTLY_CELL1
from tests.risks.factories import make_point

CELL1, CELL2 = f"{VILLAGE}001", f"{VILLAGE}002"


def test_score_of_a_hand_built_cell(client, world, monkeypatch):
    """Cell 1: a red point, an orange polygon (mostly in cell 1), a yellow point overdue, a blue
    point cleared; an open dispute with a red warning, an open petition, a closed incident.

    points: 10·1 red + 5·1 orange + 2·1 yellow + 1·0 blue (cleared) + 1·1 overdue = 18
    cases:  1·1 open case + 1.5·1 open petition + 2·1 red warning            = 4.5
    score = 22.5. Cell 2 holds one blue point: score 1.
    """
    mediator = world["mediator@village"]
    make_point(mediator, level="red")
    make_point(mediator, level="orange", geometry=POLYGON_MOSTLY_CELL1)
    yellow_id = make_point(mediator, level="yellow").id
    cleared = make_point(mediator, level="blue")
    services.approve_clear(cleared, world["official@village"], True, "已消除")
    make_point(mediator, level="blue", geometry={"type": "Point", "coordinates": [118.04, 37.32]})
    db.session.execute(
        text("UPDATE risk_points SET next_due = :d WHERE id = :id"),
        {"d": clock.today() - dt.timedelta(days=1), "id": yellow_id},
    )
    db.session.commit()

    dispute = report(client, world["grid_worker@village"]).get_json()["number"]
    report(client, world["mediator@village"], "petition")
    closed = report(client, world["mediator@village"], "incident").get_json()["number"]
    report(client, world["mediator@village"], **POINT_CELL2)  # an open dispute in cell 2
    # Warnings depend on today's date (a report at 00:10 Shanghai time is 3 days from its
    # deadline, so yellow): pin them for the sum below.
    db.session.execute(text("UPDATE cases SET warning = 'none'"))
    db.session.execute(text("UPDATE cases SET warning = 'red' WHERE number = :n"), {"n": dispute})
    db.session.execute(
        text("UPDATE cases SET state = 'closed', closed_at = now() WHERE number = :n"),
        {"n": closed},
    )
    db.session.commit()

    body = client.get(
        f"/api/v1/grid-cells/risk?bbox=118.0,37.3,118.1,37.35&village={VILLAGE}",
        headers=bearer(world["official@town"]),
    ).get_json()
    assert body["weights"]["red_points"] == 10 and body["weights"]["open_petitions"] == 1.5
    cells = {f["id"]: f["properties"] for f in body["features"]}
    assert set(cells) == {CELL1, CELL2}
    one = cells[CELL1]
    assert one["components"] == {
        "red_points": 1,
        "orange_points": 1,
        "yellow_points": 1,
        "blue_points": 0,
        "overdue_inspections": 1,
        "open_cases": 1,
        "open_petitions": 1,
        "yellow_warnings": 0,
        "red_warnings": 1,
        "points_score": 18,
        "cases_score": 4.5,
    }
    assert one["score"] == 22.5
    two = cells[CELL2]
    assert two["components"]["blue_points"] == 1 and two["components"]["open_cases"] == 1
    assert two["score"] == 2  # 1 blue point + 1 open case
    feature = next(f for f in body["features"] if f["id"] == CELL1)
    assert feature["geometry"]["type"] == "MultiPolygon"


def test_grid_worker_scores_count_only_what_they_may_see(client, world):
    """A grid worker of cell 1 sees the village's cells, scored from their own points only."""
    make_point(
        world["mediator@village"],
        level="red",
        geometry={"type": "Point", "coordinates": [118.04, 37.32]},
    )
    make_point(world["grid_worker@village"], level="red")
    body = client.get(
        "/api/v1/grid-cells/risk", headers=bearer(world["grid_worker@village"])
    ).get_json()
    scores = {f["id"]: f["properties"]["score"] for f in body["features"]}
    assert scores == {CELL1: 10, CELL2: 0}
