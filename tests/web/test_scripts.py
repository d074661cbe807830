"""The pages' scripts put data into the page as text, never as HTML (issue 19 item 9)."""

from __future__ import annotations

import re
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "app" / "static" / "js"


def test_map_tooltips_and_popups_get_elements_not_html_strings():
    """Leaflet renders a string tooltip or popup as HTML: a village named <img onerror=...>
    ran in the admin's page. Every call must pass a DOM element built with text content."""
    offenders = []
    for path in sorted(SCRIPTS.glob("*.js")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(r"\.bind(?:Tooltip|Popup)\(([^)]*)", line):
                argument = match.group(1).strip()
                # A DOM element: built here (GG.el) or by a helper that returns one.
                if not re.match(r"(GG\.el\(|div\b|casePopup\(|riskPopup\()", argument):
                    offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
