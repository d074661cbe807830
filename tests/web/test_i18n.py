"""Translations: the English catalogue is complete and compiled; labels match the domain names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from app.cases import workflow
from app.web import labels

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
