"""专项排查 campaigns: launch, tasks in my tasks, findings, progress, overdue, ledger."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func
from sqlalchemy import select

from app.accounts.models import User
from app.campaigns import queries
from app.campaigns.models import Campaign
from app.campaigns.models import CampaignFinding
from app.campaigns.models import CampaignTask
from app.cases.models import Case
from app.core import clock
from app.extensions import db
from app.geo.models import Region
from app.notify.models import Notification
from app.risks.models import RiskPoint
from tests.campaigns.factories import ALL_YES
from tests.campaigns.factories import launch
from tests.campaigns.factories import record
from tests.cases.factories import POINT
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import case_body
from tests.factories import OTHER_TOWN
from tests.factories import bearer
from tests.factories import make_user
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B
from tests.risks.factories import risk_body


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


CELL1 = f"{VILLAGE}001"
WORKER = "grid_worker@village"


def my_tasks(client, user) -> dict:
    response = client.get("/api/v1/me/tasks", headers=bearer(user))
    assert response.status_code == 200
    return response.get_json()


def task_of(campaign_id: int, cell_code: str) -> int:
    return db.session.scalar(
        select(CampaignTask.id).where(
            CampaignTask.campaign_id == campaign_id, CampaignTask.region_code == cell_code
        )
    )


def launched(client, world, **overrides) -> int:
    response = launch(client, world["official@town"], **overrides)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_launch_over_a_town_gives_every_cell_a_task_in_its_workers_list(client, world):
    """One task per cell of the town; the cell's worker sees theirs in my tasks, due on the
    deadline; a village official sees the campaign with their village's cells only."""
    response = launch(client, world["official@town"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["progress"]["total"] == 3 and body["progress"]["done"] == 0
    codes = db.session.scalars(
        select(CampaignTask.region_code).where(CampaignTask.campaign_id == body["id"])
    ).all()
    assert sorted(codes) == [f"{VILLAGE}001", f"{VILLAGE}002", f"{VILLAGE_B}001"]
    tasks = my_tasks(client, world["grid_worker@village"])
    mine = [t for t in tasks["items"] if t["kind"] == "campaign_task"]
    task_id = task_of(body["id"], CELL1)
    assert mine == [
        {
            "kind": "campaign_task",
            "action": "campaign_check",
            "action_name": "专项排查",
            "number": "欠薪",
            "title": "春节前欠薪专项排查",
            "due": body["deadline"],
            "warning": "none",
            "link": f"/campaign-tasks/{task_id}",
        }
    ]
    assert tasks["counts"]["campaign_task"] == 1
    seen = client.get("/api/v1/campaigns", headers=bearer(world["official@village"])).get_json()
    assert [(c["id"], c["total"]) for c in seen] == [(body["id"], 2)]
    assert client.get("/api/v1/campaigns", headers=bearer(world["outsider"])).get_json() == []


def test_bad_launch_names_the_field_and_writes_nothing(client, world):
    """Empty checklist, a deadline not after today, an unknown region: 422 naming the field;
    a region outside the caller's scope 403; a grid worker may not launch."""
    official = "official@town"
    cases = {
        "checklist": {"checklist": []},
        "deadline": {"deadline": clock.today().isoformat()},
        "region": {"region": "371699999000"},
    }
    for field, overrides in cases.items():
        response = launch(client, world[official], **overrides)
        assert response.status_code == 422, (field, response.get_json())
        assert field in response.get_json()["errors"]["json"], field
    outside = launch(client, world[official], region=OTHER_TOWN)
    assert outside.status_code == 403 and "region" in outside.get_json()["errors"]["json"]
    above = launch(client, world["official@village"], region=TOWN)
    assert above.status_code == 403
    assert launch(client, world["grid_worker@village"]).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_findings_of_the_three_kinds_link_what_they_registered(client, world):
    """None found, a risk point, a case: each linked; the first marks the task done and takes
    it off my tasks; a retry with the same client_key records nothing twice."""
    campaign_id = launched(client, world)
    task_id = task_of(campaign_id, CELL1)
    incomplete = record(
        client, world[WORKER], task_id, result="none", answers={"是否存在拖欠工资": "no"}
    )
    assert incomplete.status_code == 422 and "answers" in incomplete.get_json()["errors"]["json"]
    first = record(client, world[WORKER], task_id, result="none", client_key="k-1", note="无")
    assert first.status_code == 201, first.get_json()
    again = record(client, world[WORKER], task_id, result="none", client_key="k-1", note="无")
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert not [t for t in my_tasks(client, world[WORKER])["items"] if t["kind"] == "campaign_task"]

    point = record(client, world[WORKER], task_id, result="risk_point", risk_point=risk_body())
    assert point.status_code == 201, point.get_json()
    code = point.get_json()["risk_point_code"]
    assert (
        db.session.scalar(select(RiskPoint.id).where(RiskPoint.code == code))
        == (point.get_json()["risk_point_id"])
    )
    case = record(client, world[WORKER], task_id, result="case", case=case_body(**POINT))
    assert case.status_code == 201, case.get_json()
    number = case.get_json()["case_number"]
    assert (
        db.session.scalar(select(Case.id).where(Case.number == number))
        == (case.get_json()["case_id"])
    )
    results = db.session.scalars(
        select(CampaignFinding.result)
        .where(CampaignFinding.task_id == task_id)
        .order_by(CampaignFinding.id)
    ).all()
    assert results == ["none", "risk_point", "case"]
    task = db.session.get(CampaignTask, task_id)
    assert (task.state, task.done_by_id) == ("done", world.user_ids[WORKER])

    # Wrong body for the result, or a case in another cell: 422 and nothing new.
    mismatch = record(client, world[WORKER], task_id, result="none", case=case_body())
    assert mismatch.status_code == 422 and "case" in mismatch.get_json()["errors"]["json"]
    cases_before = db.session.scalar(select(func.count()).select_from(Case))
    elsewhere = record(client, world[WORKER], task_id, result="case", case=case_body(**POINT_CELL2))
    assert elsewhere.status_code in (403, 422)
    assert db.session.scalar(select(func.count()).select_from(Case)) == cases_before


def test_another_villages_worker_cannot_see_or_record(client, world):
    """A worker of another village gets 404 for the task; an official reads it but may not
    record (403)."""
    campaign_id = launched(client, world)
    task_id = task_of(campaign_id, CELL1)
    other_id = make_user("gw-west", "grid_worker", VILLAGE_B, [f"{VILLAGE_B}001"]).id
    other = db.session.get(User, other_id)
    assert client.get(f"/api/v1/campaign-tasks/{task_id}", headers=bearer(other)).status_code == (
        404
    )
    other = db.session.get(User, other_id)
    assert record(client, other, task_id, result="none").status_code == 404
    official = "official@village"
    shown = client.get(f"/api/v1/campaign-tasks/{task_id}", headers=bearer(world[official]))
    assert shown.status_code == 200 and shown.get_json()["checklist"] == list(ALL_YES)
    assert record(client, world[official], task_id, result="none").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(CampaignFinding)) == 0


def test_progress_by_town_village_and_cell_and_the_map(client, world, monkeypatch):
    """Done, pending and overdue counted by town, village and cell; the map colours cells."""
    campaign_id = launched(client, world)
    record(client, world["grid_worker@village"], task_of(campaign_id, CELL1), result="none")
    official = "official@county"
    body = client.get(
        f"/api/v1/campaigns/{campaign_id}", headers=bearer(world[official])
    ).get_json()
    progress = body["progress"]
    assert (progress["total"], progress["done"], progress["pending"]) == (3, 1, 2)
    assert progress["findings"] == {"none": 1, "risk_point": 0, "case": 0}
    assert [(t["code"], t["total"], t["done"]) for t in progress["towns"]] == [(TOWN, 3, 1)]
    assert [(v["code"], v["total"], v["done"]) for v in progress["villages"]] == [
        (VILLAGE, 2, 1),
        (VILLAGE_B, 1, 0),
    ]
    assert [(c["code"], c["state"]) for c in progress["cells"]] == [
        (f"{VILLAGE}001", "done"),
        (f"{VILLAGE}002", "pending"),
        (f"{VILLAGE_B}001", "pending"),
    ]
    later = clock.today() + dt.timedelta(days=11)
    monkeypatch.setattr(clock, "today", lambda: later)
    layer = client.get(
        f"/api/v1/campaigns/{campaign_id}/cells.geojson", headers=bearer(world[official])
    )
    assert layer.status_code == 200
    states = {
        f["properties"]["code"]: f["properties"]["state"] for f in layer.get_json()["features"]
    }
    assert states == {
        f"{VILLAGE}001": "done",
        f"{VILLAGE}002": "overdue",
        f"{VILLAGE_B}001": "overdue",
    }


def test_overdue_tasks_are_told_once_by_the_sweep(client, world, runner, monkeypatch):
    """Past the deadline the sweep tells each pending cell's workers and the launcher once."""
    campaign_id = launched(client, world)
    make_user("gw-west", "grid_worker", VILLAGE_B, [f"{VILLAGE_B}001"])
    record(client, world["grid_worker@village"], task_of(campaign_id, CELL1), result="none")
    later = clock.today() + dt.timedelta(days=11)
    monkeypatch.setattr(clock, "today", lambda: later)
    for _ in range(2):
        result = runner.invoke(args=["cases", "sweep"])
        assert result.exit_code == 0, result.output
    told = db.session.execute(
        select(Notification.user_id, Notification.link).where(
            Notification.event == "campaign_overdue"
        )
    ).all()
    west = db.session.scalar(
        select(CampaignTask.id).where(CampaignTask.region_code.like(f"{VILLAGE_B}%"))
    )
    users = {row.user_id for row in told}
    assert len(told) == 2 and world.user_ids["official@town"] in users
    assert f"/campaign-tasks/{west}" in {row.link for row in told}
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CampaignTask)
            .where(CampaignTask.overdue_notified_at.is_not(None))
        )
        == 2
    )


