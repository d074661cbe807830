"""The inbox (API and page) and notification settings: own only, paged, validated."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from app.extensions import db
from app.notify.models import Notification
from app.notify.services import emit
from tests.factories import bearer


def test_inbox_pages_marks_read_and_hides_others(client, world):
    """Own notifications only, newest first by keyset pages; mark one / all read; others' 404."""
    me, other = world["mediator@town"], world["official@town"]
    ids = [emit("case_escalated", [me], title=f"事件 {i}")[0] for i in range(3)]
    theirs = emit("case_escalated", [other], title="别人的")[0]
    db.session.commit()
    headers = bearer(me)
    first = client.get("/api/v1/notifications?limit=2", headers=headers).get_json()
    assert [n["id"] for n in first["items"]] == [ids[2], ids[1]] and first["unread"] == 3
    rest = client.get(f"/api/v1/notifications?limit=2&after={first['next']}", headers=headers)
    assert [n["id"] for n in rest.get_json()["items"]] == [ids[0]] and rest.get_json()[
        "next"
    ] is None
    assert client.get("/api/v1/notifications?after=zz", headers=headers).status_code == 400
    assert client.post(f"/api/v1/notifications/{theirs}/read", headers=headers).status_code == 404
    read = client.post(f"/api/v1/notifications/{ids[1]}/read", headers=headers)
    assert read.status_code == 200 and read.get_json()["read_at"] is not None
    assert client.get("/api/v1/notifications/unread-count", headers=headers).get_json() == {
        "unread": 2
    }
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).get_json()
    assert [n["id"] for n in unread["items"]] == [ids[2], ids[0]]
    page = client.get("/notifications", headers=headers).get_data(as_text=True)
    assert 'id="unread-badge"' in page and "事件 2" in page and "别人的" not in page
    done = client.post("/notifications/read-all", headers=headers)
    assert done.status_code == 302
    assert client.get("/api/v1/notifications/unread-count", headers=headers).get_json() == {
        "unread": 0
    }
    unread_others = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
    )
    assert unread_others == 1  # the other user's stays unread
    assert 'id="unread-badge"' not in client.get("/notifications", headers=headers).get_data(
        as_text=True
    )


def test_settings_are_validated_and_muted_events_are_not_told(client, world):
    """Bad events and times are 422 naming the field, nothing saved; a muted event is not told."""
    me = world["mediator@town"]
    headers = bearer(me)
    url = "/api/v1/me/notification-settings"
    defaults = client.get(url, headers=headers).get_json()
    assert defaults["sms_events"] == ["dispatch_received", "overdue", "supervised"]
    assert (defaults["quiet_from"], defaults["quiet_to"]) == ("22:00", "07:00")
    bad = [
        ({"sms_events": ["nonsense"]}, "sms_events"),
        ({"sms_events": [], "quiet_from": "25:00", "quiet_to": "07:00"}, "quiet_from"),
        ({"sms_events": [], "quiet_from": "22:00"}, "quiet_to"),
        ({"sms_events": [], "muted_events": ["x"]}, "muted_events"),
    ]
    for body, field in bad:
        answer = client.put(url, json=body, headers=headers)
        assert answer.status_code == 422, body
        assert field in answer.get_json()["errors"]["json"], answer.get_json()
    assert client.get(url, headers=headers).get_json() == defaults  # nothing saved
    body = {"sms_events": ["overdue"], "muted_events": ["case_escalated"], "quiet_from": None}
    saved = client.put(url, json={**body, "quiet_to": None}, headers=headers).get_json()
    assert saved["sms_events"] == ["overdue"] and saved["quiet_from"] is None
    assert emit("case_escalated", [me], title="静音") == []
    assert len(emit("overdue", [me], title="逾期")) == 1
    # The page's form: the same rules, the message beside the field.
    page = client.post(
        "/notifications/settings",
        data={"sms_events": "overdue", "quiet_from": "7点", "quiet_to": "08:00"},
        headers=headers,
    )
    assert page.status_code == 422 and "HH:MM" in page.get_data(as_text=True)
    ok = client.post(
        "/notifications/settings",
        data={"sms_events": ["supervised", "overdue"], "quiet_from": "21:30", "quiet_to": "06:45"},
        headers=headers,
    )
    assert ok.status_code == 302
    now = client.get(url, headers=headers).get_json()
    assert now["sms_events"] == ["overdue", "supervised"] and now["muted_events"] == []
    assert (now["quiet_from"], now["quiet_to"]) == ("21:30", "06:45")
