"""类别设置: risk categories and the inspection schedule edited in the browser, as the API does."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.risks import services as risks
from app.risks.models import InspectionSchedule
from app.risks.models import RiskCategory
from app.risks.models import RiskPoint
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.risks.factories import make_point


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


PAGE = "/admin/categories"


def admin_page(client, world, key: str = "admin@county") -> str:
    """Sign in as an admin and open 类别设置."""
    assert login(client, world[key].username).status_code == 302
    response = client.get(PAGE)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def category(name: str) -> RiskCategory | None:
    """The category with this name, read afresh."""
    db.session.expire_all()
    return db.session.scalar(select(RiskCategory).where(RiskCategory.name == name))


def audited(prefix: str) -> list[AuditEntry]:
    """Audit entries whose action starts with the prefix, oldest first."""
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like(f"{prefix}%")).order_by(AuditEntry.id)
    ).all()


def edit_form(page: str, category_id: int) -> dict:
    """The hidden fields of a category's edit form as the page showed it."""
    form = re.search(rf'action="/admin/categories/{category_id}">(.*?)</form>', page, re.S).group(1)
    return {
        "csrf_token": csrf_from(page),
        "version": re.search(r'name="version" value="(\d+)"', form).group(1),
    }


def test_page_offers_the_forms_and_no_api_hint(client, world):
    """Every risk category has an edit form; there is a create form and the schedule form."""
    page = admin_page(client, world)
    assert "可通过接口" not in page
    ids = db.session.scalars(select(RiskCategory.id)).all()
    for category_id in ids:
        assert f'action="/admin/categories/{category_id}"' in page
    assert 'action="/admin/categories"' in page and 'id="schedule-form"' in page


def test_admin_creates_a_risk_category(client, world):
    """新增: name, sub-categories typed in one box, restricted flag; audited like the API."""
    page = admin_page(client, world)
    response = client.post(
        PAGE,
        data={
            "csrf_token": csrf_from(page),
            "name": "燃气",
            "subcategories": "瓶装液化气、管道燃气，加气站",
            "restricted": "true",
        },
    )
    assert response.status_code == 302
    made = category("燃气")
    assert made.subcategories == ["瓶装液化气", "管道燃气", "加气站"]
    assert made.restricted is True and made.active is True
    entry = audited("risks.category_create")[-1]
    assert entry.object_id == str(made.id) and entry.actor == world["admin@county"].username
    assert "已新增风险类别“燃气”" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_admin_renames_changes_subcategories_and_deactivates(client, world):
    """修改 with the page's version: the changes are saved, and only they are audited."""
    page = admin_page(client, world)
    fire_id = category("消防").id  # requests end the session: keep the id
    response = client.post(
        f"/admin/categories/{fire_id}",
        data={
            **edit_form(page, fire_id),
            "name": "消防安全",
            "subcategories": "电气火灾, 堵塞通道",
        },
    )
    assert response.status_code == 302
    fire = db.session.get(RiskCategory, fire_id)
    assert (fire.name, fire.subcategories, fire.active) == (
        "消防安全",
        ["电气火灾", "堵塞通道"],
        False,  # the active box was not ticked: deactivated in the same step
    )
    entry = audited("risks.category_update")[-1]
    assert entry.detail["before"] == {"name": "消防", "subcategories": [], "active": True}
    assert entry.detail["after"] == {
        "name": "消防安全",
        "subcategories": ["电气火灾", "堵塞通道"],
        "active": False,
    }
    assert "已保存风险类别“消防安全”" in client.get(PAGE).get_data(as_text=True)

    page = client.get(PAGE).get_data(as_text=True)
    reactivated = client.post(
        f"/admin/categories/{fire_id}",
        data={
            **edit_form(page, fire_id),
            "name": "消防安全",
            "subcategories": "电气火灾、堵塞通道",
            "active": "true",
        },
    )
    assert reactivated.status_code == 302
    assert category("消防安全").active is True
    assert "已启用风险类别“消防安全”" in client.get(PAGE).get_data(as_text=True)


def test_deactivated_category_takes_no_new_points(client, world):
    """停用 from the page has the API's effect: registration refuses the category."""
    page = admin_page(client, world)
    flood = category("防汛/地质灾害")
    form = {**edit_form(page, flood.id), "name": flood.name, "subcategories": ""}
    assert client.post(f"/admin/categories/{flood.id}", data=form).status_code == 302
    assert category("防汛/地质灾害").active is False
    try:
        make_point(world["mediator@village"], category="防汛/地质灾害")
    except DomainError as exc:
        assert exc.status == 422 and "category" in exc.errors["json"]
    else:
        raise AssertionError("an inactive category took a new point")