def test_ledger_has_a_row_per_finding_and_per_cell_not_done(client, world):
    """The ledger (openpyxl reads it back): Chinese headers, findings with their codes, cells
    not done as 未完成, phone numbers in notes masked; closing ends the campaign."""
    official = "official@town"
    campaign_id = launched(client, world)
    task_id = task_of(campaign_id, CELL1)
    record(client, world[WORKER], task_id, result="none", note="联系人 13812345678")
    point = record(client, world[WORKER], task_id, result="risk_point", risk_point=risk_body())
    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/ledger.xlsx", headers=bearer(world[official])
    )
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert list(rows[0]) == [title for title, _ in queries.LEDGER_COLUMNS]
    assert list(rows[0]) == [
        "镇",
        "村",
        "网格",
        "网格员",
        "完成时间",
        "发现",
        "风险点编号",
        "案件编号",
        "备注",
    ]
    data = rows[1:]
    assert [(r[2], r[5]) for r in data] == [
        ("东村第1网格", "未发现问题"),
        ("东村第1网格", "登记风险点"),
        ("东村第2网格", "未完成"),
        ("西村第1网格", "未完成"),
    ]
    assert data[0][3] == world[WORKER].display_name and data[0][8] == "联系人 138****5678"
    assert data[1][6] == point.get_json()["risk_point_code"]
    assert (
        client.get(
            f"/api/v1/campaigns/{campaign_id}/ledger.xlsx", headers=bearer(world[WORKER])
        ).status_code
        == 403
    )

    closed = client.post(
        f"/api/v1/campaigns/{campaign_id}/close",
        json={"version": 1},
        headers=bearer(world[official]),
    )
    assert closed.status_code == 200 and closed.get_json()["state"] == "closed"
    again = client.post(
        f"/api/v1/campaigns/{campaign_id}/close", json={}, headers=bearer(world[official])
    )
    assert again.status_code == 409
    assert record(client, world[WORKER], task_id, result="none").status_code == 409

    county = db.session.scalar(select(Region.id).where(Region.code == "371699000000"))
    today = clock.today()
    assert queries.counts(county, today, today) == {
        "launched": 1,
        "closed": 1,
        "tasks_done": 1,
        "tasks_total": 3,
        "findings": {"none": 1, "risk_point": 1, "case": 0},
    }
