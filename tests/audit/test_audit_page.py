"""审计日志 page (issue 19 "reveal with a purpose"): officials and admins search their
jurisdiction's entries, see each reveal's purpose, and export them (the export is audited)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import report
from tests.factories import bearer
from tests.web.test_pages import signed_in


def test_an_official_finds_a_reveal_with_its_purpose_and_exports_it(client, world):
    created = report(client, world["grid_worker@village"]).get_json()
    party = created["parties"][0]["id"]
    revealed = client.post(
        f"/api/v1/cases/{created['number']}/parties/{party}/reveal",
        json={"purpose": "contact", "reason": "通知调解时间"},
        headers=bearer(world["mediator@village"]),
    )
    assert revealed.status_code == 200
    outside = report(client, world["outsider"], **POINT_OTHER_COUNTY).get_json()["number"]

    signed_in(client, world, "official@town")
    page = client.get(f"/audit?action=cases.reveal&object_id={created['number']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "mediator-village" in html and "通知调解时间" in html and "contact" in html
    assert "张三" not in html  # entries never hold personal data
    families = client.get("/audit?action=cases.").get_data(as_text=True)
    assert created["number"] in families and outside not in families  # scoped to the town
    bad = client.get("/audit?since=2026-12-02&until=2026-12-01")
    assert bad.status_code == 422 and "截止日不能早于起始日" in bad.get_data(as_text=True)

    exported = client.get(f"/audit.csv?action=cases.reveal&object_id={created['number']}")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][2] == "mediator-village" and "contact" in rows[1][-1]
    export = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
    assert export.actor == "official-town" and export.detail["rows"] == 1


def test_a_mediator_has_no_audit_page(client, world):
    signed_in(client, world, "mediator@village")
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403
