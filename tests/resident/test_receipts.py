"""Receipts: one code in force per number, stored hashed, found only with the right code."""

from __future__ import annotations

from sqlalchemy import select

from app.cases.models import Case
from app.extensions import db
from app.resident import receipts
from app.resident.models import Receipt
from tests.cases.factories import report


def test_a_receipt_code_is_stored_hashed_and_a_new_one_supersedes_the_old(app, client, world):
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    case_id = db.session.scalar(select(Case.id).where(Case.number == number))
    with app.test_request_context():
        first = receipts.issue(number=number, case_id=case_id)
        assert len(first) == receipts.CODE_LENGTH and set(first) <= set(receipts.ALPHABET)
        stored = db.session.scalars(select(Receipt.code_hash).where(Receipt.number == number)).all()
        assert first not in stored and len(stored) == 2  # the registration's and this one
        assert receipts.find(number, first.lower()).case_id == case_id  # case does not matter
        assert receipts.find(number, "WRONG00000") is None
        assert receipts.find("NO-SUCH-NUMBER", first) is None

        second = receipts.issue(number=number, case_id=case_id)
        assert receipts.find(number, first) is None  # the reprint's new code replaces the old
        assert receipts.find(number, second).case_id == case_id
        rows = db.session.execute(
            select(Receipt.superseded_at.is_(None)).where(Receipt.number == number)
        ).scalars()
        assert sorted(rows) == [False, False, True]
        assert receipts.qr_svg("https://example.org/q/X").startswith("<svg")
