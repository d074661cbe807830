"""The pages with the Flask client: status, permission, scope, forms, language, CSP nonces."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.accounts.models import ApiToken
from app.accounts.models import User
from app.audit.models import AuditEntry
from app.cases import services as case_services
from app.cases.models import Case
from app.deadlines.models import DeadlinePolicy
from app.extensions import db
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import POINT
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import case_body
from tests.factories import OTHER_VILLAGE
from tests.geo.factories import VILLAGE


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


PAGES = ["/field", "/report", "/inspections", "/cases", "/map", "/workbench", "/admin/users"]


def reported(world, key: str = "grid_worker@village", **overrides) -> SimpleNamespace:
    """A case reported (and committed) by a user of the world: its number and id."""
    case = case_services.report({**case_body(), **POINT, **overrides}, world[key])
    db.session.commit()
    return SimpleNamespace(number=case.number, id=case.id)


def signed_in(client, world, key: str):
    """Sign the client in as a world user."""
    assert login(client, world[key].username).status_code == 302
    return client


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_pages_send_to_the_login_page(client, path):
    """Every page answers a signed-out visitor with the login page, keeping where they were."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("key", "shown", "hidden"),
    [
        ("grid_worker@village", ["我的网格", "上报", "排查", "事件"], ["工作台", "用户"]),
        ("mediator@village", ["事件", "风险地图", "工作台"], ["我的网格", "用户"]),
        ("official@county", ["事件", "风险地图", "工作台"], ["我的网格", "区划与网格"]),
        (
            "admin@county",
            ["用户", "部门", "区划与网格", "期限规则", "类别设置"],
            ["风险地图", "工作台"],
        ),
    ],
)
def test_navigation_offers_each_role_its_work(client, world, key, shown, hidden):
    """The header links follow the permission policy."""
    html = signed_in(client, world, key).get("/").get_data(as_text=True)
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    for text in shown:
        assert f">{text}</a>" in nav, text
    for text in hidden:
        assert f">{text}</a>" not in nav, text


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("grid_worker@village", False),
        ("mediator@village", False),
        ("official@village", True),
        ("official@county", True),
        ("admin@county", True),
    ],
)
def test_api_docs_tile_only_for_the_roles_that_use_the_api(client, world, key, shown):
    """接口文档 on the home page for officials and admins; grid workers and mediators work in
    the pages and never see it."""
    html = signed_in(client, world, key).get("/").get_data(as_text=True)
    tiles = re.search(r'<ul class="tiles">.*?</ul>', html, re.S).group(0)
    assert ('href="/api/v1/docs"' in tiles) is shown
    assert ("接口文档" in html) is shown


