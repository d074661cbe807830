"""The risk point page's actions (调整等级, 申请消除, 审批消除) as forms carrying its version."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.risks import services as risks
from app.risks.models import RiskEvent
from app.risks.models import RiskPoint
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.risks.factories import POINT_OTHER_COUNTY
from tests.risks.factories import make_point


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def signed_in(client, world, key: str):
    """Sign the client in as a world user."""
    assert login(client, world[key].username).status_code == 302
    return client


def forms_on(page: str) -> set[str]:
    """The action forms a risk point page offers."""
    return set(re.findall(r'<details class="action" id="action-([a-z_]+)"', page))


def act(client, point: SimpleNamespace, action: str, form: dict, page: str | None = None):
    """Post an action form with the CSRF token and version of the page (as shown now, or given)."""
    page = page or client.get(f"/risk-points/{point.code}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    return client.post(
        f"/risk-points/{point.code}/actions/{action}",
        data={"csrf_token": csrf_from(page), "version": version, **form},
    )


def made(user, **overrides) -> SimpleNamespace:
    """A risk point registered (and committed) by `user`: its id and code.

    Each request ends the session, so tests keep plain values, not the row.
    """
    point = make_point(user, **overrides)
    return SimpleNamespace(id=point.id, code=point.code)


def fresh(point_id: int) -> RiskPoint:
    """The point as the database holds it now."""
    db.session.expire_all()
    return db.session.get(RiskPoint, point_id)


@pytest.mark.parametrize(
    ("key", "offered"),
    [
        ("grid_worker@village", {"change_level", "request_clear"}),
        ("mediator@village", {"change_level", "request_clear"}),
        ("official@village", {"change_level", "request_clear", "approve_clear"}),
    ],
)
def test_forms_follow_the_policy(client, world, key, offered):
    """Each role sees exactly the actions the policy allows it on this point now."""
    point = made(world["grid_worker@village"])
    page = signed_in(client, world, key).get(f"/risk-points/{point.code}").get_data(as_text=True)
    assert forms_on(page) == offered
    assert 'name="version"' in page


def test_forms_follow_the_points_state(client, world):
    """A pending request hides 申请消除; a village request is decided by its official; a cleared
    point offers nothing."""
    point = made(world["grid_worker@village"])
    risks.request_clear(fresh(point.id), world["mediator@town"], "隐患已整改")
    db.session.commit()
    worker = signed_in(client, world, "grid_worker@village")
    page = worker.get(f"/risk-points/{point.code}").get_data(as_text=True)
    assert forms_on(page) == {"change_level"} and 'id="clear-request"' in page
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    # A town mediator's request needs a town official or higher: a village one gets no form.
    village = signed_in(client, world, "official@village")
    page = village.get(f"/risk-points/{point.code}").get_data(as_text=True)
    assert "approve_clear" not in forms_on(page)
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    risks.approve_clear(fresh(point.id), world["official@town"], True, "已核实")
    db.session.commit()
    page = signed_in(client, world, "official@town").get(f"/risk-points/{point.code}")
    assert forms_on(page.get_data(as_text=True)) == set()


def test_change_level_from_the_page(client, world):
    """调整等级 with a reason: saved, in the history, re-planned, audited, and said."""
    point = made(world["grid_worker@village"], level="yellow")
    signed_in(client, world, "mediator@village")
    response = act(client, point, "change_level", {"level": "red", "reason": "汛期临近"})
    assert response.status_code == 302
    changed = fresh(point.id)
    assert changed.level == "red"
    assert changed.next_due == risks.due_after(changed)
    event = changed.events[-1]
    assert (event.action, event.from_level, event.to_level, event.reason) == (
        "change_level",
        "yellow",
        "red",
        "汛期临近",
    )
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "risks.change_level")).actor
        == world["mediator@village"].username
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"已完成“调整等级”：风险点 {point.code}" in page


def test_request_then_approve_clear_from_the_page(client, world):
    """A grid worker asks with a reason; the village official approves: 已消除."""
    point = made(world["grid_worker@village"])
    worker = signed_in(client, world, "grid_worker@village")
    asked = act(worker, point, "request_clear", {"reason": "隐患已整改"})
    assert asked.status_code == 302
    assert fresh(point.id).clear_requested_by_id == world["grid_worker@village"].id
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "已完成“申请消除”" in page
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    official = signed_in(client, world, "official@village")
    page = official.get(f"/risk-points/{point.code}").get_data(as_text=True)
    assert 'name="approved" value="false"' in page  # a request: approve or refuse
    approved = act(official, point, "approve_clear", {"approved": "true", "reason": "现场核实"})
    assert approved.status_code == 302
    cleared = fresh(point.id)
    assert cleared.status == "cleared" and cleared.next_due is None
    assert [e.action for e in cleared.events][-2:] == ["request_clear", "approve_clear"]
    assert "已完成“批准消除”" in client.get(approved.headers["Location"]).get_data(as_text=True)


def test_refuse_and_direct_clear_from_the_page(client, world):
    """不批准 keeps the point under control; without a request an official clears directly."""
    point = made(world["grid_worker@village"])
    risks.request_clear(fresh(point.id), world["grid_worker@village"], "已整改")
    db.session.commit()
    official = signed_in(client, world, "official@village")
    refused = act(official, point, "approve_clear", {"approved": "false", "reason": "仍有隐患"})
    assert refused.status_code == 302
    kept = fresh(point.id)
    assert kept.status == "active" and kept.clear_requested_at is None
    assert kept.events[-1].action == "refuse_clear"
    assert "已完成“不批准消除”" in client.get(refused.headers["Location"]).get_data(as_text=True)

    page = official.get(f"/risk-points/{point.code}").get_data(as_text=True)
    assert "直接消除" in page and 'name="approved" value="true"' in page
    cleared = act(official, point, "approve_clear", {"approved": "true", "reason": "已拆除"}, page)
    assert cleared.status_code == 302
    assert fresh(point.id).status == "cleared" and fresh(point.id).events[-1].action == "clear"


def test_stale_page_is_told_someone_else_changed_the_point(client, world):
    """A form carrying an old version: 409, the current point shown, nothing saved."""
    point = made(world["grid_worker@village"], level="yellow")
    signed_in(client, world, "mediator@village")
    old_page = client.get(f"/risk-points/{point.code}").get_data(as_text=True)
    risks.change_level(fresh(point.id), world["official@village"], "orange", "他人先改")
    db.session.commit()
    events_before = len(fresh(point.id).events)

    stale = act(client, point, "change_level", {"level": "red", "reason": "我的修改"}, old_page)
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "该风险点已被他人修改，您的操作没有保存" in text
    assert "橙色（较大）" in text  # the current level, to check before trying again
    kept = fresh(point.id)
    assert kept.level == "orange" and len(kept.events) == events_before
    stale_request = act(client, point, "request_clear", {"reason": "已整改"}, old_page)
    assert stale_request.status_code == 409
    assert fresh(point.id).clear_requested_at is None


def test_bad_input_comes_back_with_the_field_and_nothing_saved(client, world):
    """No reason: 422 naming 理由; the same level: the service's 422; the form re-opened."""
    point = made(world["grid_worker@village"], level="yellow")
    signed_in(client, world, "mediator@village")
    no_reason = act(client, point, "change_level", {"level": "red", "reason": "  "})
    assert no_reason.status_code == 422
    text = no_reason.get_data(as_text=True)
    assert "未能完成“调整风险等级”：理由：必填" in text
    assert '<details class="action" id="action-change_level" open>' in text
    same = act(client, point, "change_level", {"level": "yellow", "reason": "核对"})
    assert same.status_code == 422
    assert "等级未变化（新等级：当前已是黄色（一般））" in same.get_data(as_text=True)
    assert "核对" in same.get_data(as_text=True)  # what was typed is still there
    unchanged = fresh(point.id)
    assert unchanged.level == "yellow" and [e.action for e in unchanged.events] == ["register"]


def test_actions_not_allowed_are_refused(client, world):
    """A grid worker cannot approve (403); a point of another county is 404; nothing changes."""
    point = made(world["grid_worker@village"])
    signed_in(client, world, "grid_worker@village")
    page = client.get(f"/risk-points/{point.code}").get_data(as_text=True)
    denied = act(client, point, "approve_clear", {"approved": "true", "reason": "x"}, page)
    assert denied.status_code == 403
    assert fresh(point.id).status == "active"

    other = made(world["outsider"], geometry=POINT_OTHER_COUNTY)
    response = client.post(
        f"/risk-points/{other.code}/actions/change_level",
        data={"csrf_token": csrf_from(page), "version": "1", "level": "red", "reason": "x"},
    )
    assert response.status_code == 404
    assert fresh(other.id).level == "yellow"
    assert (
        db.session.scalar(
            select(RiskEvent.id).where(
                RiskEvent.risk_point_id == other.id, RiskEvent.action != "register"
            )
        )
        is None
    )
