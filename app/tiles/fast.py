"""A minimal WSGI path for keyed tiles, outside Flask's request cycle (issue 18).

A map page's tile URL carries its tile key and the layer's data version (`key`, `v`, from
/api/v1/tiles/access). The key vouches for the caller without the user, so such a request needs
nothing of Flask's request cycle: `CachedTiles` wraps the app's WSGI callable and answers keyed
tiles itself — a tile already in this worker's cache without the database, a 304 for the ETag of
the version the URL names, and a tile not cached (or asked for fresh, `Cache-Control: no-cache`)
built by the view's own `services.render` in an app context and kept in the cache. Each is the
same status, headers (security headers, Cache-Control, ETag, Vary, X-Tile-Cache, content type),
bytes and 304s as the Flask view (app/tiles/api.py), with the same key check
(app/tiles/keys.py), log line and metrics. Anything else — no key, a request without the
version that is not fresh (the view looks the version up first), a fresh one with
If-None-Match, an invalid or expired key, a cookie or Authorization header, an unknown query
parameter, a body, any value the view's schema would read differently, a tile whose build
fails (Flask then builds it again and answers the error in the standard shape) — falls through
to Flask unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from urllib.parse import parse_qsl

from flask import Flask

from app.core import fast
from app.core.fast import finish
from app.policy import allows
from app.tiles import keys
from app.tiles import services

MVT = "application/vnd.mapbox-vector-tile"
# Where the Flask view keeps this process's tile cache (app/tiles/api.py cache()).
CACHE_EXTENSION = "tile_cache"
ROUTE = "/api/v1/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf"
NUMBER = r"(0|[1-9][0-9]{0,6})"
TILE_PATH = re.compile(rf"/api/v1/tiles/([a-z_]+)/{NUMBER}/{NUMBER}/{NUMBER}\.pbf")
# The view's query schema (api.TileQuery), restricted to the spellings it reads one way only.
KINDS = frozenset({"dispute", "petition", "incident"})
BOOLEANS = {"true": True, "false": False}
CRSES = frozenset({"wgs84", "gcj02"})
VERSION = re.compile(r"0|[1-9][0-9]{0,17}")
MAX_KEY = 2000
KNOWN = frozenset({"key", "v", "kind", "open", "crs"})


def matches(header: str | None, etag: str) -> bool:
    """If-None-Match holds this ETag (weak comparison, as for GET)."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted for tag in header.split(",")
    )


def tile_headers(etag: str, hit: bool, keep: bool, key_seconds: int) -> list[tuple[str, str]]:
    """The headers every tile answer carries besides the content type and the app-wide ones."""
    # Scoped content: never in a shared cache. Browsers revalidate with If-None-Match, or, when
    # the URL names the data version the bytes are of (`keep`), keep them while the key lives.
    cache_control = f"private, max-age={key_seconds}" if keep else "private, no-cache"
    return [
        ("ETag", etag),
        ("Cache-Control", cache_control),
        ("Vary", "Authorization, Cookie"),
        ("X-Tile-Cache", "hit" if hit else "miss"),
    ]


class CachedTiles:
    """WSGI middleware: keyed tiles answered here, everything else by the app."""

    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        answer = self.answer(environ)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        return finish(self.app, environ, ROUTE, started, answer, start_response)

    def answer(self, environ: dict) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """(status, headers, body) of a keyed tile, or None: Flask answers."""
        if environ.get("REQUEST_METHOD") != "GET" or unusual(environ):
            return None
        path = TILE_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if path is None or path.group(1) not in services.LAYERS:
            return None
        layer, (z, x, y) = path.group(1), (int(n) for n in path.groups()[1:])
        if not services.valid_tile(z, x, y):
            return None
        args = query(environ.get("QUERY_STRING", ""))
        if args is None:
            return None
        store = self.app.extensions.get(CACHE_EXTENSION)
        config = self.app.config
        holder = keys.read(args["key"], config)
        if store is None or holder is None or not allows(holder.role, "cases.read"):
            return None
        req = services.TileRequest(
            layer, z, x, y, holder.scope, holder.role, args["kind"], args["open"], args["crs"]
        )
        seconds = config["TILE_KEY_SECONDS"]
        # The view's order (api.get_tile): the named version's 304 or cached bytes unless the
        # client asks for a fresh tile; then a tile built.
        fresh = "no-cache" in environ.get("HTTP_CACHE_CONTROL", "")
        given = environ.get("HTTP_IF_NONE_MATCH")
        wanted = args["v"]
        if not fresh:
            if wanted is None:
                return None  # the view asks the database for the layer's version first
            etag = req.etag(wanted)
            if matches(given, etag):
                return (
                    "304 NOT MODIFIED",
                    tile_headers(etag, False, True, seconds),  # no content type, as werkzeug's
                    b"",
                )
            body = store.get(etag)
            if body is not None:
                return "200 OK", tile(body) + tile_headers(etag, True, True, seconds), body
        elif given:
            return None  # a fresh tile against an ETag: the view compares it with the live one
        built = self.build(req)
        if built is None:
            return None
        version, body = built
        etag = req.etag(version)
        store.put(etag, body)
        return "200 OK", tile(body) + tile_headers(etag, False, wanted == version, seconds), body

    def build(self, req: services.TileRequest) -> tuple[int, bytes] | None:
        """(version, bytes) of a tile built as the view builds it, or None when that fails:
        Flask then answers the request (a database gone: the standard 503).

        On psycopg2 the view's statement runs on a pooled connection in autocommit
        (`services.render_on`, app/core/fast.py `fetch`; the replica's pool when there is
        one): one round trip, where a session added its BEGIN and its ROLLBACK.
        """
        cluster_max = self.app.config["TILE_CLUSTER_CASES"]
        prepared = self.app.config["FAST_PATH_PREPARED"]
        if not req.empty and fast.driver(self.app, replica=True) == "psycopg2":
            return fast.fetch(
                self.app,
                lambda cursor: services.render_on(cursor, req, cluster_max, prepared=prepared),
                replica=True,
            )
        try:
            with self.app.app_context():
                return services.render(req, cluster_max=cluster_max)
        except Exception:  # noqa: BLE001 - Flask builds it again and answers the error its way
            return None


def tile(body: bytes) -> list[tuple[str, str]]:
    """The content headers of a tile answer."""
    return [("Content-Type", MVT), ("Content-Length", str(len(body)))]


def unusual(environ: dict) -> bool:
    """A request the view would treat differently from a plain keyed GET: Flask answers it."""
    return bool(
        environ.get("HTTP_COOKIE")
        or environ.get("HTTP_AUTHORIZATION")
        or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
        or environ.get("HTTP_TRANSFER_ENCODING")
    )


def query(string: str) -> dict | None:
    """The query's key, version and filters, when each is given once in its plain spelling."""
    try:
        pairs = parse_qsl(string, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        return None
    args = dict(pairs)
    if len(args) != len(pairs) or not KNOWN.issuperset(args) or "key" not in args:
        return None
    version, kind = args.get("v"), args.get("kind")
    key, open_, crs = args["key"], args.get("open", "false"), args.get("crs", "wgs84")
    if (version is not None and not VERSION.fullmatch(version)) or len(key) > MAX_KEY or not key:
        return None
    if (kind is not None and kind not in KINDS) or open_ not in BOOLEANS or crs not in CRSES:
        return None
    wanted = None if version is None else int(version)
    return {"key": key, "v": wanted, "kind": kind, "open": BOOLEANS[open_], "crs": crs}
