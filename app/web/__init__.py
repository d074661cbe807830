"""The pages for people (Jinja, server-rendered) on top of the JSON API.

One module per kind of work: `tasks` (我的待办, also the home page), `field` (grid workers:
我的网格, 上报, 排查), `casework` (the case queue and the case page), `official` (风险地图,
工作台), `admin`, `auditlog` (审计日志), `inbox` (通知), `notices` (文书模板, a case's notice
PDFs). Pages call the same services the API does; their scripts (app/static/js) call the API
with the session cookie and CSRF header.
"""

from __future__ import annotations

from flask import Flask

from app.policy import allows
from app.web import admin
from app.web import analysis
from app.web import auditlog
from app.web import briefings
from app.web import cameras
from app.web import campaigns
from app.web import casework
from app.web import field
from app.web import forms
from app.web import holidays  # noqa: F401 (its routes join the admin blueprint)
from app.web import imports  # noqa: F401 (its routes join the admin blueprint)
from app.web import inbox
from app.web import labels
from app.web import notices
from app.web import official
from app.web import offline
from app.web import retention
from app.web import tasks
from app.web import visits
from app.web.layout import local_time
from app.web.layout import nav_items


def init_web(app: Flask) -> None:
    """Register the page blueprints, and the helpers every template uses."""
    modules = (
        tasks,
        field,
        casework,
        official,
        admin,
        auditlog,
        inbox,
        notices,
        briefings,
        campaigns,
        analysis,
        visits,
        cameras,  # 雪亮工程 (issue 17 item 4)
        retention,
        offline,  # the service worker, /sw.js (issue 19: offline field work)
    )
    for module in modules:
        app.register_blueprint(module.bp)
    app.jinja_env.globals.update(
        nav_items=nav_items,
        label=labels.label,
        label_choices=labels.choices,
        allows=allows,
        field_id=forms.field_id,
        no_failure=forms.NO_FAILURE,
    )
    app.jinja_env.filters["local_time"] = local_time
