"""Vector tile endpoint: /api/v1/tiles/<layer>/<z>/<x>/<y>.pbf (docs/api.md, "Performance")."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask import url_for
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app.core.errors import NotFound
from app.extensions import Blueprint
from app.geo import basemaps
from app.policy import requires
from app.scoping import current_scope
from app.tiles import fast
from app.tiles import keys
from app.tiles import services

blp = Blueprint("tiles", __name__, url_prefix="/api/v1", description="矢量瓦片 (vector tiles)")

MVT = fast.MVT


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
    key = fields.String(
        validate=validate.Length(max=2000),
        metadata={"description": "瓦片密钥（来自 /api/v1/tiles/access），免去逐块登录校验"},
    )
    crs = fields.String(
        load_default="wgs84",
        validate=validate.OneOf(("wgs84", "gcj02"), error="crs 应为 wgs84 或 gcj02"),
        metadata={
            "description": "瓦片坐标系：gcj02 时要素按 GCJ-02 偏移，叠加在高德、腾讯底图上"
            "（/api/v1/tiles/access 按配置的底图给出）"
        },
    )
    v = fields.Integer(
        validate=validate.Range(min=0),
        metadata={
            "description": "图层数据版本（来自 /api/v1/tiles/access）：带上时，"
            "同一版本的瓦片可直接取自缓存，且浏览器可缓存"
        },
    )


class TileAccess(Schema):
    """A tile key and the layers' data versions, for building tile URLs."""

    key = fields.String(metadata={"description": "瓦片密钥，放在瓦片地址的 key 参数"})
    expires_in = fields.Integer(metadata={"description": "密钥有效秒数"})
    versions = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "各图层当前数据版本，放在瓦片地址的 v 参数"},
    )
    urls = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "各图层的瓦片地址模板（{z}/{x}/{y} 待填）"},
    )


def cache() -> services.TileCache:
    """This process's tile cache, made on first use from TILE_CACHE_BYTES."""
    state = current_app.extensions.get(fast.CACHE_EXTENSION)
    if state is None:
        state = services.TileCache(current_app.config["TILE_CACHE_BYTES"])
        current_app.extensions[fast.CACHE_EXTENSION] = state
    return state


def tile_response(
    body: bytes, etag: str, status: int = 200, hit: bool = False, keep: bool = False
) -> Response:
    """A tile (or 304) with the headers every tile answer carries (app/tiles/fast.py too)."""
    response = Response(body if status == 200 else b"", status, mimetype=fast.MVT)
    seconds = current_app.config["TILE_KEY_SECONDS"]
    response.headers.extend(fast.tile_headers(etag, hit, keep, seconds))
    return response


def key_holder() -> keys.TileHolder | None:
    """The holder of the request's tile key, when it carries a valid one."""
    key = request.args.get("key")
    return keys.read(key) if key else None


@blp.route("/tiles/access")
@requires("cases.read")
@blp.response(200, TileAccess)
def tile_access():
    """A tile key for the caller's scope and the layers' data versions.

    Tile requests carrying `key` are answered without loading the user (a map page asks for a
    few hundred tiles); with `v`, the data version given here, a tile already built for that
    version comes straight from the cache, and the browser may keep it while the key lives. Ask
    again for new versions (the risk map does every minute) and before the key expires.
    """
    versions = services.data_versions()
    key = keys.issue(current_user)
    # Over a GCJ-02 base map the tiles come shifted to it (docs/maps.md).
    crs = basemaps.from_config(current_app.config).crs
    shift = {"crs": crs} if crs != "wgs84" else {}
    urls = {
        layer: url_for(
            "tiles.get_tile", layer=layer, z=0, x=0, y=0, key=key, v=versions[layer], **shift
        ).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf", 1)
        for layer in services.LAYERS
    }
    return {
        "key": key,
        "expires_in": current_app.config["TILE_KEY_SECONDS"],
        "versions": versions,
        "urls": urls,
    }


@blp.route("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
@requires("cases.read", holder=key_holder)
@blp.arguments(TileQuery, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type=MVT)
@blp.alt_response(304, description="未变化（If-None-Match 与 ETag 相同）")
@blp.alt_response(400, response="DEFAULT_ERROR")
@blp.alt_response(404, response="DEFAULT_ERROR", description="图层不存在，或瓦片号超出范围")
def get_tile(args, layer: str, z: int, x: int, y: int):
    """A Mapbox vector tile of the caller's jurisdiction: `cases`, `grid_cells`, `risk_points`.

    Cases at zoom 11 and below are one point per village with counts (`count`, `dispute`,
    `petition`, `incident`); grid cells start at zoom 10. Answers carry an ETag: send it back in
    `If-None-Match` for a 304 while nothing changed. With `key` (and `v`) from
    `/api/v1/tiles/access` the caller is not looked up and cached tiles cost no database work.
    """
    if layer not in services.LAYERS:
        raise NotFound(f"图层 {layer} 不存在", errors={"layers": list(services.LAYERS)})
    if not services.valid_tile(z, x, y):
        raise NotFound("瓦片号超出范围", errors={"path": {"z": [f"0–{services.MAX_ZOOM}"]}})
    holder = g.get("holder")
    if holder is not None:
        scope, role = holder.scope, holder.role
    else:
        scope, role = current_scope(), current_user.role
    req = services.TileRequest(
        layer, z, x, y, scope, role, args.get("kind"), args["open"], args["crs"]
    )
    store = cache()
    # A client asking for no-cache (and holding no ETag) gets a freshly built tile at once: the
    # version comes with the tile, so there is nothing to look up first.
    fresh = "no-cache" in request.headers.get("Cache-Control", "")
    wanted = args.get("v")
    if wanted is not None and not fresh:
        # The URL names the version: its tile is known without asking the database.
        etag = req.etag(wanted)
        if fast.matches(request.headers.get("If-None-Match"), etag):
            return tile_response(b"", etag, 304, keep=True)
        body = store.get(etag)
        if body is not None:
            return tile_response(body, etag, hit=True, keep=True)
    elif not fresh or request.headers.get("If-None-Match"):
        etag = req.etag(services.data_version(layer))
        if fast.matches(request.headers.get("If-None-Match"), etag):
            return tile_response(b"", etag, 304)
        body = None if fresh else store.get(etag)
        if body is not None:
            return tile_response(body, etag, hit=True)
    version, body = services.render(req, cluster_max=current_app.config["TILE_CLUSTER_CASES"])
    etag = req.etag(version)
    store.put(etag, body)
    # Bytes of the version the URL names may be kept by the browser; newer ones may not (the
    # URL would then promise the wrong version).
    return tile_response(body, etag, keep=wanted == version)
