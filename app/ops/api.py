"""Health check."""

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ApiError
from app.extensions import Blueprint
from app.extensions import db
from app.geo.schemas import HealthSchema

blp = Blueprint("ops", __name__, description="运行状态 (operations)")


@blp.route("/healthz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, response="DEFAULT_ERROR", description="数据库不可用")
def healthz():
    """Answer 200 with the PostgreSQL and PostGIS versions, 503 when the database is down."""
    try:
        row = db.session.execute(
            text("SELECT current_setting('server_version') AS pg, postgis_lib_version() AS gis")
        ).one()
    except SQLAlchemyError:
        db.session.rollback()
        raise ApiError(503, "数据库不可用") from None
    return {"status": "ok", "postgresql": row.pg, "postgis": row.gis}
