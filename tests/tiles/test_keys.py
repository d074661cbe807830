"""Tile keys: the map's tiles without a user lookup, the same bytes, the same scope."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from app.extensions import db
from app.tiles import keys
from app.tiles import services
from tests.factories import bearer
from tests.tiles.test_tiles import IN_CELL1
from tests.tiles.test_tiles import IN_CELL2
from tests.tiles.test_tiles import IN_VILLAGE_B
from tests.tiles.test_tiles import features
from tests.tiles.test_tiles import report_at
from tests.tiles.test_tiles import tile_of
from tests.tiles.test_tiles import url


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def access(client, user) -> dict:
    """The caller's tile key, versions and URL templates."""
    response = client.get("/api/v1/tiles/access", headers=bearer(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def keyed(template: str, tile: tuple[int, int, int]) -> str:
    """A tile URL from an access answer's template."""
    z, x, y = tile
    return template.format(z=z, x=x, y=y)


class StatementCounter:
    """Counts the SQL statements sent while it is active."""

    def __init__(self):
        self.count = 0

    def __call__(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def test_access_gives_a_key_current_versions_and_url_templates(client, world, cases_in_tile):
    """The versions are the layers' data versions; every template carries the key and version."""
    got = access(client, world["official@county"])
    assert got["versions"] == {layer: services.data_versions()[layer] for layer in got["versions"]}
    assert set(got["urls"]) == set(services.LAYERS)
    for layer, template in got["urls"].items():
        assert template.startswith(f"/api/v1/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf?")
        assert f"key={got['key']}" in template and f"v={got['versions'][layer]}" in template
    assert got["expires_in"] == 600


def test_access_needs_the_cases_read_permission(client, world):
    """Signed out: 401; an admin (no cases.read): 403."""
    assert client.get("/api/v1/tiles/access").status_code == 401
    denied = client.get("/api/v1/tiles/access", headers=bearer(world["admin@town"]))
    assert denied.status_code == 403


@pytest.mark.parametrize(
    "caller", ["official@county", "mediator@town", "mediator@village", "grid_worker@village"]
)
def test_a_keyed_tile_equals_the_signed_in_tile(client, world, cases_in_tile, caller):
    """The key carries exactly the caller's scope: the same features as a signed-in request."""
    user = world[caller]
    template = access(client, user)["urls"]["cases"]
    for point in (IN_CELL2, IN_CELL1):
        tile = tile_of(**point, z=12)
        signed_in = features(client.get(url("cases", tile), headers=bearer(world[caller])))
        with_key = features(client.get(keyed(template, tile)))  # no cookie, no token
        assert sorted(f["id"] for f in with_key) == sorted(f["id"] for f in signed_in)
    grid = access(client, world[caller])["urls"]["grid_cells"]
    tile = tile_of(**IN_CELL2, z=14)
    signed_in = features(
        client.get(url("grid_cells", tile), headers=bearer(world[caller])), "grid_cells"
    )
    with_key = features(client.get(keyed(grid, tile)), "grid_cells")
    assert sorted(f["id"] for f in with_key) == sorted(f["id"] for f in signed_in)


def test_a_forged_or_expired_key_opens_nothing(client, world, app, cases_in_tile, monkeypatch):
    """A changed signature, another payload or an old key answer 401 without a session."""
    got = access(client, world["mediator@village"])
    tile = tile_of(**IN_CELL2, z=12)
    template = got["urls"]["cases"]
    payload, stamp, signature = got["key"].split(".")
    # A village mediator's key re-signed by nobody, with the county prefix instead.
    import base64
    import json

    county = (
        base64.urlsafe_b64encode(
            json.dumps([world["mediator@village"].id, "mediator", "371699", None]).encode()
        )
        .decode()
        .rstrip("=")
    )
    for bad in (
        f"{payload}.{stamp}.{signature[:-2]}xx",
        f"{county}.{stamp}.{signature}",
        "nonsense",
    ):
        response = client.get(keyed(template.replace(got["key"], bad), tile))
        assert response.status_code == 401, bad
    assert client.get(keyed(template, tile)).status_code == 200  # its signature now cached
    app.config["TILE_KEY_SECONDS"] = -1  # every key is now too old
    try:
        assert client.get(keyed(template, tile)).status_code == 401
    finally:
        app.config["TILE_KEY_SECONDS"] = 600
    # The cached signature still ages with the clock: ten minutes and a second later, 401.
    signed_at = int(time.time())
    monkeypatch.setattr(keys.time, "time", lambda: signed_at + 601.0)
    assert client.get(keyed(template, tile)).status_code == 401
    # Another SECRET_KEY (rotation without the old one as a fallback) verifies afresh: 401.
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key-for-this-test")
    assert client.get(keyed(template, tile)).status_code == 401


def test_an_invalid_key_falls_back_to_the_signed_in_user(client, world, cases_in_tile):
    """A browser whose key expired still gets its tiles through its login (or token)."""
    user = world["official@county"]
    tile = tile_of(**IN_CELL2, z=12)
    response = client.get(url("cases", tile, "key=expired"), headers=bearer(user))
    assert len(features(response)) == 2


def test_a_cached_keyed_tile_costs_no_database_statement(client, world, cases_in_tile):
    """Key + version in the URL: the second request is served from memory, no SQL at all."""
    got = access(client, world["official@county"])
    path = keyed(got["urls"]["cases"], tile_of(**IN_CELL2, z=12))
    first = client.get(path)
    assert first.headers["X-Tile-Cache"] == "miss"
    assert first.headers["Cache-Control"] == "private, max-age=600"
    with StatementCounter() as counter:
        again = client.get(path)
        not_modified = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert counter.count == 0
    assert again.headers["X-Tile-Cache"] == "hit" and again.get_data() == first.get_data()
    assert not_modified.status_code == 304 and not_modified.get_data() == b""


def test_a_new_case_gives_a_new_version_and_shows_in_its_tiles(client, world, cases_in_tile):
    """After a change, access names a new version; the tile at that version has the new case,
    while the old version's URL still answers the old, consistent bytes."""
    user = world["official@county"]
    tile = tile_of(**IN_CELL2, z=12)
    before = access(client, user)
    old = client.get(keyed(before["urls"]["cases"], tile))
    number = report_at(client, world["mediator@town"], IN_VILLAGE_B, "petition")
    after = access(client, world["official@county"])
    assert after["versions"]["cases"] > before["versions"]["cases"]
    fresh = features(client.get(keyed(after["urls"]["cases"], tile)))
    assert number in {f["properties"]["number"] for f in fresh}
    again = client.get(keyed(before["urls"]["cases"], tile))
    assert again.get_data() == old.get_data()
    assert number not in {f["properties"]["number"] for f in features(again)}


def test_a_version_the_data_has_not_reached_is_not_kept_by_browsers(client, world, cases_in_tile):
    """Bytes of another version than the URL names are answered with no-cache and not stored
    under the URL's version."""
    got = access(client, world["official@county"])
    tile = tile_of(**IN_CELL2, z=12)
    future = got["versions"]["cases"] + 1000
    template = got["urls"]["cases"].replace(f"v={got['versions']['cases']}", f"v={future}")
    response = client.get(keyed(template, tile))
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["X-Tile-Cache"] == "miss"
    assert client.get(keyed(template, tile)).headers["X-Tile-Cache"] == "miss"
    assert client.get(keyed(template, tile).replace("v=", "v=-")).status_code == 400
