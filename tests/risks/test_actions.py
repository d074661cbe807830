"""The risk point actions table (app/risks/actions.py): versions, the runner, docs, layering."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.audit.models import AuditEntry
from app.extensions import db
from app.risks import actions
from app.risks.models import RiskCategory
from app.risks.models import RiskEvent
from app.risks.models import RiskPoint
from tests.cases.factories import report
from tests.factories import bearer
from tests.risks.factories import make_point
from tests.risks.factories import risk_body

ROOT = Path(__file__).resolve().parents[2]


def url(point_id: int, action: str) -> str:
    """The API path of an action."""
    return f"/api/v1/risk-points/{point_id}/actions/{action}"


def history(point_id: int) -> list[str]:
    """The point's history, as the database holds it now."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(RiskEvent.action)
            .where(RiskEvent.risk_point_id == point_id)
            .order_by(RiskEvent.id)
        )
    )


def test_answers_carry_the_version_as_etag(client, world):
    """Registration, detail and each action answer the version in the body and the ETag."""
    headers = bearer(world["mediator@village"])
    created = client.post("/api/v1/risk-points", json=risk_body(), headers=headers)
    assert created.status_code == 201
    assert created.headers["ETag"] == '"1"' and created.get_json()["version"] == 1
    point_id = created.get_json()["id"]
    shown = client.get(f"/api/v1/risk-points/{point_id}", headers=headers)
    assert shown.headers["ETag"] == '"1"'
    changed = client.post(
        url(point_id, "change_level"),
        json={"level": "red", "reason": "汛期临近"},
        headers={**headers, "If-Match": shown.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] == '"2"' and changed.get_json()["version"] == 2
    assert db.session.get(RiskPoint, point_id).version == 2
    asked = client.post(
        url(point_id, "request_clear"), json={"reason": "已整改", "version": 2}, headers=headers
    )
    assert asked.status_code == 200 and asked.headers["ETag"] == '"3"'
    assert history(point_id) == ["register", "change_level", "request_clear"]


def test_missing_version_is_428_and_nothing_written(client, world):
    """An action without If-Match or `version`: 428 (docs/risks.md, "Versions"), before the
    body is even read; nothing is written, no audit entry."""
    point_id = make_point(world["grid_worker@village"]).id
    headers = bearer(world["mediator@village"])
    for body in ({"level": "red", "reason": "汛期临近"}, {}):
        response = client.post(url(point_id, "change_level"), json=body, headers=headers)
        assert response.status_code == 428, response.get_json()
        assert response.get_json()["status"] == "Precondition Required"
    assert history(point_id) == ["register"]
    assert db.session.get(RiskPoint, point_id).level == "yellow"
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "risks.change_level"))
        is None
    )


def test_stale_or_malformed_version(client, world):
    """A version that is not current: 409 with yours/current, nothing written; a malformed
    If-Match: 400."""
    point_id = make_point(world["grid_worker@village"]).id
    headers = bearer(world["official@village"])
    first = client.post(
        url(point_id, "change_level"),
        json={"level": "red", "reason": "先改", "version": 1},
        headers=headers,
    )
    assert first.status_code == 200
    stale = client.post(
        url(point_id, "approve_clear"),
        json={"approved": True, "reason": "已消除"},
        headers={**headers, "If-Match": 'W/"1"'},
    )
    assert stale.status_code == 409
    assert stale.get_json()["errors"]["version"] == {"yours": 1, "current": 2}
    assert stale.get_json()["message"] == "该风险点已被他人修改，您的操作没有保存"
    bad = client.post(
        url(point_id, "approve_clear"),
        json={"approved": True, "reason": "已消除"},
        headers={**headers, "If-Match": "latest"},
    )
    assert bad.status_code == 400
    point = db.session.get(RiskPoint, point_id)
    assert (point.status, point.version) == ("active", 2)
    assert history(point_id) == ["register", "change_level"]


def test_the_version_is_checked_before_the_state(client, world):
    """A cleared point answers 409 for its state once the version is right; the body's errors
    (422) come after both."""
    point_id = make_point(world["grid_worker@village"]).id
    headers = bearer(world["official@village"])
    cleared = client.post(
        url(point_id, "approve_clear"),
        json={"approved": True, "reason": "已拆除", "version": 1},
        headers=headers,
    )
    assert cleared.status_code == 200 and cleared.get_json()["status"] == "cleared"
    again = client.post(url(point_id, "change_level"), json={"version": 2}, headers=headers)
    assert again.status_code == 409 and "已消除" in again.get_json()["message"]
    other = make_point(world["grid_worker@village"]).id
    empty = client.post(url(other, "change_level"), json={"version": 1}, headers=headers)
    assert empty.status_code == 422
    assert set(empty.get_json()["errors"]["json"]) == {"level", "reason"}


def test_inspection_version_is_optional_but_checked(client, world):
    """An inspection adds a row: without a version it is recorded; with a stale one, 409."""
    point_id = make_point(world["grid_worker@village"]).id
    headers = bearer(world["grid_worker@village"])
    path = f"/api/v1/risk-points/{point_id}/inspections"
    done = client.post(path, json={"result": "normal"}, headers=headers)
    assert done.status_code == 201, done.get_json()
    stale = client.post(path, json={"result": "normal", "version": 1}, headers=headers)
    assert stale.status_code == 409
    assert db.session.scalar(text("SELECT count(*) FROM inspections")) == 1


