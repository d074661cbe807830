"""GridGov: grid governance and case tracking (网格化治理与矛盾纠纷跟踪) on Flask + PostGIS."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Every model module is imported for the metadata (migrations, create_all), whether or not a
# blueprint needs it.
from app import assets
from app.accounts import models as _accounts_models  # noqa: F401
from app.accounts.api import blp as accounts_api
from app.accounts.auth import init_auth
from app.accounts.cli import users_cli
from app.accounts.views import bp as accounts_views
from app.assessment import models as _assessment_models  # noqa: F401
from app.assessment.api import blp as assessment_api
from app.attachments import models as _attachments_models  # noqa: F401
from app.attachments.api import blp as attachments_api
from app.audit import models as _audit_models  # noqa: F401
from app.audit.api import blp as audit_api
from app.audit.cli import audit_cli
from app.briefings import models as _briefings_models  # noqa: F401
from app.briefings.api import blp as briefings_api
from app.cameras import models as _cameras_models  # noqa: F401
from app.cameras.api import blp as cameras_api
from app.campaigns import models as _campaigns_models  # noqa: F401
from app.campaigns.api import blp as campaigns_api
from app.cases import facts as _cases_facts  # noqa: F401
from app.cases import fast as cases_fast
from app.cases import models as _cases_models  # noqa: F401
from app.cases.aggregates import blp as case_maps_api
from app.cases.api import blp as cases_api
from app.cases.cli import cases_cli
from app.cases.photos import blp as case_photos_api
from app.cases.reports import blp as case_reports_api
from app.config import Config
from app.config import without_database
from app.core import replica
from app.core import transaction
from app.core.fast import FastPaths
from app.demo.cli import seed_cli
from app.dispatch import fast as dispatch_fast
from app.dispatch import models as _dispatch_models  # noqa: F401
from app.dispatch.api import blp as dispatch_api
from app.dispatch.departments_api import blp as departments_api
from app.documents import models as _documents_models  # noqa: F401
from app.documents.api import blp as documents_api
from app.errors import register_errorhandlers
from app.extensions import api
from app.extensions import csrf
from app.extensions import db
from app.extensions import limiter
from app.extensions import migrate
from app.geo import models as _geo_models  # noqa: F401
from app.geo.api import blp as geo_api
from app.geo.cli import geo_cli
from app.i18n import bp as i18n_views
from app.i18n import init_i18n
from app.imports import models as _imports_models  # noqa: F401
from app.notify import models as _notify_models  # noqa: F401
from app.notify.api import blp as notify_api
from app.notify.cli import notify_cli
from app.open311.views import bp as open311_views
from app.ops import init_app as init_ops
from app.ops import models as _ops_models  # noqa: F401
from app.ops.api import blp as ops_api
from app.ops.cli import ops_cli
from app.ops.guards import GuardedRequest
from app.ops.guards import StrictJSONProvider
from app.ops.logging import configure_logging
from app.policy import policy_cli
from app.privacy import freetext as _privacy_freetext  # noqa: F401
from app.privacy.api import blp as privacy_api
from app.privacy.cli import retention_cli
from app.resident import fast as resident_fast
from app.resident import models as _resident_models  # noqa: F401
from app.resident import selfreport_models as _selfreport_models  # noqa: F401
from app.resident import views as resident_views
from app.resident.api import blp as resident_api
from app.resident.selfreport_api import blp as selfreport_api
from app.resident.selfreport_views import bp as selfreport_pages
from app.risks import models as _risks_models  # noqa: F401
from app.risks.api import blp as risks_api
from app.risks.cli import risks_cli
from app.security import init_security
from app.tasks.api import blp as tasks_api
from app.tiles import models as _tiles_models  # noqa: F401
from app.tiles.api import blp as tiles_api
from app.tiles.fast import CachedTiles
from app.visits import models as _visits_models  # noqa: F401
from app.visits.api import blp as visits_api
from app.warnings import models as _warnings_models  # noqa: F401
from app.warnings.api import blp as warnings_api
from app.warnings.cli import warnings_cli
from app.web import init_web

# Reads answered outside Flask's cycle when they can be (app/core/fast.py): method, path pattern,
# the Flask route (the metrics' label), handler.
FAST_ROUTES = [
    ("GET", dispatch_fast.PATH, dispatch_fast.ROUTE, dispatch_fast.listing),
    ("GET", cases_fast.PATH, cases_fast.ROUTE, cases_fast.listing),
    ("POST", resident_fast.PATH, resident_fast.ROUTE, resident_fast.progress),
]
MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


class GridGov(Flask):
    """Flask, with the request boundary: each view's answer ends its database transaction.

    JSON bodies are parsed strictly (app/ops/guards.py): duplicate keys and absurd nesting are a
    400 naming the problem.
    """

    json_provider_class = StrictJSONProvider
    request_class = GuardedRequest

    def dispatch_request(self):
        """Run the view, then commit (success) or roll back (any other answer) once, here.

        Inside dispatch, so a failure to commit (a row changed meanwhile, a lost connection) is
        answered by the error handlers like any other error.
        """
        response = self.make_response(super().dispatch_request())
        transaction.finish(response.status_code)
        return response


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: configuration, extensions, blueprints, error handlers, commands."""
    app = GridGov(__name__)
    app.config.from_object(Config())
    if test_config:
        app.config.update(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        without_database(app.config)  # serving refuses; other `flask` commands load (config.py)
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    app.json.ensure_ascii = False  # Chinese stays readable in JSON answers

    # Cached keyed tiles are answered before Flask's request cycle (app/tiles/fast.py); inside
    # ProxyFix, so they see the client's scheme like the view does.
    # So are a few hot reads for bearer tokens the authentication cache holds (app/core/fast.py).
    app.wsgi_app = CachedTiles(app, FastPaths(app, app.wsgi_app, FAST_ROUTES))
    # Behind reverse proxies (docs/deployment.md): trust X-Forwarded-For/-Proto from exactly
    # PROXY_FIX_HOPS proxies, so request.remote_addr is the client's (rate limits, /metrics,
    # audit) and url_for knows about HTTPS. Trusting more hops than exist lets clients forge
    # their address, so it is off (0) unless set.
    if hops := app.config["PROXY_FIX_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True)
    api.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    init_auth(app)
    init_security(app)
    init_i18n(app)
    replica.init_app(app)  # heavy reads on a standby (REPLICA_DATABASE_URL)
    assets.init_app(app)  # hashed static URLs, a year's cache, gzip (app/assets.py)


def register_blueprints(app: Flask) -> None:
    """One blueprint per feature."""
    api.register_blueprint(geo_api)
    api.register_blueprint(accounts_api)
    api.register_blueprint(audit_api)
    api.register_blueprint(cases_api)
    api.register_blueprint(case_reports_api)
    api.register_blueprint(dispatch_api)
    api.register_blueprint(case_maps_api)
    api.register_blueprint(case_photos_api)
    api.register_blueprint(risks_api)
    api.register_blueprint(attachments_api)
    api.register_blueprint(ops_api)
    api.register_blueprint(tiles_api)
    api.register_blueprint(departments_api)
    api.register_blueprint(notify_api)
    api.register_blueprint(campaigns_api)
    api.register_blueprint(visits_api)
    api.register_blueprint(assessment_api)
    api.register_blueprint(tasks_api)
    api.register_blueprint(documents_api)
    api.register_blueprint(briefings_api)
    api.register_blueprint(warnings_api)
    api.register_blueprint(selfreport_api)
    api.register_blueprint(resident_api)
    api.register_blueprint(cameras_api)
    api.register_blueprint(privacy_api)
    app.register_blueprint(accounts_views)
    app.register_blueprint(i18n_views)
    app.register_blueprint(selfreport_pages)
    app.register_blueprint(resident_views.bp)
    app.register_blueprint(open311_views)  # Open311 GeoReport v2 (issue 17 item 5)
    init_web(app)  # the pages: app/web
    init_ops(app)  # app-wide: request ids and logs, metrics and /metrics, request-body checks


def register_commands(app: Flask) -> None:
    """Command-line groups: geo, seed, ops, users, audit, policy, cases, risks, notify, warnings."""
    app.cli.add_command(geo_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(ops_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(policy_cli)
    app.cli.add_command(cases_cli)
    app.cli.add_command(risks_cli)
    app.cli.add_command(notify_cli)
    app.cli.add_command(warnings_cli)
    app.cli.add_command(retention_cli)
