"""The 研判 page and the rules page: what they show, what their forms do, and the docs."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.warnings import rules
from app.warnings.models import EarlyWarning
from app.warnings.models import WarningRule
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import report
from tests.warnings.factories import scan


def test_analysis_page_lists_maps_and_handles(client, world):
    """The page shows the explanation and the map; 处置 without a note is refused beside the
    field (422, nothing written); with one it is handled; a stale form is 409."""
    number = report(client, world["grid_worker@village"], group_visit=True, parties=[])
    scan(number.get_json()["number"])
    wid = db.session.scalar(select(EarlyWarning.id))
    login(client, "official-town")
    page = client.get("/analysis")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "集体访" in html and 'id="warning-map"' in html and "js/warnings.js" in html
    token = csrf_from(html)
    refused = client.post(
        f"/analysis/{wid}/handle", data={"csrf_token": token, "version": "1", "note": " "}
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.get_data(as_text=True)
    assert db.session.get(EarlyWarning, wid).state == "open"
    done = client.post(
        f"/analysis/{wid}/handle", data={"csrf_token": token, "version": "1", "note": "已接访"}
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(EarlyWarning, wid).state == "handled"
    stale = client.post(f"/analysis/{wid}/acknowledge", data={"csrf_token": token, "version": "1"})
    assert stale.status_code == 409
    assert client.get("/analysis?kind=nope").status_code == 400


def test_rules_page_edits_a_threshold(client, world):
    """The admin's form changes a parameter; a bad one is a 422 naming it; nothing written."""
    login(client, "admin-county")
    page = client.get("/admin/warning-rules")
    assert page.status_code == 200 and "新发热点" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    form = {"csrf_token": token, "version": "1", "enabled": "on"}
    bad = client.post("/admin/warning-rules/hotspot", data={**form, "params": '{"p_value": 2}'})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert "p_value：应在" in bad.get_data(as_text=True)
    ok = client.post("/admin/warning-rules/hotspot", data={**form, "params": '{"min_cases": 4}'})
    assert ok.status_code == 302
    db.session.expire_all()
    row = db.session.scalar(select(WarningRule).where(WarningRule.kind == "hotspot"))
    assert row.params["min_cases"] == 4 and row.params["window_days"] == 14 and row.version == 2


def test_seeded_rules_and_docs_match_the_table(app):
    """The migration seeded DOMAIN §10's defaults as rules.py holds them; docs/warnings.md's
    thresholds table is current (flask warnings docs)."""
    seeded = {r.kind: r.params for r in db.session.scalars(select(WarningRule))}
    assert seeded == rules.DEFAULTS
    with open("docs/warnings.md", encoding="utf-8") as f:
        assert rules.markdown() in f.read()
