"""Issuing and checking receipts (回执): the query code and the link to the progress page.

The code is 10 characters from a 31-letter alphabet without look-alikes (0/O, 1/I/L): about 49 bits,
so even 10,000 guesses a day against one number would need ~10^10 days on average; the progress
lookup's rate limit keeps guesses far below that. Only `pii.keyed_hash` of the code is stored
(HMAC with the deployment's key): a copy of the database alone does not give the codes back.
"""

from __future__ import annotations

import hmac
import re
import secrets

import segno
from flask import url_for
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from app import pii
from app.core import clock
from app.extensions import db
from app.resident.models import Receipt

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What a resident types: case and spaces or dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch not in " -\u3000")


def normalise_number(number: str) -> str:
    """A receipt number as looked up (what the resident typed, trimmed and upper-cased)."""
    return str(number).strip().upper()[:24]


def code_hash(number: str, code: str, config=None) -> str:
    # The number is part of the hashed text, so one code's hash says nothing about another number.
    return pii.keyed_hash(f"receipt:{number}:{normalise_code(code)}", config)


# A case number's series: its county and year (371699-2026 of 371699-2026-000123).
SERIES = re.compile(r"^(\d{6}-\d{4})-\d{6,}$")


def series_of(number: str) -> str | None:
    """The county-year series of a case number; None for any other number."""
    found = SERIES.match(number)
    return found[1] if found else None


def series_hash(series: str, code: str, config=None) -> str:
    """The stored hash of a receipt issued as its case registers (`registration_code`): over the
    number's series, not the number, because the number is drawn in the statement that writes
    the receipt (app/cases/registration.py). The row's number still binds the code to its case:
    a lookup matches the number and the hash together."""
    return pii.keyed_hash(f"receipt-series:{series}:{normalise_code(code)}", config)


def code_hashes(number: str, code: str, config=None) -> tuple[str, str]:
    """The two hashes a receipt of `number` with `code` may be stored under: by the number
    (`issue`) and by its series (`registration_code`; the first again for other numbers)."""
    by_number = code_hash(number, code, config)
    series = series_of(number)
    return by_number, series_hash(series, code, config) if series else by_number


def registration_code(series: str) -> tuple[str, str]:
    """(code, stored hash) of the receipt a case registering in `series` gets: the number's
    statement writes it (app/cases/registration.py `insert_new`)."""
    code = new_code()
    return code, series_hash(series, code)


def issue(
    *,
    number: str,
    case_id: int | None = None,
    self_report_id: int | None = None,
    actor=None,
) -> str:
    """A receipt for `number` with a new code (returned in clear, once); earlier codes stop working.

    (A case's first receipt is written by its number's statement: `registration_code`.) One
    UPDATE and one INSERT, never a commit (the request boundary commits).
    """
    code = new_code()
    db.session.execute(SUPERSEDE, {"of_number": number, "now": clock.now()})
    params = {
        "number": number,
        "case_id": case_id,
        "self_report_id": self_report_id,
        "code_hash": code_hash(number, code),
        "issued_by_id": getattr(actor, "id", None),
    }
    db.session.execute(text(ISSUE_SQL), params)
    return code


ISSUE_SQL = (
    "INSERT INTO receipts (number, case_id, self_report_id, code_hash, issued_by_id)"
    " VALUES (:number, :case_id, :self_report_id, :code_hash, :issued_by_id)"
)
# Built once (issue 18): the public lookup runs it on every request, a report the other.
SUPERSEDE = (
    update(Receipt)
    .where(Receipt.number == bindparam("of_number"), Receipt.superseded_at.is_(None))
    .values(superseded_at=bindparam("now"))
)
CURRENT = select(Receipt).where(
    Receipt.number == bindparam("number"), Receipt.superseded_at.is_(None)
)


def current(number: str) -> Receipt | None:
    """The receipt in force for a number (one per number), or None."""
    return db.session.scalar(CURRENT, {"number": number})


def find(number: str, code: str) -> Receipt | None:
    """The receipt in force for `number` if `code` is its code, else None (both cases alike).

    An unknown number still computes a hash and a comparison, so the two failures cost the same.
    """
    receipt = current(number)
    by_number, by_series = code_hashes(number, code)
    expected = receipt.code_hash if receipt is not None else "0" * 64
    matched = hmac.compare_digest(by_number, expected)
    matched = hmac.compare_digest(by_series, expected) or matched  # both compared, always
    if matched and receipt is not None:
        return receipt
    return None


def attach_case(self_report_id: int, case_id: int) -> None:
    """A verified self-report became a case: its receipt now follows the case."""
    db.session.execute(
        update(Receipt).where(Receipt.self_report_id == self_report_id).values(case_id=case_id)
    )


def progress_url(number: str) -> str:
    """The public progress page for `number` (absolute; the code is never part of a URL)."""
    return url_for("resident.progress", number=number, _external=True)


def qr_svg(url: str, *, scale: int = 4) -> str:
    """An inline SVG QR code for `url` (segno), for receipts and notices."""
    return segno.make(url, error="m").svg_inline(scale=scale, dark="#000")
