"""GridGov: grid governance and case tracking (网格化治理与矛盾纠纷跟踪) on Flask + PostGIS."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from app.config import Config
from app.errors import register_errorhandlers
from app.extensions import api
from app.extensions import db
from app.extensions import migrate

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: configuration, extensions, blueprints, error handlers, commands."""
    app = Flask(__name__)
    app.config.from_object(Config())
    if test_config:
        app.config.update(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        raise RuntimeError("DATABASE_URL is not set (make run / make test set it for you)")
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    app.json.ensure_ascii = False  # Chinese stays readable in JSON answers
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app (and load every model for the metadata)."""
    from app.geo import models as _geo_models  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True)
    api.init_app(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per feature."""
    from app.geo.api import blp as geo_api
    from app.ops.api import blp as ops_api

    api.register_blueprint(geo_api)
    api.register_blueprint(ops_api)


def register_commands(app: Flask) -> None:
    """Command-line groups: geo, seed."""
    from app.demo.cli import seed_cli
    from app.geo.cli import geo_cli

    app.cli.add_command(geo_cli)
    app.cli.add_command(seed_cli)
