"""The keyed-tile WSGI path (app/tiles/fast.py): Flask's very answer, without Flask."""

from __future__ import annotations

import contextvars
import re

from flask import request_started
from werkzeug.test import Client
from werkzeug.wrappers import Response

from app.ops.metrics import REQUESTS
from app.tiles import fast
from app.tiles import services
from tests.tiles.test_keys import StatementCounter
from tests.tiles.test_keys import access
from tests.tiles.test_keys import keyed
from tests.tiles.test_tiles import IN_CELL1
from tests.tiles.test_tiles import IN_CELL2
from tests.tiles.test_tiles import tile_of

NONCE = re.compile(r"'nonce-[^']+'")


class PlainClient(Client):
    """A werkzeug client of the bare Flask app, each request in an empty context (as the suite's
    IsolatedClient does): the test's own app context, and a `g` another test left in it (a
    signed-in user), must not answer for the request."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def answer(response) -> tuple:
    """What a client sees: status, headers (the random CSP nonce blanked) and bytes."""
    headers = [(name, NONCE.sub("'nonce-'", value)) for name, value in response.headers.items()]
    return response.status, headers, response.get_data()


def test_the_fast_path_answers_exactly_what_flask_answers(app, client, world, cases_in_tile):
    """A hit and a 304 without Flask, equal to Flask's; everything else falls through to it."""
    assert isinstance(app.wsgi_app, fast.CachedTiles)
    plain = PlainClient(app.wsgi_app.wsgi_app, Response)  # the Flask app, no fast path
    flask_requests = []

    def seen(sender, **extra):
        flask_requests.append(1)

    got = access(client, world["official@county"])
    path = keyed(got["urls"]["cases"], tile_of(**IN_CELL2, z=12))
    rid = {"X-Request-ID": "req-1"}
    first = client.get(path, headers=rid)
    assert first.headers["X-Tile-Cache"] == "miss"
    etag = first.headers["ETag"]
    counted = REQUESTS.labels("GET", fast.ROUTE, "200")
    before = counted._value.get()
    with request_started.connected_to(seen, app), StatementCounter() as statements:
        hit = client.get(path, headers=rid)
        not_modified = client.get(path, headers={**rid, "If-None-Match": etag})
    assert flask_requests == [] and statements.count == 0
    assert counted._value.get() == before + 1
    assert hit.headers["X-Tile-Cache"] == "hit" and not_modified.status_code == 304
    assert answer(hit) == answer(plain.get(path, headers=rid))
    assert answer(not_modified) == answer(plain.get(path, headers={**rid, "If-None-Match": etag}))

    # Falls through: an invalid key, a tile without the version that is not fresh, a fresh tile
    # against an ETag, a cookie, an odd spelling. Each answer is Flask's (the same status and
    # bytes as before).
    unversioned = re.sub(r"&v=[0-9]+", "", path)
    others = [
        (path.replace("key=", "key=x"), {}),
        (unversioned, {}),
        (path, {"headers": {"Cache-Control": "no-cache", "If-None-Match": etag}}),
        (path, {"cookie": True}),
        (path.replace("v=", "open=1&v="), {}),
    ]
    with request_started.connected_to(seen, app):
        for url, extra in others:
            flask_requests.clear()
            if extra.pop("cookie", False):  # any cookie: werkzeug's clients send their jar's
                client.set_cookie("lang", "zh")
                plain.set_cookie("lang", "zh")
            got_answer = client.get(url, **extra)
            assert flask_requests == [1], (url, extra)
            want = plain.get(url, **extra)
            client.delete_cookie("lang")
            plain.delete_cookie("lang")
            assert got_answer.status == want.status and got_answer.data == want.data, url
        assert client.get(others[0][0]).status_code == 401
        app.config["TILE_KEY_SECONDS"] = -1
        try:
            flask_requests.clear()
            assert client.get(path).status_code == 401 and flask_requests == [1]
        finally:
            app.config["TILE_KEY_SECONDS"] = 600


def empty_cache(app) -> None:
    """A new, empty tile cache for this process."""
    app.extensions[fast.CACHE_EXTENSION] = services.TileCache(app.config["TILE_CACHE_BYTES"])


