"""Helpers to report cases and move them through the workflow in tests."""

from __future__ import annotations

from app.extensions import db
from tests.factories import bearer

# A valid 18-digit ID number (GB 11643 checksum) and phone for parties.
ID_NUMBER = "110101199003074477"
PHONE = "13812345678"
POINT = {"lon": 118.01, "lat": 37.32}  # in cell 371699101200001 of 东村
POINT_CELL2 = {"lon": 118.04, "lat": 37.32}  # in cell 371699101200002
POINT_VILLAGE_B = {"lon": 118.07, "lat": 37.32}  # 西村 (same town)
POINT_OTHER_TOWN = {"lon": 118.12, "lat": 37.32}  # 南村, 乙镇 (no cell there in the world)
POINT_OTHER_COUNTY = {"lon": 118.32, "lat": 37.32}


def case_body(kind: str = "dispute", **overrides) -> dict:
    """A valid report body."""
    category = {"dispute": "邻里", "petition": "征地拆迁安置", "incident": "治安"}.get(kind, "其他")
    body = {
        "kind": kind,
        "category": category,
        "source": "grid_patrol",
        "title": "邻居漏水纠纷",
        "description": "楼上漏水至楼下，双方协商未果",
        **POINT,
        "parties": [
            {
                "role": "applicant",
                "name": "张三",
                "id_number": ID_NUMBER,
                "phone": PHONE,
                "address": "山东省滨州市示范县东村12号",
            },
            {"role": "respondent", "name": "李四", "phone": "0543-3312345"},
        ],
    }
    body.update(overrides)
    return body


def report(client, user, kind: str = "dispute", headers: dict | None = None, **overrides):
    """Report a case as `user`; returns the response."""
    return client.post(
        "/api/v1/cases", json=case_body(kind, **overrides), headers=headers or bearer(user)
    )


def act(client, user, number: str, action: str, body: dict | None = None, version=None):
    """Take an action with the case's current version unless one is given."""
    headers = bearer(user)
    if version is None:
        version = client.get(f"/api/v1/cases/{number}", headers=headers).get_json()["version"]
    return client.post(
        f"/api/v1/cases/{number}/actions/{action}",
        json={"version": version, **(body or {})},
        headers=headers,
    )


def commit() -> None:
    """Commit the test's savepoint so requests see the rows."""
    db.session.commit()
