"""Vector tile endpoint: /api/v1/tiles/<layer>/<z>/<x>/<y>.pbf (docs/api.md, "Performance")."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import request
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate
from sqlalchemy import text

from app.errors import ApiError
from app.extensions import Blueprint
from app.extensions import db
from app.policy import requires
from app.scoping import current_scope
from app.tiles import services

blp = Blueprint("tiles", __name__, url_prefix="/api/v1", description="矢量瓦片 (vector tiles)")

MVT = "application/vnd.mapbox-vector-tile"


class TileQuery(Schema):
    """Filters of a tile."""

    kind = fields.String(
        validate=validate.OneOf(("dispute", "petition", "incident"), error="kind 无效"),
        metadata={"description": "只显示此类事件（cases 图层）"},
    )
    open = fields.Boolean(
        load_default=False,
        metadata={"description": "只显示在办事件（cases）或在控风险点（risk_points）"},
    )


def cache() -> services.TileCache:
    """This process's tile cache, made on first use from TILE_CACHE_BYTES."""
    state = current_app.extensions.get("tile_cache")
    if state is None:
        state = services.TileCache(current_app.config["TILE_CACHE_BYTES"])
        current_app.extensions["tile_cache"] = state
    return state


def layer_exists(layer: str) -> bool:
    """The layer is known and its table exists (risk points arrive with their own module)."""
    if layer not in services.LAYERS:
        return False
    if layer != "risk_points":
        return True
    known = current_app.extensions.setdefault("tile_tables", {})
    if layer not in known:
        known[layer] = db.session.execute(
            text("SELECT to_regclass('risk_points') IS NOT NULL")
        ).scalar()
    return known[layer]


def matches(header: str | None, etag: str) -> bool:
    """If-None-Match holds this ETag (weak comparison, as for GET)."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted for tag in header.split(",")
    )


def tile_response(body: bytes, etag: str, status: int = 200, hit: bool = False) -> Response:
    """A tile (or 304) with the headers every tile answer carries."""
    response = Response(body if status == 200 else b"", status, mimetype=MVT)
    response.headers["ETag"] = etag
    # Scoped content: never in a shared cache; browsers revalidate with If-None-Match.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization, Cookie"
    response.headers["X-Tile-Cache"] = "hit" if hit else "miss"
    return response


@blp.route("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
@requires("cases.read")
@blp.arguments(TileQuery, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type=MVT)
@blp.alt_response(304, description="未变化（If-None-Match 与 ETag 相同）")
@blp.alt_response(400, response="DEFAULT_ERROR")
@blp.alt_response(404, response="DEFAULT_ERROR", description="图层不存在，或瓦片号超出范围")
def get_tile(args, layer: str, z: int, x: int, y: int):
    """A Mapbox vector tile of the caller's jurisdiction: `cases`, `grid_cells`, `risk_points`.

    Cases at zoom 11 and below are one point per village with counts (`count`, `dispute`,
    `petition`, `incident`); grid cells start at zoom 10. Answers carry an ETag: send it back in
    `If-None-Match` for a 304 while nothing changed.
    """
    if not layer_exists(layer):
        raise ApiError(404, f"图层 {layer} 不存在", {"layers": list(services.LAYERS)})
    if not services.valid_tile(z, x, y):
        raise ApiError(404, "瓦片号超出范围", {"path": {"z": [f"0–{services.MAX_ZOOM}"]}})
    req = services.TileRequest(
        layer, z, x, y, current_scope(), current_user.role, args.get("kind"), args["open"]
    )
    store = cache()
    # A client asking for no-cache (and holding no ETag) gets a freshly built tile at once: the
    # version comes with the tile, so there is nothing to look up first.
    fresh = "no-cache" in request.headers.get("Cache-Control", "")
    if not fresh or request.headers.get("If-None-Match"):
        etag = req.etag(services.data_version(layer))
        if matches(request.headers.get("If-None-Match"), etag):
            return tile_response(b"", etag, 304)
        body = None if fresh else store.get(etag)
        if body is not None:
            return tile_response(body, etag, hit=True)
    version, body = services.render(req)
    etag = req.etag(version)
    store.put(etag, body)
    return tile_response(body, etag)
