"""通知: one's inbox (newest first, mark read) and notification settings, on one page."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from app.core.errors import DomainError
from app.notify import schemas
from app.notify import services
from app.notify.models import EVENTS
from app.policy import requires
from app.web.forms import NO_FAILURE
from app.web.forms import Failure

bp = Blueprint("inbox", __name__)
SETTINGS_FORM = "settings"


def settings_field_names() -> dict[str, str]:
    """Display names of the settings form's fields, for its messages."""
    return {
        "sms_events": _("短信通知"),
        "muted_events": _("不再通知"),
        "quiet_from": _("免打扰开始"),
        "quiet_to": _("免打扰结束"),
    }


def render_inbox(status: int = 200, failed: Failure = NO_FAILURE):
    """The inbox page (unread only with ?unread=1, older pages with ?after=) and the settings."""
    unread = request.args.get("unread") == "1"
    items, cursor = services.inbox_page(
        current_user.id, unread=unread, after=request.args.get("after") or None
    )
    return (
        render_template(
            "inbox/notifications.html",
            notifications=items,
            next_cursor=cursor,
            unread_only=unread,
            unread=services.unread_count(current_user.id),
            prefs=services.preferences(current_user.id),
            events=EVENTS,
            failed=failed,
        ),
        status,
    )


@bp.route("/notifications")
@requires("notifications.self")
def notifications():
    """The inbox and the settings form."""
    return render_inbox()


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@requires("notifications.self")
def mark_read(notification_id: int):
    """Mark one notification read; with open=1 go on to what it is about."""
    row = services.mark_read(services.own_notification(current_user.id, notification_id))
    if request.form.get("open") == "1" and row.link and row.link.startswith("/"):
        return redirect(row.link)
    return redirect(url_for("inbox.notifications"))


@bp.route("/notifications/read-all", methods=["POST"])
@requires("notifications.self")
def mark_all_read():
    """Mark every notification read."""
    marked = services.mark_all_read(current_user.id)
    flash(_("已将 %(n)s 条通知标为已读", n=marked), "success")
    return redirect(url_for("inbox.notifications"))


@bp.route("/notifications/settings", methods=["POST"])
@requires("notifications.self")
def save_settings():
    """Save the settings form (as PUT /api/v1/me/notification-settings does)."""
    form = request.form
    body = {
        "sms_events": form.getlist("sms_events"),
        "muted_events": form.getlist("muted_events"),
        "quiet_from": form.get("quiet_from", "").strip() or None,
        "quiet_to": form.get("quiet_to", "").strip() or None,
    }
    lead = lambda reason: _("未能保存通知设置：%(reason)s", reason=reason)  # noqa: E731
    names = settings_field_names()
    try:
        services.save_preferences(current_user.id, schemas.NotificationSettingsSchema().load(body))
    except ValidationError as exc:
        return render_inbox(422, Failure.of(SETTINGS_FORM, lead, names, errors=exc.messages))
    except DomainError as exc:
        errors = (exc.errors or {}).get("json") or {}
        failed = Failure.of(SETTINGS_FORM, lead, names, errors=errors, message=exc.message)
        return render_inbox(exc.status, failed)
    flash(_("已保存通知设置"), "success")
    return redirect(url_for("inbox.notifications"))