def test_tiles_not_cached_are_built_without_flask_as_flask_builds_them(
    app, client, world, cases_in_tile, monkeypatch
):
    """A miss of the named version, and a fresh tile with or without the version: built by the
    fast path (statements, no Flask request), answered and kept exactly as Flask would."""
    plain = PlainClient(app.wsgi_app.wsgi_app, Response)
    flask_requests = []

    def seen(sender, **extra):
        flask_requests.append(1)

    got = access(client, world["official@county"])
    rid = {"X-Request-ID": "req-2"}
    path = keyed(got["urls"]["cases"], tile_of(**IN_CELL2, z=12))
    west = keyed(got["urls"]["cases"], tile_of(**IN_CELL1, z=14))
    cells = keyed(got["urls"]["grid_cells"], tile_of(**IN_CELL1, z=13))
    fresh = {**rid, "Cache-Control": "no-cache"}
    cases = [
        (path, rid, "private, max-age=600"),
        (west, rid, "private, max-age=600"),
        (cells, rid, "private, max-age=600"),
        (path, fresh, "private, max-age=600"),  # fresh, and the version the URL names
        (re.sub(r"&v=[0-9]+", "", west), fresh, "private, no-cache"),  # fresh, no version
        (path.replace("v=", "v=1"), fresh, "private, no-cache"),  # fresh, another version
    ]
    counted = REQUESTS.labels("GET", fast.ROUTE, "200")
    sizes = []
    built_on = []
    real_on = services.render_on

    def render_on(cursor, req, cluster_max, **kwargs):
        built_on.append(req)
        return real_on(cursor, req, cluster_max, **kwargs)

    monkeypatch.setattr(services, "render_on", render_on)
    for url, headers, cache_control in cases:
        empty_cache(app)
        before = counted._value.get()
        flask_requests.clear()
        built_on.clear()
        with request_started.connected_to(seen, app), StatementCounter() as statements:
            built = client.get(url, headers=headers)
        # The view's statement on the driver's cursor: no session, no Flask request.
        assert flask_requests == [] and len(built_on) == 1 and statements.count == 0, url
        assert counted._value.get() == before + 1
        assert built.status_code == 200 and built.headers["X-Tile-Cache"] == "miss", url
        assert built.headers["Cache-Control"] == cache_control, url
        kept = app.extensions[fast.CACHE_EXTENSION].get(built.headers["ETag"])
        assert kept == built.data
        sizes.append(len(built.data))
        empty_cache(app)
        assert answer(built) == answer(plain.get(url, headers=headers)), url
    assert min(sizes[:1] + sizes[3:4]) > 0  # the tiles with the cases hold features

    monkeypatch.undo()

    # A build that fails is left to Flask, which builds it again (here: and answers it).
    empty_cache(app)
    calls = []
    real = services.render

    def fails(cursor, req, cluster_max, **kwargs):
        calls.append("fast")
        raise RuntimeError("the database went away")

    def view_builds(req, **kwargs):
        calls.append("view")
        return real(req, **kwargs)

    monkeypatch.setattr(services, "render_on", fails)
    monkeypatch.setattr(services, "render", view_builds)
    flask_requests.clear()
    with request_started.connected_to(seen, app):
        again = client.get(west, headers=rid)
    assert again.status_code == 200 and flask_requests == [1] and calls == ["fast", "view"]
    monkeypatch.undo()
    empty_cache(app)
    assert answer(again) == answer(plain.get(west, headers=rid))


def test_prepared_tiles_are_the_plain_statements_bytes_past_the_generic_plan(
    app, client, world, cases_in_tile, monkeypatch
):
    """Built by the fast path with the statement prepared (FAST_PATH_PREPARED), each tile
    eight times (PostgreSQL's generic plan from the sixth): every layer and kind of tile —
    cases single and per village, grid cells, risk points, a grid worker's own — has the bytes
    the view builds with the plain statement, every time."""
    assert app.config["FAST_PATH_PREPARED"]
    plain = PlainClient(app.wsgi_app.wsgi_app, Response)
    fresh = {"Cache-Control": "no-cache"}
    prepared = []
    real_prepared_on = services.fast.prepared_on

    def spy(dbapi, sql, send):
        prepared.append(sql)
        return real_prepared_on(dbapi, sql, send)

    monkeypatch.setattr(services.fast, "prepared_on", spy)
    for who in ("official@county", "grid_worker@village"):
        urls = access(client, world[who])["urls"]
        tiles = [
            keyed(urls["cases"], tile_of(**IN_CELL2, z=12)),
            keyed(urls["cases"], tile_of(**IN_CELL1, z=15)),
            keyed(urls["cases"], tile_of(**IN_CELL2, z=9)),
            keyed(urls["grid_cells"], tile_of(**IN_CELL1, z=13)),
            keyed(urls["risk_points"], tile_of(**IN_CELL2, z=12)),
        ]
        for path in tiles:
            empty_cache(app)
            want = plain.get(path, headers=fresh)
            assert want.status_code == 200, (who, path)
            for _ in range(8):
                got = client.get(path, headers=fresh)
                assert got.headers["X-Tile-Cache"] == "miss", path
                assert got.get_data() == want.get_data(), (who, path)
    assert any(len(plain.get(path, headers=fresh).get_data()) > 0 for path in tiles)
    assert len(prepared) == 2 * 5 * 8  # every fast build ran prepared
