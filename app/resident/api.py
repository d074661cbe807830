"""The resident's API (docs/resident.md): the public progress lookup and rating (no account),
and the public outcome text staff write."""

from __future__ import annotations

from flask_login import current_user

from app.cases import queries as case_queries
from app.extensions import Blueprint
from app.policy import public
from app.policy import requires
from app.resident import queries
from app.resident import schemas
from app.resident import services
from app.resident.throttle import lookup_throttled

blp = Blueprint(
    "resident_api", __name__, url_prefix="/api/v1", description="群众查询与评价 (resident)"
)


@blp.route("/public/progress", methods=["POST"])
@public
@lookup_throttled
@blp.arguments(schemas.LookupIn)
@blp.response(200, schemas.ProgressOut)
@blp.alt_response(404, response="DEFAULT_ERROR", description="编号或查询码不正确（两者同一答复）")
@blp.alt_response(429, response="DEFAULT_ERROR", description="查询过于频繁")
def progress(data):
    """How a matter stands, by its number and the receipt's code (no account; rate-limited).

    A wrong code and an unknown number get the same answer. The code travels only in the body.
    """
    receipt = services.lookup(data["number"], data["code"])
    return queries.progress(receipt)


@blp.route("/public/rating", methods=["POST"])
@public
@lookup_throttled
@blp.arguments(schemas.RatingIn)
@blp.response(201, schemas.RatingOut)
@blp.alt_response(404, response="DEFAULT_ERROR", description="编号或查询码不正确")
@blp.alt_response(409, response="DEFAULT_ERROR", description="尚未办结，或本次办结已评价")
@blp.alt_response(429, response="DEFAULT_ERROR", description="过于频繁")
def rate(data):
    """Rate the resolution: satisfied (满意), basically (基本满意), dissatisfied (不满意)."""
    receipt = services.lookup(data["number"], data["code"])
    row = services.rate(receipt, data["rating"], data.get("comment"))
    return {"number": receipt.number, "rating": row.rating, "created_at": row.created_at}


@blp.route("/cases/<number>/public-outcome", methods=["PUT"])
@requires("cases.act")
@blp.arguments(schemas.PublicOutcomeIn)
@blp.response(200, schemas.PublicOutcomeOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已变")
def put_public_outcome(data, number: str):
    """Write the outcome text residents see on the progress page (staff who may act on it)."""
    case = case_queries.visible_case(number)
    services.set_public_outcome(case, current_user, data["public_outcome"], data.get("version"))
    return {"number": case.number, "public_outcome": case.public_outcome, "version": case.version}
