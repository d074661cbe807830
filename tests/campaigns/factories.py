"""Helpers to launch campaigns and record findings in tests."""

from __future__ import annotations

import datetime as dt

from app.core import clock
from tests.factories import bearer
from tests.geo.factories import TOWN

CHECKLIST = ["是否存在拖欠工资", "是否签订劳动合同"]
ALL_YES = dict.fromkeys(CHECKLIST, "yes")


def campaign_body(**overrides) -> dict:
    """A valid launch body: 欠薪 over the test town, due in ten days."""
    body = {
        "title": "春节前欠薪专项排查",
        "region": TOWN,
        "category": "欠薪",
        "checklist": list(CHECKLIST),
        "deadline": (clock.today() + dt.timedelta(days=10)).isoformat(),
    }
    body.update(overrides)
    return body


def launch(client, user, **overrides):
    """Launch a campaign as `user` through the API; the response."""
    return client.post("/api/v1/campaigns", json=campaign_body(**overrides), headers=bearer(user))


def record(client, user, task_id: int, **body):
    """Record a finding on a task as `user`; the response."""
    body.setdefault("answers", ALL_YES)
    return client.post(
        f"/api/v1/campaign-tasks/{task_id}/findings", json=body, headers=bearer(user)
    )
