"""Alembic environment: GeoAlchemy2's helpers, and PostGIS's own tables left alone.

Migrations run as the owner role (MIGRATION_DATABASE_URL, else the app's own DATABASE_URL); each
upgrade ends with the grant pass that gives the app's role what it needs (app/ops/roles.py).
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app.config import sqlalchemy_url
from app.extensions import include_object
from app.ops.roles import grant_app_role

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
# The owner's URL when the deployment splits the roles; the app's otherwise (one role).
migration_url = current_app.config.get("MIGRATION_DATABASE_URL")
engine = (
    create_engine(sqlalchemy_url(migration_url), poolclass=NullPool) if migration_url else db.engine
)
if engine.url.database != db.engine.url.database:
    # Say so rather than migrate one database and serve another (an exported DATABASE_URL
    # beside .env's MIGRATION_DATABASE_URL, say).
    raise RuntimeError(
        f"MIGRATION_DATABASE_URL names database {engine.url.database!r} but DATABASE_URL names"
        f" {db.engine.url.database!r}: point both at the same database (or unset the first)"
    )
# The role the app connects as, which gets the grants (none when it is the owner itself).
app_role = current_app.config.get("DATABASE_APP_ROLE") or db.engine.url.username
config.set_main_option(
    "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def process_revision_directives(context_, revision, directives):
    """Write no empty revision on autogenerate, then let GeoAlchemy2 fix up the script."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")
        return
    alembic_helpers.writer.process_revision_directives(context_, revision, directives)


def run_migrations_offline():
    """Emit SQL to stdout."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=db.metadata,
        literal_binds=True,
        include_object=include_object,
        render_item=alembic_helpers.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run against the app's database."""
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            include_object=include_object,
            render_item=alembic_helpers.render_item,
            compare_type=True,
            **{k: v for k, v in conf_args.items() if k != "compare_type"},
        )
        with context.begin_transaction():
            context.run_migrations()
            if grant_app_role(connection, app_role):
                logger.info("Granted the app's privileges to role %s.", app_role)
    if migration_url:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
