"""Health checks: liveness (the process answers) and readiness (the database answers too)."""

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.errors import DomainError
from app.extensions import Blueprint
from app.extensions import db
from app.geo.schemas import HealthSchema
from app.ops.schemas import LiveSchema
from app.policy import public

blp = Blueprint("ops", __name__, description="运行状态 (operations)")


def database_health() -> dict:
    """The PostgreSQL and PostGIS versions; a 503 when the database does not answer."""
    try:
        row = db.session.execute(
            text("SELECT current_setting('server_version') AS pg, postgis_lib_version() AS gis")
        ).one()
    except SQLAlchemyError:
        # The error handler rolls the failed transaction back (app/core/transaction.py).
        raise DomainError(503, "数据库不可用") from None
    return {"status": "ok", "postgresql": row.pg, "postgis": row.gis}


@blp.route("/healthz")
@public
@blp.response(200, HealthSchema)
@blp.alt_response(503, response="DEFAULT_ERROR", description="数据库不可用")
def healthz():
    """Readiness (kept for existing probes): 200 with versions, 503 when the database is down."""
    return database_health()


@blp.route("/healthz/ready")
@public
@blp.response(200, HealthSchema)
@blp.alt_response(503, response="DEFAULT_ERROR", description="数据库不可用")
def ready():
    """Readiness: 200 with versions when the database answers, else 503 (take out of rotation)."""
    return database_health()


@blp.route("/healthz/live")
@public
@blp.response(200, LiveSchema)
def live():
    """Liveness: 200 while the process answers; the database is not consulted."""
    # A database outage must not make the supervisor restart healthy workers.
    return {"status": "ok"}
