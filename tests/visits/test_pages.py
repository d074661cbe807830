"""The 走访 and 考核 pages: the phone form, review with a comment, coverage, scores, weights."""

from __future__ import annotations

import re

from app.assessment.models import AssessmentWeight
from app.extensions import db
from app.visits.models import Visit
from tests.accounts.helpers import login
from tests.visits.factories import log

WORKER = "grid_worker@village"


def signed_in(client, world, key):
    assert login(client, world[key].username).status_code == 302
    return client


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_worker_form_and_official_review(client, world):
    visit_id = log(client, world[WORKER]).get_json()["id"]
    page = signed_in(client, world, WORKER).get("/field/visits/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-kind="visit"' in html and "js/visit.js" in html and "js/outbox.js" in html
    mine = client.get("/field/visits").get_data(as_text=True)
    assert "3组***" in mine and "12号" not in mine and "审阅意见" not in mine
    client.post("/logout", data={"csrf_token": csrf(mine)})

    signed_in(client, world, "official@village")
    listing = client.get("/field/visits?state=pending").get_data(as_text=True)
    assert f'id="review-{visit_id}"' in listing
    empty = client.post(
        f"/field/visits/{visit_id}/review",
        data={"csrf_token": csrf(listing), "version": "1", "comment": ""},
    )
    assert empty.status_code == 422
    assert "审阅意见" in empty.get_data(as_text=True)
    done = client.post(
        f"/field/visits/{visit_id}/review",
        data={"csrf_token": csrf(listing), "version": "1", "comment": "已核实，请跟进"},
    )
    assert done.status_code == 302
    assert db.session.get(Visit, visit_id).review_comment == "已核实，请跟进"
    stale = client.post(
        f"/field/visits/{visit_id}/review",
        data={"csrf_token": csrf(listing), "version": "1", "comment": "再审"},
    )
    assert stale.status_code == 409
    coverage = client.get("/visits/coverage").get_data(as_text=True)
    assert "距上次走访" in coverage and ">1<" in coverage
    assert "js/coverage.js" in coverage and '"371699101200001": [0, 1]' in coverage
    ranking = client.get("/assessment").get_data(as_text=True)
    assert world[WORKER].display_name in ranking


def test_admin_changes_a_weight_on_the_page(client, world):
    signed_in(client, world, "admin@county")
    page = client.get("/admin/assessment-weights").get_data(as_text=True)
    token = csrf(page)
    bad = client.post(
        "/admin/assessment-weights/visits",
        data={"csrf_token": token, "version": "1", "weight": "150", "target": "20"},
    )
    assert bad.status_code == 422 and "权重" in bad.get_data(as_text=True)
    ok = client.post(
        "/admin/assessment-weights/visits",
        data={"csrf_token": token, "version": "1", "weight": "30", "target": "25"},
    )
    assert ok.status_code == 302
    row = db.session.get(AssessmentWeight, "visits")
    db.session.refresh(row)
    assert (row.weight, row.target) == (30, 25)
