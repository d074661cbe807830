"""Retention (DOMAIN §7): policies per kind, a dry run that writes nothing, de-identification of
ended cases past their policy (statistics kept, audited), agreements archived instead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy import text

from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.cases.models import Party
from app.core import clock
from app.extensions import db
from app.privacy.models import FreeTextOriginal
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import act
from tests.cases.factories import commit
from tests.cases.factories import report
from tests.cases.test_files import upload
from tests.cases.test_workflow import BODIES
from tests.factories import COUNTY
from tests.factories import bearer
from tests.risks.factories import png_bytes


def auth(world, key: str) -> dict:
    """A bearer header for the world's user `key`, loaded afresh (requests end the session)."""
    return bearer(world[key])


def patch(client, user, kind: str, body: dict):
    """PATCH a retention policy as `user`."""
    return client.patch(f"/api/v1/retention-policies/{kind}", json=body, headers=bearer(user))


def test_policies_are_edited_with_their_version_and_never_below_the_law(client, world):
    """Admins list and change the policies: 428 without a version, 409 stale, 422 below six
    months for the audit log (naming the field), and the change audited."""
    admin = "admin@town"
    listed = client.get("/api/v1/retention-policies", headers=auth(world, admin))
    assert listed.status_code == 200
    kinds = {p["kind"]: p for p in listed.get_json()}
    assert kinds["audit_log"]["months"] >= 6 and kinds["dispute"]["months"] == 60
    assert patch(client, world[admin], "dispute", {"months": 24}).status_code == 428
    assert patch(client, world[admin], "dispute", {"months": 24, "version": 9}).status_code == 409
    low = patch(client, world[admin], "audit_log", {"months": 3, "version": 1})
    assert low.status_code == 422 and "months" in low.get_json()["errors"]["json"]
    assert patch(client, world[admin], "nothing", {"months": 3, "version": 1}).status_code == 404
    ok = patch(client, world[admin], "dispute", {"months": 24, "version": 1})
    assert ok.status_code == 200 and ok.get_json()["months"] == 24 and ok.headers["ETag"] == '"2"'
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.policy_update")
    ).one()
    assert entry.detail["before"]["months"] == 60 and entry.detail["after"]["months"] == 24
    assert patch(client, world["official@county"], "dispute", {"months": 24}).status_code == 403


def counts() -> tuple:
    """What a dry run must not change."""
    return (
        db.session.scalar(text("SELECT count(*) FROM audit_log")),
        db.session.scalar(text("SELECT count(*) FROM free_text_originals")),
        db.session.scalar(text("SELECT count(*) FROM parties WHERE name_enc IS NOT NULL")),
        db.session.scalar(text("SELECT count(*) FROM attachments")),
        db.session.scalar(text("SELECT count(*) FROM cases WHERE deidentified_at IS NOT NULL")),
        db.session.scalar(text("SELECT count(*) FROM cases WHERE archived_at IS NOT NULL")),
        db.session.scalar(
            text("SELECT string_agg(coalesce(note, ''), '|' ORDER BY id) FROM case_events")
        ),
    )


