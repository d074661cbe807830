"""专项排查 pages: launch from the form, progress page, the task page's finding forms."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.campaigns import services
from app.campaigns.models import Campaign
from app.campaigns.models import CampaignFinding
from app.campaigns.models import CampaignTask
from app.core import clock
from app.extensions import db
from app.risks.models import RiskPoint
from tests.accounts.helpers import csrf_from
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.web.test_pages import signed_in


def test_official_launches_from_the_form_and_sees_progress(client, world):
    """A bad form comes back 422 naming the field with what was typed; a good one launches and
    the progress page shows the cells, the map's layer and the ledger link."""
    signed_in(client, world, "official@town")
    page = client.get("/campaigns").get_data(as_text=True)
    assert 'id="launch-form"' in page
    form = {
        "csrf_token": csrf_from(page),
        "title": "四乱清理专项排查",
        "region": TOWN,
        "category": "四乱清理",
        "checklist": "",
        "deadline": (clock.today() + dt.timedelta(days=5)).isoformat(),
    }
    refused = client.post("/campaigns", data=form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="launch-checklist"' in html and "四乱清理专项排查" in html
    assert db.session.scalar(select(Campaign.id)) is None
    launched = client.post("/campaigns", data={**form, "checklist": "乱堆乱放\n乱搭乱建\n"})
    assert launched.status_code == 302
    campaign_id = db.session.scalar(select(Campaign.id))
    assert launched.headers["Location"] == f"/campaigns/{campaign_id}"
    assert db.session.get(Campaign, campaign_id).checklist == ["乱堆乱放", "乱搭乱建"]
    detail = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'data-total="3" data-done="0"' in detail
    assert f"/api/v1/campaigns/{campaign_id}/cells.geojson" in detail
    assert f"/api/v1/campaigns/{campaign_id}/ledger.xlsx" in detail
    assert detail.count('data-state="pending"') == 3


def test_grid_worker_records_findings_on_the_task_page(client, world):
    """The checklist must be answered (422 naming it); a risk point found is registered in the
    task's cell and linked; a resent form (same key) records nothing twice."""
    campaign = services.launch(
        {
            "title": "欠薪排查",
            "region": VILLAGE,
            "category": "欠薪",
            "checklist": ["是否拖欠工资"],
            "deadline": clock.today() + dt.timedelta(days=3),
        },
        world["official@village"],
    )
    db.session.commit()
    task_id = db.session.scalar(
        select(CampaignTask.id).where(
            CampaignTask.campaign_id == campaign.id, CampaignTask.region_code == f"{VILLAGE}001"
        )
    )
    signed_in(client, world, "grid_worker@village")
    assert f"/campaign-tasks/{task_id}" in client.get("/tasks").get_data(as_text=True)
    page = client.get(f"/campaign-tasks/{task_id}").get_data(as_text=True)
    token = csrf_from(page)
    form = {
        "csrf_token": token,
        "client_key": "page-key-1",
        "result": "risk_point",
        "risk_point.category": "消防",
        "risk_point.level": "yellow",
        "risk_point.name": "工地宿舍",
        "risk_point.measures": "每周检查",
        "lon": "118.01",
        "lat": "37.32",
    }
    refused = client.post(f"/campaign-tasks/{task_id}/findings", data=form)
    assert refused.status_code == 422 and 'id="finding-answers"' in refused.get_data(as_text=True)
    done = client.post(f"/campaign-tasks/{task_id}/findings", data={**form, "a-0": "no"})
    assert done.status_code == 302
    again = client.post(f"/campaign-tasks/{task_id}/findings", data={**form, "a-0": "no"})
    assert again.status_code == 302
    findings = db.session.scalars(select(CampaignFinding)).all()
    assert len(findings) == 1 and findings[0].result == "risk_point"
    code = db.session.scalar(
        select(RiskPoint.code).where(RiskPoint.id == findings[0].risk_point_id)
    )
    shown = client.get(f"/campaign-tasks/{task_id}").get_data(as_text=True)
    assert code in shown and 'data-state="done"' in shown
    assert f"/campaign-tasks/{task_id}" not in client.get("/tasks").get_data(as_text=True)
