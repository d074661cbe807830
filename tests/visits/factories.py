"""Helpers to log visits in tests."""

from __future__ import annotations

from tests.factories import bearer


def visit_body(**overrides) -> dict:
    """A valid visit in cell 371699101200001 of 东村."""
    body = {
        "lon": 118.01,
        "lat": 37.32,
        "household": "3组12号",
        "householder": "王大明",
        "purpose": "disputes",
        "heard": "反映邻居宅基地界址有争议",
    }
    body.update(overrides)
    return body


def log(client, user, headers: dict | None = None, **overrides):
    """Log a visit as `user`; the response."""
    return client.post(
        "/api/v1/visits", json=visit_body(**overrides), headers=headers or bearer(user)
    )
