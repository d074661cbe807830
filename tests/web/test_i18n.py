"""Translations: the catalogue is complete and compiled, labels match the domain, pages speak it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from app.cases import workflow
from app.extensions import db
from app.risks.models import RiskPoint
from app.web import labels
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.factories import bearer
from tests.risks.factories import make_point
from tests.web.test_pages import action
from tests.web.test_pages import reported

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "app/translations/en/LC_MESSAGES"


def test_every_message_has_an_english_translation(tmp_path):
    """Every string marked for translation in code and templates is translated in the .po."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.po").open("rb") as f:
        translated = {m.id: m.string for m in read_po(f) if m.id and not m.fuzzy}
    missing = sorted(m for m in wanted if not translated.get(m))
    assert not missing, f"untranslated (see docs/web.md): {missing[:20]}"


def test_compiled_catalogue_matches_the_po_file():
    """The committed .mo is compiled from the current .po (pybabel compile -d app/translations)."""
    with (CATALOGUE / "messages.po").open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.mo").open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert po == mo


def test_labels_agree_with_the_workflow_names(app):
    """The pages' Chinese names are the workflow's; English ones exist for every code."""
    with app.test_request_context():
        for code, name in workflow.STATE_NAMES.items():
            assert str(labels.STATES[code]) == name
        for code, name in workflow.KIND_NAMES.items():
            assert str(labels.KINDS[code]) == name
        for code, name in workflow.LEVEL_NAMES.items():
            assert str(labels.LEVELS[code]) == name
        for code, rule in workflow.WORKFLOW.items():
            assert str(labels.ACTIONS[code]) == rule.name
        for outcomes in workflow.OUTCOMES.values():
            for code, name in outcomes.items():
                assert str(labels.OUTCOMES[code]) == name
        with force_locale("en"):
            assert labels.label("state", "reported") == "Reported"
            assert labels.label("category", "邻里") == "Neighbours"
            assert labels.label("state", "no-such-state") == "no-such-state"


def test_english_pages_show_the_services_messages_in_english(app, client, world):
    """Validation messages of the services and schemas are English on English pages (risk point
    actions, categories, case actions); the API asked without the language cookie stays Chinese."""
    point = make_point(world["grid_worker@village"], level="yellow")
    point_id, code = point.id, point.code
    assert login(client, world["mediator@village"].username).status_code == 302
    client.get("/language/en")
    page = client.get(f"/risk-points/{code}").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(page),
        "version": re.search(r'name="version" value="(\d+)"', page).group(1),
    }
    same = client.post(
        f"/risk-points/{code}/actions/change_level",
        data={**form, "level": "yellow", "reason": "check"},
    )
    assert same.status_code == 422
    text = same.get_data(as_text=True)
    assert (
        "Could not complete “Change the risk level”: the level is unchanged"
        " (New level: it is already Yellow (moderate))" in text
    ), text
    missing = client.post(
        f"/risk-points/{code}/actions/change_level", data={**form, "level": "red"}
    )
    assert "Reason: required" in missing.get_data(as_text=True)

    case = reported(world)
    action(client, case.number, "accept", {"version": "1"})
    resolved = action(
        client, case.number, "resolve", {"version": "2", "outcome": "agreement", "note": "agreed"}
    )
    assert resolved.status_code == 422
    assert "A successful mediation must record the mediation agreement" in resolved.get_data(
        as_text=True
    )
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    assert login(client, world["admin@county"].username).status_code == 302
    page = client.get("/admin/categories").get_data(as_text=True)
    assert "Risk categories" in page
    duplicate = client.post(
        "/admin/categories",
        data={"csrf_token": csrf_from(page), "name": "gas", "subcategories": "pipe, pipe"},
    )
    assert duplicate.status_code == 422
    assert "Sub-categories: sub-categories must not repeat" in duplicate.get_data(as_text=True)

    api = app.test_client()  # no language cookie: the API's answers stay Chinese
    answer = api.post(
        f"/api/v1/risk-points/{point_id}/actions/change_level",
        json={"level": "yellow", "reason": "核对", "version": 1},
        headers=bearer(world["mediator@village"]),
    )
    assert answer.status_code == 422 and answer.get_json()["message"] == "等级未变化"
    db.session.expire_all()
    assert db.session.get(RiskPoint, point_id).level == "yellow"


def test_account_and_holiday_messages_are_english_on_english_pages(client, world):
    """The password page and the holiday page show their services' refusals in English."""
    from tests.factories import PASSWORD

    assert login(client, world["admin@county"].username).status_code == 302
    client.get("/language/en")
    page = client.get("/account/password").get_data(as_text=True)
    short = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_from(page),
            "current_password": PASSWORD,
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert short.status_code == 422
    assert "The password needs at least 10 characters" in short.get_data(as_text=True)
    page = client.get("/admin/holidays").get_data(as_text=True)
    assert "Holiday schedule" in page
    bad = client.post(
        "/admin/holidays",
        data={"csrf_token": csrf_from(page), "year": "2031", "holidays": "2031-02-30"},
    )
    assert bad.status_code == 422
    assert "Days off: 2031-02-30 is not a date" in bad.get_data(as_text=True)