def test_escalating_is_named_apart_from_reporting(client, world):
    """上报 is reporting a case; escalating it is 提级, in the form, the flash and the timeline,
    and "Escalate" in English, while the API action keeps its code `escalate`."""
    case = reported(world)
    signed_in(client, world, "mediator@village")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    summary = re.search(r'id="action-escalate".*?<summary>(.*?)</summary>', page, re.S).group(1)
    assert summary == "提级"
    response = action(client, case.number, "escalate", {"version": "1", "reason": "需镇级协调"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, case.id).level == "town"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已完成“提级”" in page and "已完成“上报”" not in page
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    client.get("/language/en")
    signed_in(client, world, "mediator@town")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    summary = re.search(r'id="action-escalate".*?<summary>(.*?)</summary>', page, re.S).group(1)
    assert summary == "Escalate"


def test_queue_shows_the_cases_at_the_mediators_level_nearest_deadline_first(client, world):
    """A village mediator's queue holds village cases; a town mediator's only town ones."""
    case = reported(world)
    html = signed_in(client, world, "mediator@village").get("/cases").get_data(as_text=True)
    assert case.number in html
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    town = signed_in(client, world, "mediator@town")
    assert case.number not in town.get("/cases").get_data(as_text=True)
    assert case.number in town.get("/cases?level=all").get_data(as_text=True)
    assert town.get("/cases?warning=purple").status_code == 400


def test_case_page_masks_parties_and_offers_the_allowed_actions(client, world):
    """Parties show masked with a 查看 button; exactly the allowed actions have forms."""
    case = reported(world)
    html = signed_in(client, world, "mediator@village").get(f"/cases/{case.number}")
    html = html.get_data(as_text=True)
    assert "张*" in html and "张三" not in html and "110101199003074477" not in html
    assert f"/api/v1/cases/{case.number}/parties/" in html  # the reveal button
    forms = set(re.findall(r'id="action-([a-z_]+)"', html))
    # No 交办 on a village case: there is no level below it. 认领 and 指定承办人 sit beside the
    # handler (cases/_handler.html).
    assert forms == {
        "accept",
        "reject",
        "escalate",
        "withdraw",
        "record_progress",
        "claim",
        "assign_handler",
    }


def test_grid_worker_sees_no_reveal_and_no_handling(client, world):
    """A grid worker's case page has no 查看 button and no acceptance form."""
    case = reported(world)
    html = signed_in(client, world, "grid_worker@village").get(f"/cases/{case.number}")
    html = html.get_data(as_text=True)
    assert "/reveal" not in html
    assert 'id="action-accept"' not in html
    assert 'id="action-withdraw"' in html  # the reporter may withdraw


def test_case_out_of_scope_is_not_found(client, world):
    """Another county's case answers 404, in a page of the product's language."""
    other = reported(world, "outsider", **POINT_OTHER_COUNTY)
    response = signed_in(client, world, "official@county").get(f"/cases/{other.number}")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "页面不存在" in text and other.number not in text


def action(client, number: str, name: str, form: dict):
    """Post an action form from the case page, with its CSRF token."""
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    return client.post(f"/cases/{number}/act/{name}", data={"csrf_token": csrf_from(page), **form})


def test_action_form_takes_the_action_and_says_so(client, world):
    """受理 from its form: the case is accepted and the page says what happened."""
    case = reported(world)
    signed_in(client, world, "mediator@village")
    response = action(client, case.number, "accept", {"version": "1", "note": "受理"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "accepted"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已完成“受理”" in page


def test_a_stale_page_is_told_someone_else_changed_the_case(client, world):
    """A form carrying an old version is refused with a clear message; nothing is lost silently."""
    case = reported(world)
    signed_in(client, world, "mediator@village")
    assert action(client, case.number, "accept", {"version": "1"}).status_code == 302
    stale = action(client, case.number, "reject", {"version": "1", "reason": "重复"})
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "此事件已被他人修改" in text and 'id="stale-alert"' in text
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "accepted"


def test_missing_fields_come_back_on_the_form(client, world):
    """办结 without the agreement: 422, the form reopened with the typed values and the error."""
    case = reported(world)
    signed_in(client, world, "mediator@village")
    action(client, case.number, "accept", {"version": "1"})
    response = action(
        client, case.number, "resolve", {"version": "2", "outcome": "agreement", "note": "协商一致"}
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "调解成功须录入调解协议" in text
    assert "协商一致" in text  # what was typed is still there
    assert re.search(r'<details class="action" id="action-resolve" open>', text)


def test_language_switch_gives_complete_english(client, world):
    """The switch sets a cookie; pages then speak English, error pages included."""
    signed_in(client, world, "mediator@village")
    response = client.get("/language/en?next=/cases")
    assert response.status_code == 302 and response.headers["Location"] == "/cases"
    html = client.get("/cases").get_data(as_text=True)
    assert '<html lang="en">' in html and "Case queue" in html and "事件队列" not in html
    assert "Page not found" in client.get("/cases/nope").get_data(as_text=True)
    client.get("/language/zh")
    assert "事件队列" in client.get("/cases").get_data(as_text=True)


def test_language_switch_never_redirects_off_site(client):
    """`next` is followed only within the site."""
    response = client.get("/language/en?next=//evil.example/")
    assert response.headers["Location"] == "/"


def test_workbench_shows_measures_and_refuses_regions_out_of_scope(client, world):
    """The 工作台 of a village in scope; another county's village is 404."""
    reported(world)
    signed_in(client, world, "official@county")
    html = client.get(f"/workbench?region={VILLAGE}").get_data(as_text=True)
    assert "小事不出村率" in html and "<svg" in html and "export.xlsx" in html
    assert client.get(f"/workbench?region={OTHER_VILLAGE}").status_code == 404
    assert client.get("/workbench?from=2026-05-01&to=2026-01-01").status_code == 400


def test_map_pages_use_local_assets_and_nonced_scripts(client, world):
    """Every script is local or carries this response's CSP nonce; folium's parts are embedded."""
    signed_in(client, world, "official@county")
    for path in ("/map", "/report", "/field", "/cases"):
        response = client.get(path)
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
        html = response.get_data(as_text=True)
        if path != "/cases":
            assert "/static/vendor/leaflet/leaflet.js" in html
            assert "L.map(" in html and "GridGovMaps" in html and "iframe" not in html
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or f'nonce="{nonce}"' in tag or "application/json" in tag
        assert not re.search(r"""(src|href)=["']https?://""", html)


def test_tiles_are_configuration(app, client, world, monkeypatch):
    """TILE_URL=none gives a map without tiles; a URL gives that tile layer and its attribution."""
    signed_in(client, world, "grid_worker@village")
    monkeypatch.setitem(app.config, "BASEMAP", "custom")  # TILE_URL alone, as before BASEMAP
    monkeypatch.setitem(app.config, "TILE_URL", "none")
    assert "L.tileLayer" not in client.get("/report").get_data(as_text=True)
    monkeypatch.setitem(app.config, "TILE_URL", "https://tiles.example/{z}/{x}/{y}.png")
    html = client.get("/report").get_data(as_text=True)
    assert "L.tileLayer" in html and "https://tiles.example/{z}/{x}/{y}.png" in html


def test_grid_worker_home_lists_follow_ups_due(client, world):
    """A resolved case in the worker's cell is on their 待回访 list."""
    made = reported(world)
    case, mediator = db.session.get(Case, made.id), world["mediator@village"]
    case_services.act(case, mediator, "accept", {}, 1)
    case_services.act(case, mediator, "resolve", {"outcome": "referred", "note": "转司法所"}, 2)
    db.session.commit()
    html = signed_in(client, world, "grid_worker@village").get("/field").get_data(as_text=True)
    todo = html[html.index("待回访") :]
    assert made.number in todo


def test_admin_creates_a_user_but_no_token_for_them(client, world):
    """用户: create; the user's page lists tokens to revoke, with no form to make one."""
    page = signed_in(client, world, "admin@county").get("/admin/users").get_data(as_text=True)
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf_from(page),
            "username": "new-mediator",
            "password": "long-enough-pw",
            "role": "mediator",
            "region": VILLAGE,
            "display_name": "新调解员",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "new-mediator"))
    assert user is not None and user.role == "mediator"
    user_id = user.id  # the requests' sessions end: the id outlives them
    page = client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert f'/admin/users/{user_id}/tokens"' not in page and "只能由本人" in page
    created = client.post(
        f"/admin/users/{user_id}/tokens", data={"csrf_token": csrf_from(page), "name": "手机"}
    )
    assert created.status_code in (404, 405)
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user_id)) is None


