"""Notifications API: one's own inbox (read, mark read) and notification settings."""

from __future__ import annotations

from flask_login import current_user

from app.extensions import Blueprint
from app.notify import schemas
from app.notify import services
from app.notify.models import EVENTS
from app.policy import requires

blp = Blueprint("notify_api", __name__, url_prefix="/api/v1", description="通知 (notifications)")


@blp.route("/notifications")
@requires("notifications.self")
@blp.arguments(schemas.InboxQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.NotificationPage)
@blp.alt_response(400, response="DEFAULT_ERROR")
def list_notifications(unread=False, limit=50, after=None):
    """The caller's notifications, newest first, by keyset pages (`after`); `unread` filters."""
    items, cursor = services.inbox_page(current_user.id, unread=unread, after=after, limit=limit)
    return {"items": items, "next": cursor, "unread": services.unread_count(current_user.id)}


@blp.route("/notifications/unread-count")
@requires("notifications.self")
@blp.response(200, schemas.UnreadCount)
def unread_count():
    """How many of the caller's notifications are unread (the header's badge)."""
    return {"unread": services.unread_count(current_user.id)}


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@requires("notifications.self")
@blp.response(200, schemas.NotificationOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def mark_read(notification_id: int):
    """Mark one of the caller's notifications read (anyone else's is 404)."""
    return services.mark_read(services.own_notification(current_user.id, notification_id))


@blp.route("/notifications/read-all", methods=["POST"])
@requires("notifications.self")
@blp.response(200, schemas.ReadAll)
def mark_all_read():
    """Mark all of the caller's notifications read."""
    return {"marked": services.mark_all_read(current_user.id)}


def settings_answer(prefs: services.Preferences) -> dict:
    """The settings as the API shows them, with the events one may choose from."""
    return {
        "sms_events": list(prefs.sms_events),
        "muted_events": list(prefs.muted_events),
        "quiet_from": prefs.quiet_from,
        "quiet_to": prefs.quiet_to,
        "events": list(EVENTS),
    }


@blp.route("/me/notification-settings")
@requires("notifications.self")
@blp.response(200, schemas.NotificationSettingsSchema)
def get_settings():
    """The caller's notification settings (the defaults until saved)."""
    return settings_answer(services.preferences(current_user.id))


@blp.route("/me/notification-settings", methods=["PUT"])
@requires("notifications.self")
@blp.arguments(schemas.NotificationSettingsSchema)
@blp.response(200, schemas.NotificationSettingsSchema)
@blp.alt_response(422, response="DEFAULT_ERROR")
def put_settings(data):
    """Replace the caller's notification settings: SMS events, muted events, quiet hours."""
    return settings_answer(services.save_preferences(current_user.id, data))
