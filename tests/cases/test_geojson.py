"""The case map layer: what a cut answer says, how the rest is fetched, how few bytes it takes."""

from sqlalchemy import text

from app.core import paging
from app.extensions import db
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import report
from tests.factories import bearer

MAP_PROPERTIES = {
    "number",
    "kind",
    "category",
    "state",
    "warning",
    "reported_on",
    "location_approximate",
}


def test_a_cut_layer_says_so_and_its_next_links_walk_the_rest(app, client, world, monkeypatch):
    """With the configured cap below the cases in view, each page says `truncated` and links to
    the next; walking the links answers exactly the features of one uncut answer."""
    for user, point in (
        ("grid_worker@village", {}),
        ("mediator@village", POINT_CELL2),
        ("mediator@town", POINT_VILLAGE_B),
    ):
        assert report(client, world[user], **point).status_code == 201
    headers = bearer(world["official@county"])
    whole = client.get("/api/v1/cases.geojson?limit=100", headers=headers).get_json(force=True)
    assert len(whole["features"]) == 3 and whole["truncated"] is False and whole["next"] is None

    monkeypatch.setitem(app.config, "CASES_GEOJSON_LIMIT", 2)
    first = client.get("/api/v1/cases.geojson", headers=headers)
    body = first.get_json(force=True)
    assert (body["numberReturned"], body["truncated"]) == (2, True)
    last_id = db.session.scalar(
        text("SELECT id FROM cases WHERE number = :n"), {"n": body["features"][-1]["id"]}
    )
    assert body["next"] == "/api/v1/cases.geojson?after=" + paging.encode_cursor(None, last_id)
    assert first.headers["Link"] == f'<{body["next"]}>; rel="next"'

    rest = client.get(body["next"], headers=headers)
    tail = rest.get_json(force=True)
    assert (tail["numberReturned"], tail["truncated"], tail["next"]) == (1, False, None)
    assert "Link" not in rest.headers
    assert body["features"] + tail["features"] == whole["features"]

    feature = whole["features"][0]
    assert set(feature["properties"]) == MAP_PROPERTIES
    lon, lat = feature["geometry"]["coordinates"]
    assert all(len(repr(x).split(".")[-1]) <= 5 for x in (lon, lat))
    assert client.get("/api/v1/cases.geojson?after=nonsense", headers=headers).status_code == 400
