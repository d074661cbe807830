"""离线: the service worker that lets field pages (上报, 排查, 回访, 走访) open with no network
(docs/field.md, "离线上报 / offline").

`/sw.js` is served from the root so its scope is the whole site; its first line carries what it
precaches and a version made from the assets' content, so a deploy that changes any of them
installs a new worker and drops the old cache. Only page shells and static files are listed:
never an /api/ URL (the worker passes every API request to the network untouched).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import url_for

from app.policy import public

bp = Blueprint("offline", __name__)

# The field pages a worker may need with no network: 我的网格 (its 待回访 list), 上报, 排查, 记走访.
# A case page (回访 is an action on it) is kept when the worker opens it (sw.js).
FIELD_PAGES = ("field.my_grid", "field.report", "field.inspections", "visit_pages.new_visit")
# Static files the field pages load, relative to app/static (the big vendored libraries the
# field pages never load — ECharts, Swagger UI — stay out).
STATIC_GLOBS = ("css/*.css", "js/*.js", "vendor/leaflet/**/*")
SW_SOURCE = "js/sw.js"


@cache
def static_assets(static_folder: str) -> tuple[tuple[str, ...], str]:
    """(the static files to precache, a version from their content), computed once per process."""
    root = Path(static_folder)
    files = sorted(
        {p for pattern in STATIC_GLOBS for p in root.glob(pattern) if p.is_file()}
        - {root / SW_SOURCE}
    )
    digest = hashlib.sha256()
    for path in files + [root / SW_SOURCE]:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return tuple(p.relative_to(root).as_posix() for p in files), digest.hexdigest()[:12]


def worker_config() -> dict:
    """What sw.js precaches (pages and static files) and its cache's version."""
    files, version = static_assets(current_app.static_folder)
    return {
        "version": version,
        "pages": [url_for(endpoint) for endpoint in FIELD_PAGES],
        "assets": [url_for("static", filename=name) for name in files],
        "login": [url_for("accounts.login"), url_for("accounts.logout")],
    }


@bp.route("/sw.js")
@public
def service_worker():
    """The service worker, scoped to the whole site, never cached by the browser itself (so a
    deploy is seen at the next page load)."""
    source = (Path(current_app.static_folder) / SW_SOURCE).read_text(encoding="utf-8")
    config = json.dumps(worker_config(), ensure_ascii=False)
    response = Response(
        f"self.GRIDGOV_SW = {config};\n{source}", content_type="text/javascript; charset=utf-8"
    )
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