def test_retention_run_deidentifies_exactly_the_cases_past_policy(
    client, world, runner, monkeypatch
):
    """Withdrawn dispute A is past its policy: de-identified (parties, free text old and new,
    the timeline's notes, photos) with /api/v1/metrics unchanged; dispute B with an agreement is
    archived, kept whole; open dispute C and petition D (a longer policy) are untouched."""
    worker, mediator = "grid_worker@village", "mediator@village"
    admin, official = "admin@town", "official@county"
    a = report(client, world[worker], description=f"联系电话 {PHONE}").get_json()["number"]
    b = report(client, world[worker]).get_json()["number"]
    c = report(client, world[worker]).get_json()["number"]
    d = report(client, world[worker], "petition").get_json()["number"]
    assert upload(client, a, auth(world, worker), (png_bytes(), "scene.png")).status_code == 201
    for action in ("accept", "start", "resolve", "follow_up", "close"):
        assert act(client, world[mediator], b, action, BODIES[action]).status_code == 200, action
    for number in (a, d):
        done = act(client, world[worker], number, "withdraw", BODIES["withdraw"])
        assert done.status_code == 200, done.get_json()
    assert patch(client, world[admin], "petition", {"months": 120, "version": 1}).status_code == 200
    case_a = db.session.scalar(select(Case).where(Case.number == a))
    a_id = case_a.id
    sha = db.session.scalar(select(Attachment.sha256).where(Attachment.owner_id == a_id))
    assert attachments.path_for(sha).exists()
    # Text written before the detector (or by a bulk path) is still clear: the run masks it too,
    # the timeline's through the migration's privileged function.
    db.session.execute(
        text("UPDATE cases SET outcome_note = :n WHERE id = :id"),
        {"n": f"旧记录 {ID_NUMBER}", "id": a_id},
    )
    db.session.execute(
        text("INSERT INTO case_events (case_id, action, note) VALUES (:id, 'note', :n)"),
        {"n": f"旧备注 {PHONE}", "id": a_id},
    )
    commit()

    later = clock.now() + dt.timedelta(days=61 * 31)
    monkeypatch.setattr(clock, "now", lambda: later)
    period = {"region": COUNTY, "from": clock.today().isoformat(), "to": clock.today().isoformat()}
    metrics_before = client.get(
        "/api/v1/metrics", query_string=period, headers=auth(world, official)
    )
    assert metrics_before.status_code == 200, metrics_before.get_json()

    before = counts()
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "矛盾纠纷：将去标识化 1 件，将归档 1 件" in dry.output and a in dry.output
    assert "信访：将去标识化 0 件" in dry.output and d not in dry.output
    assert counts() == before
    plan = client.get("/api/v1/retention/plan", headers=auth(world, admin)).get_json()["kinds"]
    assert plan["dispute"] == {"deidentify": 1, "archive": 1, "first": [a, b]}

    done = runner.invoke(args=["retention", "run"])
    assert done.exit_code == 0, done.output
    db.session.expire_all()

    # A: no personal data left; what the measures count is the same.
    case_a = db.session.get(Case, a_id)
    assert case_a.deidentified_at is not None and case_a.archived_at is None
    assert case_a.kind == "dispute" and case_a.state == "withdrawn" and case_a.category == "邻里"
    assert case_a.outcome_note == "旧记录 110101********4477"
    assert case_a.description == "联系电话 138****5678"
    parties = db.session.scalars(select(Party).where(Party.case_id == a_id)).all()
    assert parties and all(
        p.name_enc is None
        and p.id_number_enc is None
        and p.phone_enc is None
        and p.name_hash is None
        and p.id_number_hash is None
        and p.phone_hash is None
        for p in parties
    )
    assert {p.name_masked for p in parties} == {"张*", "李*"}
    notes = db.session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == a_id)).all()
    assert "旧备注 138****5678" in notes and all(PHONE not in (n or "") for n in notes)
    assert not db.session.scalars(
        select(FreeTextOriginal).where(FreeTextOriginal.case_id == a_id)
    ).all()
    assert not db.session.scalars(select(Attachment).where(Attachment.owner_id == a_id)).all()
    assert not attachments.path_for(sha).exists()
    metrics_after = client.get(
        "/api/v1/metrics", query_string=period, headers=auth(world, official)
    )
    assert metrics_after.get_json() == metrics_before.get_json()
    party_id = parties[0].id
    reveal = client.post(
        f"/api/v1/cases/{a}/parties/{party_id}/reveal",
        json={"purpose": "contact"},
        headers=auth(world, mediator),
    )
    assert reveal.status_code == 409

    # B: archived whole, out of the list, in the archive view.
    case_b = db.session.scalar(select(Case).where(Case.number == b))
    assert case_b.archived_at is not None and case_b.deidentified_at is None
    kept = db.session.scalars(select(Party.name_enc).where(Party.case_id == case_b.id)).all()
    assert kept and all(kept)
    listed = client.get("/api/v1/cases", headers=auth(world, mediator)).get_json()["items"]
    assert b not in [i["number"] for i in listed] and c in [i["number"] for i in listed]
    archive = client.get("/api/v1/cases?archived=true", headers=auth(world, mediator)).get_json()
    assert [i["number"] for i in archive["items"]] == [b]

    # C and D untouched.
    for number in (c, d):
        row = db.session.scalar(select(Case).where(Case.number == number))
        assert row.deidentified_at is None and row.archived_at is None

    # Audited: one entry per case, one for the run with its counts.
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("retention.%")).order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.object_id) for e in entries if e.object_type == "case"] == [
        ("retention.deidentify", a),
        ("retention.archive", b),
    ]
    run = [e for e in entries if e.action == "retention.run"]
    assert len(run) == 1 and run[0].detail["dispute"]["deidentify"] == 1
    again = runner.invoke(args=["retention", "run"])
    assert "矛盾纠纷：已去标识化 0 件，已归档 0 件" in again.output
