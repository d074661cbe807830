"""Extensions, created unbound; the factory binds them to the app."""

import flask_smorest as smorest
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from geoalchemy2 import alembic_helpers
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser

# Stable constraint names, so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Tables that belong to PostGIS (or its optional extensions), never to our models.
POSTGIS_TABLES = {"spatial_ref_sys", "topology", "layer"}
# Expression indexes made by hand in migrations, which autogenerate cannot compare.
MANUAL_INDEXES = {"ix_cases_text_trgm"}


def include_object(obj, name, type_, reflected, compare_to):
    """Alembic filter: skip PostGIS's own tables; let GeoAlchemy2 handle spatial indexes."""
    if type_ == "table" and (name in POSTGIS_TABLES or getattr(obj, "schema", None) == "tiger"):
        return False
    if type_ == "index" and name in MANUAL_INDEXES:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
login_manager = LoginManager()
csrf = CSRFProtect()
# Storage comes from RATELIMIT_STORAGE_URI (memory:// by default; redis:// for several workers).
limiter = Limiter(key_func=get_remote_address)


class ArgumentsParser(FlaskParser):
    """webargs parser: bad query strings are 400 Bad Request, bad bodies 422."""

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        """Answer 400 when the query string is at fault, else the default 422."""
        if "query" in error.messages and error_status_code is None:
            error_status_code = 400
        return super().handle_error(
            error, req, schema, error_status_code=error_status_code, error_headers=error_headers
        )


class Blueprint(smorest.Blueprint):
    """flask-smorest blueprint with the project's arguments parser."""

    ARGUMENTS_PARSER = ArgumentsParser()