def test_category_update_takes_the_version(client, world):
    """PUT /risk-categories/<id>: 428 without a version, 409 with a stale one, 200 + ETag."""
    admin = bearer(world["admin@county"])
    fire_id = db.session.scalar(select(RiskCategory.id).where(RiskCategory.name == "消防"))
    path = f"/api/v1/risk-categories/{fire_id}"
    assert client.put(path, json={"sort_order": 3}, headers=admin).status_code == 428
    saved = client.put(path, json={"sort_order": 3}, headers={**admin, "If-Match": '"1"'})
    assert saved.status_code == 200 and saved.headers["ETag"] == '"2"'
    stale = client.put(path, json={"sort_order": 4, "version": 1}, headers=admin)
    assert stale.status_code == 409
    assert stale.get_json()["errors"]["version"] == {"yours": 1, "current": 2}
    db.session.expire_all()
    fire = db.session.get(RiskCategory, fire_id)
    assert (fire.sort_order, fire.version) == (3, 2)


def test_two_concurrent_actions_at_one_version_one_wins(scratch_world):
    """Two simultaneous change_level at version 1, really committed: one 200, one 409, one
    history entry, version 2."""
    app, headers = scratch_world
    created = app.test_client().post("/api/v1/risk-points", json=risk_body(), headers=headers)
    assert created.status_code == 201, created.get_json()
    point_id = created.get_json()["id"]
    barrier = threading.Barrier(2)
    statuses = []

    def change(level: str) -> None:
        client = app.test_client()
        barrier.wait(10)
        response = client.post(
            url(point_id, "change_level"),
            json={"level": level, "reason": "同时调整", "version": 1},
            headers=headers,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=change, args=(level,)) for level in ("red", "orange")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200, 409]
    with app.app_context():
        changes = db.session.scalar(
            select(func.count())
            .select_from(RiskEvent)
            .where(RiskEvent.risk_point_id == point_id, RiskEvent.action == "change_level")
        )
        version = db.session.scalar(select(RiskPoint.version).where(RiskPoint.id == point_id))
        db.session.remove()
    assert (changes, version) == (1, 2)


def test_the_table_drives_the_allowed_actions(client, world):
    """allowed_actions is the table's rows the role's policy allows in the point's state."""
    point_id = make_point(world["grid_worker@village"]).id
    for key, expected in (
        ("grid_worker@village", ["change_level", "request_clear", "inspect"]),
        ("official@village", ["change_level", "request_clear", "approve_clear", "inspect"]),
    ):
        body = client.get(f"/api/v1/risk-points/{point_id}", headers=bearer(world[key]))
        assert body.get_json()["allowed_actions"] == expected
    assert list(actions.ACTIONS) == ["change_level", "request_clear", "approve_clear", "inspect"]


def test_docs_hold_the_generated_table(app):
    """docs/risks.md holds the table generated from ACTIONS."""
    with open(ROOT / "docs" / "risks.md", encoding="utf-8") as f:
        assert actions.markdown() in f.read(), "run: flask --app wsgi risks docs"


def imported(path: Path) -> set[str]:
    """The modules a source file imports (at any depth)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_layering():
    """The pages never import the API; the read side never imports app.cases (the cases
    package imports app.risks.queries.get_visible)."""
    field = imported(ROOT / "app" / "web" / "field.py")
    assert not {n for n in field if n.startswith("app.risks.api")}
    queries = imported(ROOT / "app" / "risks" / "queries.py")
    assert not {n for n in queries if n.startswith("app.cases")}
    api = imported(ROOT / "app" / "risks" / "api.py")
    assert not {n for n in api if n.startswith("app.web")}


def test_json_types_are_not_guessed(client, world):
    """ "version": "1" was answered 409 (never equal to 1) and "open_case": "yes" taken as true
    (issue 19 item 6): both are a 422 naming the field, and nothing is written."""
    point_id = make_point(world["grid_worker@village"]).id
    headers = bearer(world["grid_worker@village"])
    path = f"/api/v1/risk-points/{point_id}/inspections"
    for body, field in [
        ({"result": "normal", "version": "1"}, "version"),
        ({"result": "normal", "version": True}, "version"),
        ({"result": "abnormal", "open_case": "yes", "kind": "incident"}, "open_case"),
    ]:
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.get_json()
        assert field in refused.get_json()["errors"]["json"], refused.get_json()
    assert db.session.scalar(text("SELECT count(*) FROM inspections")) == 0
    # The case workflow's version is checked the same way.
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    mediator = bearer(world["mediator@village"])
    accept = client.post(
        f"/api/v1/cases/{number}/actions/accept", json={"version": "1"}, headers=mediator
    )
    assert accept.status_code == 422 and "version" in accept.get_json()["errors"]["json"]
    assert db.session.scalar(text("SELECT state FROM cases")) == "reported"
    # A form's digits are still a version (multipart: every value is text).
    form = client.post(
        path,
        data={"result": "normal", "version": "1"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert form.status_code == 201, form.get_json()
