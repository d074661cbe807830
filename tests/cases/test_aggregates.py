"""Case counts per region for maps at low zoom: scoped, filtered, bounded by the box."""

from __future__ import annotations

from app.cases import services
from app.extensions import db
from tests.cases.factories import POINT
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import case_body
from tests.factories import bearer
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B


def seed(world) -> None:
    """Three cases in the county (two villages) and one in the other county."""
    reporter = world["mediator@town"]
    for point, kind in (
        (POINT, "dispute"),
        (POINT_CELL2, "incident"),
        (POINT_VILLAGE_B, "dispute"),
    ):
        services.report({**case_body(kind), **point}, reporter)
    services.report({**case_body(), **POINT_OTHER_COUNTY}, world["outsider"])
    db.session.commit()


def counts(client, user, query: str) -> dict:
    """{code: cases} from the endpoint."""
    body = client.get(f"/api/v1/cases/by-region.geojson?{query}", headers=bearer(user)).get_json()
    return {f["properties"]["code"]: f["properties"]["cases"] for f in body["features"]}


def test_counts_by_village_and_town_in_scope_only(client, world):
    """A county official sees counts per village and per town; the other county never shows."""
    seed(world)
    official = world["official@county"]
    assert counts(client, official, "level=village") == {VILLAGE: 2, VILLAGE_B: 1}
    assert counts(client, official, "level=town") == {TOWN: 3}
    assert counts(client, world["official@village"], "level=village") == {VILLAGE: 2}


def test_filters_and_box(client, world):
    """kind, open and bbox narrow what is counted; features carry a bbox to zoom into."""
    seed(world)
    official = world["official@county"]
    assert counts(client, official, "level=village&kind=incident") == {VILLAGE: 1}
    assert counts(client, official, "level=village&bbox=118.0,37.3,118.03,37.35") == {VILLAGE: 1}
    body = client.get(
        "/api/v1/cases/by-region.geojson?level=grid_cell", headers=bearer(official)
    ).get_json()
    assert body["total"] == 3 and all(len(f["bbox"]) == 4 for f in body["features"])
    bad = client.get("/api/v1/cases/by-region.geojson?level=county", headers=bearer(official))
    assert bad.status_code == 400
