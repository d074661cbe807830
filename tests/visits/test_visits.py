"""Visits: idempotent logging, masking and encryption, review with versions, coverage, scope."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app import pii
from app.core import clock
from app.extensions import db
from app.visits.models import Visit
from tests.factories import bearer
from tests.factories import make_user
from tests.geo.factories import VILLAGE_B
from tests.risks.factories import png_bytes
from tests.visits.factories import log
from tests.visits.factories import visit_body


def test_retry_with_the_same_key_makes_one_visit_masked_and_encrypted(client, world):
    headers = {**bearer(world["grid_worker@village"]), "Idempotency-Key": "v-123"}
    first = log(client, world["grid_worker@village"], headers=headers)
    assert first.status_code == 201, first.get_json()
    again = log(client, world["grid_worker@village"], headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    # The key in the body (the outbox sends both) is the same key.
    body_key = log(
        client,
        world["grid_worker@village"],
        headers=bearer(world["grid_worker@village"]),
        client_key="v-123",
    )
    assert body_key.get_json()["id"] == first.get_json()["id"]
    rows = db.session.scalars(select(Visit)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.region_code == "371699101200001"
    assert b"3\xe7\xbb\x84" not in bytes(row.household_enc)  # not the plain "3组"
    assert pii.decrypt(row.household_enc) == "3组12号"
    assert pii.decrypt(row.householder_enc) == "王大明"
    listed = client.get("/api/v1/visits", headers=bearer(world["official@village"])).get_json()
    assert [v["household"] for v in listed["items"]] == ["3组***"]
    assert listed["items"][0]["householder"] == "王**"
    assert "王大明" not in str(listed) and "12号" not in str(listed)


def test_bad_visit_names_the_field_and_writes_nothing(client, world):
    bad = log(client, world["grid_worker@village"], purpose="chat")
    assert bad.status_code == 422 and "purpose" in bad.get_json()["errors"]["json"]
    future = (clock.now() + dt.timedelta(days=1)).isoformat()
    late = log(client, world["grid_worker@village"], visited_at=future)
    assert late.status_code == 422 and "visited_at" in late.get_json()["errors"]["json"]
    outside = log(client, world["grid_worker@village"], lon=118.32, lat=37.32)  # the other county
    assert outside.status_code in (403, 422)
    assert db.session.scalar(select(Visit.id)) is None


def test_review_needs_comment_and_current_version(client, world):
    visit = log(client, world["grid_worker@village"]).get_json()
    url = f"/api/v1/visits/{visit['id']}/actions/review"
    headers = bearer(world["official@village"])
    assert client.post(url, json={"comment": "已阅"}, headers=headers).status_code == 428
    empty = client.post(url, json={"comment": "", "version": 1}, headers=headers)
    assert empty.status_code == 422 and "comment" in empty.get_json()["errors"]["json"]
    stale = client.post(url, json={"comment": "已阅", "version": 7}, headers=headers)
    assert stale.status_code == 409
    ok = client.post(url, json={"comment": "请持续关注", "version": 1}, headers=headers)
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["review_state"] == "reviewed"
    assert ok.get_json()["reviewed_by"] == world["official@village"].display_name
    # The old version again: 409, and the comment stays the first one.
    again = client.post(url, json={"comment": "改", "version": 1}, headers=headers)
    assert again.status_code == 409
    assert db.session.get(Visit, visit["id"]).review_comment == "请持续关注"
    # A grid world["grid_worker@village"] may not review.
    denied = client.post(
        url, json={"comment": "x", "version": 2}, headers=bearer(world["grid_worker@village"])
    )
    assert denied.status_code == 403


def test_photos_attach_once(client, world):
    visit = log(client, world["grid_worker@village"]).get_json()
    url = f"/api/v1/visits/{visit['id']}/photos"
    for _ in range(2):  # a retried upload
        response = client.post(
            url,
            data={"photos": (__import__("io").BytesIO(png_bytes()), "p.png")},
            headers=bearer(world["grid_worker@village"]),
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["photos"]) == 1
    photo = response.get_json()["photos"][0]["url"]
    assert client.get(photo, headers=bearer(world["official@village"])).status_code == 200


def test_coverage_and_scope(client, world, monkeypatch):
    moment = dt.datetime(2026, 11, 20, 10, tzinfo=clock.SHANGHAI)
    monkeypatch.setattr(clock, "now", lambda: moment.astimezone(dt.UTC))
    monkeypatch.setattr(clock, "today", lambda: moment.date())
    for household, day in (("3组12号", 18), ("3组12号", 19), ("4组1号", 10)):
        visited = dt.datetime(2026, 11, day, 9, tzinfo=clock.SHANGHAI).isoformat()
        assert (
            log(
                client, world["grid_worker@village"], household=household, visited_at=visited
            ).status_code
            == 201
        )
    answer = client.get(
        "/api/v1/visits/coverage?from=2026-11-15&to=2026-11-20",
        headers=bearer(world["official@town"]),
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    cells = {c["code"]: c for c in body["cells"]}
    assert cells["371699101200001"]["visits"] == 2
    assert cells["371699101200001"]["households_visited"] == 1
    assert cells["371699101200001"]["days_since_last"] == 1
    assert cells["371699101200002"]["visits"] == 0
    assert cells["371699101200002"]["days_since_last"] is None
    village = {v["code"]: v for v in body["villages"]}["371699101200"]
    assert (village["visits"], village["households_visited"]) == (2, 1)
    assert body["towns"][0]["visits"] == 2
    wider = client.get(
        "/api/v1/visits/coverage?from=2026-11-01&to=2026-11-20",
        headers=bearer(world["official@town"]),
    ).get_json()
    assert {v["code"]: v for v in wider["villages"]}["371699101200"]["households_visited"] == 2
    bad = client.get(
        "/api/v1/visits/coverage?from=2026-11-21&to=2026-11-20",
        headers=bearer(world["official@town"]),
    )
    assert bad.status_code == 422 and "from" in str(bad.get_json()["errors"])
    # Another village's official sees none of it: not in the list, not in coverage, 404.
    other = make_user("official-west", "official", VILLAGE_B)
    headers = bearer(other)
    assert client.get("/api/v1/visits", headers=headers).get_json()["items"] == []
    theirs = client.get("/api/v1/visits/coverage", headers=headers).get_json()
    assert "371699101200" not in str(theirs)
    one = db.session.scalars(select(Visit.id)).first()
    assert client.get(f"/api/v1/visits/{one}", headers=headers).status_code == 404
    assert visit_body()["household"] not in str(theirs)
