"""Tasks API: my tasks (我的待办), nearest deadline first."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from app.extensions import Blueprint
from app.policy import requires
from app.tasks import queries
from app.tasks import schemas

blp = Blueprint("tasks_api", __name__, url_prefix="/api/v1", description="我的待办 (tasks)")


@blp.route("/me/tasks")
@requires("tasks.read")
@blp.arguments(schemas.TaskQuery, location="query")
@blp.response(200, schemas.TaskPage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def my_tasks(args):
    """What the caller must do next — cases, follow-ups, inspections, dispatches — nearest
    deadline first, by keyset pages (`after`), with the counts by kind."""
    return jsonify(queries.page(current_user, args.get("after"), args["limit"]))
