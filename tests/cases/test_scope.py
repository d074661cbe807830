"""Scope: cases of other villages and towns are invisible everywhere and cannot be acted on."""

import logging

from app.extensions import db
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import act
from tests.cases.factories import report
from tests.factories import bearer


def make_cases(client, world) -> dict[str, str]:
    """One case in 东村 cell 1 (by the grid worker), one in cell 2, one in 西村."""
    return {
        "cell1": report(client, world["grid_worker@village"]).get_json()["number"],
        "cell2": report(client, world["mediator@village"], **POINT_CELL2).get_json()["number"],
        "west": report(client, world["mediator@town"], **POINT_VILLAGE_B).get_json()["number"],
    }


def listed(client, user) -> set[str]:
    """Numbers in the user's case list."""
    items = client.get("/api/v1/cases?limit=200", headers=bearer(user)).get_json()["items"]
    return {c["number"] for c in items}


def mapped(client, user) -> set[str]:
    """Numbers on the user's case map layer."""
    body = client.get("/api/v1/cases.geojson", headers=bearer(user)).get_json(force=True)
    return {f["id"] for f in body["features"]}


def test_each_level_sees_its_subtree(client, world):
    """Village users see the village, town users the town, others nothing of it."""
    numbers = make_cases(client, world)
    everything = set(numbers.values())
    village = {numbers["cell1"], numbers["cell2"]}
    for key, expected in [
        ("mediator@village", village),
        ("official@town", everything),
        ("official@county", everything),
        ("outsider", set()),
    ]:
        assert listed(client, world[key]) == expected, key
        assert mapped(client, world[key]) == expected, key


def test_grid_worker_sees_own_cells_and_own_reports(client, world):
    """Cell 1 is the grid worker's; cell 2 is not (and was reported by someone else)."""
    numbers = make_cases(client, world)
    assert listed(client, world["grid_worker@village"]) == {numbers["cell1"]}
    hidden = client.get(
        f"/api/v1/cases/{numbers['cell2']}", headers=bearer(world["grid_worker@village"])
    )
    assert hidden.status_code == 404


def test_out_of_scope_detail_and_actions_are_404_like_missing(client, world):
    """Detail, actions and reveal outside scope answer exactly like a missing number."""
    numbers = make_cases(client, world)
    headers = bearer(world["mediator@village"])
    outside = client.get(f"/api/v1/cases/{numbers['west']}", headers=headers)
    missing = client.get("/api/v1/cases/371699-2026-999999", headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert outside.get_json() == missing.get_json()
    acted = act(client, world["mediator@village"], numbers["west"], "accept", version=1)
    assert acted.status_code == 404
    revealed = client.post(
        f"/api/v1/cases/{numbers['west']}/parties/1/reveal",
        json={"purpose": "contact"},
        headers=headers,
    )
    assert revealed.status_code == 404


def test_personal_data_never_leaves_masked_views(client, world, caplog):
    """Lists, the map layer and logs carry no names, ID numbers or phones."""
    caplog.set_level(logging.DEBUG)
    make_cases(client, world)
    official = bearer(world["official@county"])
    bodies = [
        client.get("/api/v1/cases", headers=official).get_data(as_text=True),
        client.get("/api/v1/cases.geojson", headers=official).get_data(as_text=True),
        client.get("/api/v1/cases?q=漏水", headers=official).get_data(as_text=True),
    ]
    text = " ".join(bodies) + caplog.text
    for secret in ("张三", "李四", ID_NUMBER, PHONE, "3312345"):
        assert secret not in text
    assert "parties" not in bodies[1]


def test_list_filters_keyset_pages_and_text_search(client, world):
    """Filters narrow the list; pages chain by cursor in deadline order; Chinese search works."""
    for _ in range(5):
        report(client, world["mediator@village"])
    report(client, world["mediator@village"], "petition", title="征地补偿信访")
    headers = bearer(world["official@town"])
    first = client.get("/api/v1/cases?limit=4", headers=headers).get_json()
    second = client.get(f"/api/v1/cases?limit=4&after={first['next']}", headers=headers).get_json()
    assert len(first["items"]) == 4 and len(second["items"]) == 2 and second["next"] is None
    dues = [c["next_due"] for c in first["items"] + second["items"]]
    assert dues == sorted(dues)
    assert len({c["number"] for c in first["items"] + second["items"]}) == 6
    found = client.get("/api/v1/cases?q=征地", headers=headers).get_json()["items"]
    assert [c["title"] for c in found] == ["征地补偿信访"]
    petitions = client.get("/api/v1/cases?kind=petition&state=reported", headers=headers)
    assert len(petitions.get_json()["items"]) == 1
    bad = client.get("/api/v1/cases?after=garbage", headers=headers)
    assert bad.status_code == 400
    db.session.commit()
