"""Tile keys: a signed, short-lived statement of whose tiles these are.

A map page asks `/api/v1/tiles/access` once (an ordinary authenticated request) and receives a
key naming the caller's scope — user, role, region prefix and, for grid workers, their cells —
signed with SECRET_KEY (itsdangerous, HMAC-SHA256) and valid for TILE_KEY_SECONDS. Tile requests
carrying the key are answered without loading the user, their login session or token: the tile
costs its SQL, or nothing at all when its bytes are cached under the data version in the URL.

What this trades (docs/api.md, "Tile keys"): a key stays valid until it expires even if its user
is deactivated or moved meanwhile, so the lifetime is short (10 minutes by default); it only
ever opens tiles, which hold no names, descriptions or parties.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

from app.scoping import Scope
from app.scoping import scope_for

SALT = "gridgov.tile-key.v1"


@dataclass(frozen=True)
class TileHolder:
    """Who a valid key was issued to: enough to scope a tile, nothing more."""

    role: str
    scope: Scope


def serializer(config=None) -> URLSafeTimedSerializer:
    """The signer; old SECRET_KEYs (SECRET_KEY_FALLBACKS) still verify keys they signed."""
    config = current_app.config if config is None else config
    keys = [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=SALT)


def issue(user) -> str:
    """A key for the user's tiles."""
    scope = scope_for(user)
    cells = list(scope.grid_cell_ids) if scope.grid_cell_ids is not None else None
    return serializer().dumps([user.id, user.role, scope.prefix, cells])


def read(key: str, config=None) -> TileHolder | None:
    """The holder of a valid, unexpired key, or None (config: the app's, outside a request)."""
    config = current_app.config if config is None else config
    signers = (*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"])
    signed = verified(key, signers)
    if signed is None:
        return None
    holder, signed_at = signed
    # itsdangerous's own rule for max_age (its clock: time.time()), checked on every request.
    age = int(time.time()) - signed_at
    return holder if 0 <= age <= config["TILE_KEY_SECONDS"] else None


@functools.lru_cache(maxsize=4096)
def verified(key: str, signers: tuple) -> tuple[TileHolder, int] | None:
    """A key's holder and signing time when its signature holds under these secrets, or None.

    Cached (issue 18): a map page sends the same key with each of its few hundred tiles, and the
    HMAC and JSON of the key are the same every time; its age is still checked per request, and
    a change of secrets is a different cache entry.
    """
    serializer = URLSafeTimedSerializer(list(signers), salt=SALT)
    try:
        (user_id, role, prefix, cells), signed_at = serializer.loads(key, return_timestamp=True)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(user_id, int) or not isinstance(role, str) or not isinstance(prefix, str):
        return None
    grid_cells = tuple(int(c) for c in cells) if isinstance(cells, list) else None
    holder = TileHolder(role, Scope(prefix=prefix, user_id=user_id, grid_cell_ids=grid_cells))
    return holder, int(signed_at.timestamp())