def test_admin_out_of_scope_user_is_not_found(client, world):
    """A user of another county is 404 for a county admin, like one that does not exist."""
    signed_in(client, world, "admin@town")
    assert client.get(f"/admin/users/{world['outsider'].id}").status_code == 404


def test_deadline_form_changes_the_policy_and_audits(client, world):
    """期限规则: a new length is saved and audited."""
    page = signed_in(client, world, "admin@county").get("/admin/deadlines").get_data(as_text=True)
    policy_id = db.session.scalars(select(DeadlinePolicy.id).order_by(DeadlinePolicy.id)).first()
    response = client.post(
        f"/admin/deadlines/{policy_id}",
        data={"csrf_token": csrf_from(page), "days": "9", "unit": "working_days"},
    )
    assert response.status_code == 302
    policy = db.session.get(DeadlinePolicy, policy_id)
    assert (policy.days, policy.unit) == (9, "working_days")
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "deadlines.update"))


def test_geojson_import_page_says_what_the_command_line_says(client, runner, world, tmp_path):
    """A bad file: the page lists exactly the problems `flask geo import` prints."""
    bad = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "37169910120X", "name": "坏村"},
                "geometry": {"type": "Polygon", "coordinates": [[[118, 37], [118.1, 37]]]},
            }
        ],
    }
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(bad), encoding="utf-8")
    cli = runner.invoke(args=["geo", "import", str(path), "--level", "village"])
    expected = [
        line.strip()[2:] for line in cli.output.splitlines() if line.strip().startswith("- ")
    ]
    assert expected

    page = signed_in(client, world, "admin@county").get("/admin/regions").get_data(as_text=True)
    response = client.post(
        "/admin/regions/import",
        data={
            "csrf_token": csrf_from(page),
            "level": "village",
            "crs": "wgs84",
            "file": (io.BytesIO(json.dumps(bad).encode()), "bad.geojson"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    shown = client.get("/admin/regions").get_data(as_text=True)
    assert "导入失败，未写入任何数据" in shown
    for problem in expected:
        assert problem.replace("'", "&#39;").replace('"', "&#34;") in shown or problem in shown


def test_risk_point_page_and_inspections_list(client, world):
    """排查 lists a red point (inspected every 7 days); its page shows measures and a form."""
    from tests.risks.factories import register

    created = register(client, world["grid_worker@village"], level="red")
    assert created.status_code == 201, created.get_json()
    point = created.get_json()
    signed_in(client, world, "grid_worker@village")
    listing = client.get("/inspections").get_data(as_text=True)
    assert point["code"] in listing
    page = client.get(f"/risk-points/{point['code']}").get_data(as_text=True)
    assert "每周检查一次电气线路" in page and 'class="inspect-form"' in page
    assert client.get(f"/risk-points/{point['id']}").status_code == 200
    assert client.get("/risk-points/371699-FX-NOPE").status_code == 404
