"""Extensions, created unbound; the factory binds them to the app."""

import flask_smorest as smorest
from flask_babel import Babel
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

from app import apidoc

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
# The job queue's tables (procrastinate's own schema, migration 0012), not our models.
PROCRASTINATE_PREFIX = "procrastinate_"
# Expression indexes made by hand in migrations, which autogenerate cannot compare.
MANUAL_INDEXES = {"ix_cases_text_trgm", "ix_cases_due_key"}


def include_object(obj, name, type_, reflected, compare_to):
    """Alembic filter: skip PostGIS's own tables; let GeoAlchemy2 handle spatial indexes."""
    if type_ == "table" and (name in POSTGIS_TABLES or getattr(obj, "schema", None) == "tiger"):
        return False
    if type_ == "table" and name.startswith(PROCRASTINATE_PREFIX):
        return False
    if type_ == "index" and name in MANUAL_INDEXES:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


class GridGovApi(Api):
    """flask-smorest's Api with the project's error schema and security schemes.

    No catch-all `default` answer: each operation lists its real answers (app/apidoc.py), so a
    client, and the schema fuzzer's status check, can tell a documented error from a bug.
    """

    ERROR_SCHEMA = apidoc.ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _init_spec(self, *args, **kwargs):
        """Create the spec, then declare how callers authenticate."""
        super()._init_spec(*args, **kwargs)
        for name, scheme in apidoc.SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)


# The request commits last (app/core/transaction.py): nothing reads after it, so objects need not
# be expired (and reloaded, one round trip each) by the commit.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = GridGovApi()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
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
    """flask-smorest blueprint: the project's arguments parser, and complete error docs."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_standard_errors_doc)

    def arguments(self, schema, *, location="json", **kwargs):
        """Bad query strings, headers and paths answer (and are documented as) 400; bodies 422."""
        if location in ("query", "headers", "path"):
            kwargs.setdefault("error_status_code", 400)
        return super().arguments(schema, location=location, **kwargs)

    def add_url_rule(self, rule, endpoint=None, view_func=None, *args, **kwargs):
        """Register the rule, then note what the docs need: access and path parameters."""
        super().add_url_rule(rule, endpoint, view_func, *args, **kwargs)
        endpoint = self._endpoints[-1]  # the name flask-smorest settled on
        access, everyone = apidoc.view_access(view_func)
        route = {
            "endpoint": f"{self.name}.{endpoint}",
            "access": access,
            "everyone": everyone,
            "path_args": "<" in rule,
        }
        for method, doc in self._docs[endpoint].items():
            if method != "parameters":
                doc["route"] = route

    @staticmethod
    def _prepare_standard_errors_doc(doc, doc_info, *, method, **kwargs):
        """Add the answers every operation can give (app/apidoc.py)."""
        return apidoc.complete_operation(doc, doc_info, method)
