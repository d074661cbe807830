"""我的待办: the signed-in user's tasks, nearest deadline first (also on the home page)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.core import clock
from app.policy import requires
from app.tasks import queries

bp = Blueprint("tasks", __name__)

PAGE_SIZE = 50
HOME_SIZE = 20


def task_page(limit: int) -> dict:
    """The template's values for one page of the caller's tasks (`after` from the URL)."""
    answer = queries.page(current_user, request.args.get("after") or None, limit)
    today = clock.today()
    for task in answer["items"]:
        due = task["due"] and dt.date.fromisoformat(task["due"])
        task["days_left"] = (due - today).days if due else None
    return {
        "tasks": answer["items"],
        "task_counts": answer["counts"],
        "task_total": answer["total"],
        "task_next": url_for("tasks.my_tasks", after=answer["next"]) if answer["next"] else None,
        "has_tasks": current_user.role in queries.TASK_ROLES,
    }


def home_page() -> str:
    """The home page: greeting, the first tasks, and the links of one's work."""
    values = task_page(HOME_SIZE) if current_user.role in queries.TASK_ROLES else {}
    return render_template("accounts/home.html", **values)


@bp.route("/tasks")
@requires("tasks.read")
def my_tasks():
    """Everything the caller must do next, by pages."""
    return render_template("tasks/index.html", **task_page(PAGE_SIZE))
