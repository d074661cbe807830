"""Static files with content-hashed URLs, cached for a year and sent compressed (issue 18).

`url_for("static", filename=...)` gains `?v=<hash of the file's content>` (a URL default), so
every page, and the service worker's precache list (app/web/offline.py), names each asset by
its content. A request whose `v` is the file's current hash is answered with
`Cache-Control: public, max-age=31536000, immutable`: a repeat visit fetches no script or style
again, and a deploy that changes a file changes its URL. Without `v` (or with a stale one) the
answer is Flask's usual revalidated one. Text assets are gzipped once per process and content
(keyed by the hash, never by time) when the client accepts gzip.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask import send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

YEAR = 31_536_000
IMMUTABLE = f"public, max-age={YEAR}, immutable"
# Worth compressing: text. Images and fonts are compressed already.
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".html", ".map", ".txt"}
SMALLEST = 1024  # below this, gzip's header costs more than it saves


def init_app(app: Flask) -> None:
    """Hashed static URLs and the static view that answers them."""
    app.url_defaults(_hashed)
    app.view_functions["static"] = serve_static


@cache
def _digest(path: str, mtime_ns: int, size: int) -> str:
    """The content hash of a file (once per process and version of the file)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_hash(filename: str) -> str | None:
    """The current hash of a static file, or None when there is no such file."""
    path = safe_join(current_app.static_folder, filename)
    if path is None:
        return None
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    if not Path(path).is_file():
        return None
    return _digest(path, stat.st_mtime_ns, stat.st_size)


def _hashed(endpoint: str, values: dict) -> None:
    """url_for("static", ...) names the file's content."""
    if endpoint == "static" and "v" not in values and "filename" in values:
        version = asset_hash(values["filename"])
        if version is not None:
            values["v"] = version


@cache
def _gzipped(path: str, version: str) -> bytes:
    """The file gzipped (deterministic: no time in the header), once per content."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


def serve_static(filename: str) -> Response:
    """A static file: immutable for a year when asked by its current hash, gzipped if accepted."""
    version = asset_hash(filename)
    if version is None:
        raise NotFound()
    path = safe_join(current_app.static_folder, filename)
    current = request.args.get("v") == version
    suffix = Path(filename).suffix.lower()
    gzip_ok = (
        suffix in COMPRESSIBLE
        and Path(path).stat().st_size >= SMALLEST
        and "gzip" in request.headers.get("Accept-Encoding", "").lower()
    )
    response = send_from_directory(current_app.static_folder, filename)
    if gzip_ok and response.status_code == 200:
        response.close()  # the file it opened: the body is the gzipped copy instead
        response.direct_passthrough = False
        response.set_data(_gzipped(path, version))
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(f"{version}-gz")
    else:
        response.set_etag(version)
    response.make_conditional(request)
    if suffix in COMPRESSIBLE:
        response.vary.add("Accept-Encoding")
    if current:
        response.headers["Cache-Control"] = IMMUTABLE
        response.expires = None
    return response
