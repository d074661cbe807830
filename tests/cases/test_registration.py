"""A new case's statement (app/cases/registration.py): the number taken last, rows as written."""

import json
import threading

import pytest
from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.audit import services as audit_services
from app.cases import schemas
from app.cases import services
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.cases.models import Party
from app.extensions import db
from app.privacy.models import FreeTextOriginal
from app.resident import receipts
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import case_body
from tests.cases.factories import report
from tests.factories import bearer
from tests.factories import statements


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def test_the_number_is_taken_in_the_last_statement_before_the_commit(client, world):
    """The serial's row lock is held from the statement that takes the number to the commit: a
    report sends nothing between them (the receipt and the audit entry are written by that
    statement), and the warning scan's job is queued before it, with an id drawn from the
    sequence. (Without parties: an applicant's mobile adds the receipt's text message and the
    answer's repeat counts.) The entry the statement appended keeps the chain whole."""
    with statements() as sent:
        response = report(client, world["grid_worker@village"], parties=[])
    assert response.status_code == 201, response.get_json()
    taking = [i for i, s in enumerate(sent) if "INSERT INTO case_counters" in s]
    assert len(taking) == 1, sent
    assert sent[taking[0] + 1 :] == [], sent[taking[0] + 1 :]
    assert "INSERT INTO receipts" in sent[taking[0]] and "audit_append" in sent[taking[0]]
    before = sent[: taking[0]]
    assert any("nextval('cases_id_seq')" in s for s in before), before
    assert any("procrastinate_defer_jobs" in s for s in before), before
    number = response.get_json()["number"]
    case = db.session.scalar(select(Case).where(Case.number == number))
    job = db.session.execute(
        text(
            "SELECT args FROM procrastinate_jobs WHERE task_name = 'warnings.scan_case' "
            "ORDER BY id DESC LIMIT 1"
        )
    ).scalar_one()
    assert job == {"case_id": case.id}
    audit = db.session.execute(
        text("SELECT action, object_id FROM audit_log ORDER BY id DESC LIMIT 1")
    ).one()
    assert tuple(audit) == ("cases.report", number)
    receipt = db.session.execute(
        text("SELECT number, case_id, issued_by_id FROM receipts WHERE case_id = :id"),
        {"id": case.id},
    ).one()
    assert tuple(receipt) == (number, case.id, world.user_ids["grid_worker@village"])
    code = response.get_json()["receipt"]["code"]
    assert receipts.find(number, code).case_id == case.id
    assert receipts.find(number, code[::-1]) is None
    assert audit_services.verify().ok


def test_parties_and_free_text_are_written_as_the_orm_would(client, world):
    """Three parties in their order, masked and hashed; a phone in the title stored masked with
    its clear text kept encrypted; the answer is CaseOut over the case read afresh."""
    parties = [
        {"role": "applicant", "name": "张三", "id_number": ID_NUMBER, "phone": PHONE},
        {"role": "respondent", "name": "李四"},
        {"role": "third_party", "name": "王五", "address": "东村三组12号"},
    ]
    title = f"张三 {PHONE} 漏水"
    user = world["grid_worker@village"]
    response = report(client, user, parties=parties, title=title)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert [p["role"] for p in body["parties"]] == ["applicant", "respondent", "third_party"]
    assert body["parties"][0]["phone"] == PHONE[:3] + "****" + PHONE[-4:]
    assert PHONE not in body["title"]
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.number == body["number"]))
    stored = db.session.scalars(select(Party).where(Party.case_id == case.id).order_by(Party.id))
    assert [p.name_masked for p in stored] == ["张*", "李*", "王*"]
    assert case.title == body["title"] and PHONE not in case.title
    kept = db.session.scalars(
        select(FreeTextOriginal).where(
            FreeTextOriginal.table_name == "cases", FreeTextOriginal.row_id == case.id
        )
    ).all()
    assert [k.field for k in kept] == ["title"]
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(e.action, e.actor_id) for e in events] == [("report", user.id)]
    fresh = client.get(f"/api/v1/cases/{body['number']}", headers=bearer(user)).get_json()
    assert {k: v for k, v in body.items() if k != "receipt"} == fresh


def test_a_seventh_digit_is_kept(client, world):
    """The serial past 999999 is written whole (registration.number_sql), never cut."""
    db.session.execute(
        text(
            "INSERT INTO case_counters (county_code, year, last) VALUES ('371699', "
            "extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int, 999999) "
            "ON CONFLICT (county_code, year) DO UPDATE SET last = 999999"
        )
    )
    response = report(client, world["grid_worker@village"])
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["number"]
    assert number.endswith("-1000000")
    assert receipts.find(number, response.get_json()["receipt"]["code"]) is not None


def test_kept_entries_queued_first_wait_for_the_commit_and_get_the_number(app, world):
    """A kept audit entry already queued (a refusal earlier in the transaction) must outlive a
    rollback, so the number's statement appends nothing: the report's entry waits for the
    commit with it, its object id the number drawn, and the chain stays whole."""
    user = db.session.get(User, world.user_ids["grid_worker@village"])
    data = schemas.CaseIn().load(case_body(parties=[]))
    data.pop("crs", None)
    with app.test_request_context():
        audit_services.record("auth.denied", actor=False, outcome="denied", keep=True)
        with statements() as sent:
            case = services.report(data, user)
        taking = [s for s in sent if "INSERT INTO case_counters" in s]
        assert len(taking) == 1 and "audit_append" not in taking[0], sent
        db.session.commit()
    entries = db.session.execute(
        text("SELECT action, object_id FROM audit_log ORDER BY id DESC LIMIT 2")
    ).all()
    assert [tuple(e) for e in entries] == [("cases.report", case.number), ("auth.denied", None)]
    assert audit_services.verify().ok


def test_concurrent_reports_get_consecutive_numbers_and_never_wait_on_the_token(scratch_world):
    """Eight simultaneous reports with one token, its row locked meanwhile by another
    transaction (as a request touching its last use holds it to commit): all eight answer 201,
    none waits for the lock (the touch skips a locked row), and the numbers are eight
    consecutive serials, each with its receipt and its audit entry."""
    client_app, headers = scratch_world
    body = json.dumps(case_body(parties=[]))
    barrier = threading.Barrier(8)
    answers = []
    with client_app.app_context():
        from app.extensions import db as scratch_db

        holder = scratch_db.engine.connect()
        holder.begin()
        token = holder.execute(text("SELECT id FROM api_tokens FOR UPDATE")).all()
        assert token

        def send():
            client = client_app.test_client()
            barrier.wait(10)
            response = client.post(
                "/api/v1/cases", data=body, headers={**headers, "Content-Type": "application/json"}
            )
            answers.append((response.status_code, response.get_json().get("number")))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        holder.rollback()
        holder.close()
        assert sorted(s for s, _n in answers) == [201] * 8, answers
        serials = sorted(int(n.rsplit("-", 1)[1]) for _s, n in answers)
        assert serials == list(range(serials[0], serials[0] + 8))
        counts = scratch_db.session.execute(
            text(
                "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM receipts),"
                " (SELECT count(*) FROM audit_log WHERE action = 'cases.report')"
            )
        ).one()
        assert tuple(counts) == (8, 8, 8)
        scratch_db.session.remove()
