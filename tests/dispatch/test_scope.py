"""Department staff see only the cases dispatched to their unit (app/scoping.py, §8)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import User
from app.cases import queries
from app.cases.models import Case
from app.core import clock
from app.core.errors import Invalid
from app.dispatch.models import Dispatch
from app.extensions import db
from app.notify import services as notify
from app.notify.models import Notification
from tests.cases.factories import report
from tests.factories import bearer
from tests.factories import make_department
from tests.factories import make_staff
from tests.geo.factories import TOWN


def _report(client, world) -> str:
    response = report(client, world["grid_worker@village"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def test_department_staff_see_only_dispatched_cases(client, world):
    unit = make_department("t-labour", TOWN)
    other = make_department("t-police", TOWN, kind="police", categories=("治安",))
    unit_id = unit.id
    staff = make_staff("staff-labour", unit)
    outsider = make_staff("staff-police", other)
    staff_id, outsider_id = staff.id, outsider.id
    staff, outsider = bearer(staff), bearer(outsider)
    number = _report(client, world)
    assert client.get(f"/api/v1/cases/{number}", headers=staff).status_code == 404
    case = db.session.scalar(select(Case).where(Case.number == number))
    case_id, town_id = case.id, case.town_id
    db.session.add(
        Dispatch(
            case_id=case_id,
            department_id=unit_id,
            role="lead",
            centre_region_id=town_id,
            centre_level="town",
            dispatched_by_id=world.user_ids["official@town"],
            dispatched_at=clock.now(),
            sign_due=dt.date(2026, 12, 2),
        )
    )
    db.session.commit()
    assert client.get(f"/api/v1/cases/{number}", headers=staff).status_code == 200
    assert client.get(f"/api/v1/cases/{number}", headers=outsider).status_code == 404
    listed = client.get("/api/v1/cases", headers=staff).get_json()
    assert [c["number"] for c in listed["items"]] == [number]
    assert client.get("/api/v1/cases", headers=outsider).get_json()["items"] == []
    # Region-scoped reads show department staff nothing.
    assert queries.case_visible(case_id, db.session.get(User, staff_id))
    assert not queries.case_visible(case_id, db.session.get(User, outsider_id))


def test_department_staff_must_name_their_unit(world):
    with pytest.raises(Invalid) as refused:
        accounts.create_user("nobody-unit", "correct-horse-1", "department_staff", TOWN)
    assert "department" in refused.value.errors["json"]


def test_emit_writes_in_the_transaction_and_dedups(world):
    user = world["mediator@town"]
    first = notify.emit("due_soon", [user], title="t", dedup_key="k1")
    again = notify.emit("due_soon", [user, user.id], title="t", dedup_key="k1")
    assert len(first) == 1 and again == []
    assert notify.emit("due_soon", [user], title="t", exclude=user) == []
    assert notify.unread_count(user.id) == 1
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(Notification)) == 0