def test_invalid_category_input_writes_nothing_and_names_the_field(client, world):
    """422 with the field and the rule (duplicates, length); 409 for a taken name."""
    page = admin_page(client, world)
    before = db.session.scalar(select(func.count()).select_from(RiskCategory))
    token = csrf_from(page)
    cases = [
        ({"name": "燃气", "subcategories": "管道、管道"}, 422, "细类：子类不能重复"),
        ({"name": "燃" * 21}, 422, "名称：长度应为 1 到 20"),
        ({"name": ""}, 422, "名称："),
        ({"name": "消防"}, 409, "风险类别“消防”已存在"),
    ]
    for form, status, message in cases:
        response = client.post(PAGE, data={"csrf_token": token, **form})
        assert response.status_code == status, form
        text = response.get_data(as_text=True)
        assert message in text, (message, text[:2000])
        assert 'id="create-category" open' in text  # the form re-opened, as typed
    assert db.session.scalar(select(func.count()).select_from(RiskCategory)) == before
    assert audited("risks.category") == []

    fire = category("消防")
    response = client.post(
        f"/admin/categories/{fire.id}",
        data={**edit_form(page, fire.id), "name": "四乱", "active": "true"},
    )
    assert response.status_code == 409
    assert "风险类别“四乱”已存在" in response.get_data(as_text=True)
    assert category("消防") is not None and audited("risks.category") == []


def test_stale_category_edit_is_refused(client, world):
    """Someone else changed the category since the page was shown: 409, nothing saved."""
    page = admin_page(client, world)
    fire = category("消防")
    stale = edit_form(page, fire.id)
    risks.update_category(fire, {"name": "消防隐患"}, world["admin@town"])
    db.session.commit()

    response = client.post(
        f"/admin/categories/{fire.id}",
        data={**stale, "name": "消防", "subcategories": "", "active": "true"},
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "该风险类别已被他人修改，您的修改没有保存" in text
    assert 'value="消防隐患"' in text  # the current name shows, to check before trying again
    assert category("消防隐患") is not None and category("消防") is None
    assert len(audited("risks.category_update")) == 1  # the other admin's change only


def test_schedule_form_changes_periods_and_replans_points(client, world):
    """排查周期: red 7 → 5 days; active red points' next inspection follows; audited."""
    point = make_point(world["grid_worker@village"], level="red")
    point_id = point.id  # requests end the session: keep the id
    registered = clock.local_date(point.registered_at)
    page = admin_page(client, world)
    response = client.post(
        "/admin/categories/schedule",
        data={
            "csrf_token": csrf_from(page),
            **{
                f"was_{k}": v for k, v in {"red": 7, "orange": 14, "yellow": 30, "blue": 90}.items()
            },
            "red": "5",
            "orange": "14",
            "yellow": "30",
            "blue": "90",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(InspectionSchedule, "red").days == 5
    assert db.session.get(RiskPoint, point_id).next_due == registered + dt.timedelta(days=5)
    entries = audited("risks.schedule")
    assert [(e.object_id, e.detail) for e in entries] == [("red", {"before": 7, "after": 5})]
    page = client.get(PAGE).get_data(as_text=True)
    assert "已修改排查周期（红色（重大） 7 → 5 天）" in page


def test_invalid_or_stale_schedule_writes_nothing(client, world):
    """0 days is refused naming the level and the range; a period changed meanwhile is 409."""
    page = admin_page(client, world)
    token = csrf_from(page)
    shown = {"was_red": "7", "was_orange": "14", "was_yellow": "30", "was_blue": "90"}
    same = {"red": "7", "orange": "14", "yellow": "30", "blue": "90"}

    zero = client.post(
        "/admin/categories/schedule", data={"csrf_token": token, **shown, **same, "orange": "0"}
    )
    assert zero.status_code == 422
    assert "橙色（较大）：周期应为 1 到 366 天" in zero.get_data(as_text=True)
    words = client.post(
        "/admin/categories/schedule", data={"csrf_token": token, **shown, **same, "blue": "x"}
    )
    assert words.status_code == 422
    assert "蓝色（低）：应为整数" in words.get_data(as_text=True)

    risks.update_schedule({"yellow": 20}, world["admin@town"])
    db.session.commit()
    stale = client.post(
        "/admin/categories/schedule", data={"csrf_token": token, **shown, **same, "yellow": "25"}
    )
    assert stale.status_code == 409
    assert "排查周期已被他人修改" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert risks.schedule() == {"red": 7, "orange": 14, "yellow": 20, "blue": 90}
    assert len(audited("risks.schedule")) == 1  # the other admin's change only


def test_non_admins_cannot_change_categories_or_the_schedule(client, world):
    """The forms are risks.manage: an official is refused (403) and nothing is written."""
    assert login(client, world["official@county"].username).status_code == 302
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.get(PAGE).status_code == 403
    fire = category("消防")
    posts = [
        (PAGE, {"name": "燃气"}),
        (f"/admin/categories/{fire.id}", {"name": "改名", "version": "0"}),
        ("/admin/categories/schedule", {"was_red": "7", "red": "1"}),
    ]
    for path, form in posts:
        assert client.post(path, data={"csrf_token": token, **form}).status_code == 403
    assert category("燃气") is None and category("消防") is not None
    assert risks.schedule()["red"] == 7
    assert audited("risks.category") == [] and audited("risks.schedule") == []
