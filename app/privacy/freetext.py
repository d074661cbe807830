"""Personal data typed into free text: stored masked, the clear text encrypted beside it.

One place for every title, description and note (docs/privacy.md): before each flush, a field of
FIELDS that was set is passed through `pii.mask_text`; when that changed it, the field keeps the
masked text and the clear text goes, encrypted, to `free_text_originals` (after the flush, once the
row has its id). So API answers, pages, lists, exports, the ledger, PDFs, tiles, search, logs and
notifications built from these fields can only show the masked form; the audited reveal
(`originals`) decrypts it. Statements that bypass the ORM (bulk UPDATE) bypass this too, unless
they call `mask_fields` and `store_originals` themselves, as a new case's statement does
(app/cases/registration.py).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import pii
from app.extensions import db
from app.privacy.models import FreeTextOriginal

# table → free-text fields. Rows of the first four belong to a case (`case_id`, or `id` for cases).
FIELDS: dict[str, tuple[str, ...]] = {
    "cases": (
        "title",
        "description",
        "outcome_note",
        "public_outcome",
        "reply",
        "extension_reason",
        "supervision_note",
        "same_matter_note",
        "rejection_notice",
    ),
    "case_events": ("note",),
    "follow_ups": ("note",),
    "dispatches": ("instructions", "return_reason", "report_note", "review_note"),
    "risk_points": ("description", "measures", "clear_reason"),
    "risk_events": ("reason",),
    "inspections": ("notes",),
    "visits": ("heard", "review_comment"),
    "self_reports": ("description", "decline_reason"),
    "campaign_findings": ("note",),
}
PENDING = "pii_free_text"


def _case_id(table: str, obj) -> int | None:
    if table == "cases":
        return obj.id
    return (
        getattr(obj, "case_id", None)
        if table in ("case_events", "follow_ups", "dispatches")
        else None
    )


def mask_fields(obj, *, new: bool) -> list[tuple]:
    """Mask obj's free-text fields that were set (all of a new row's); what was masked, for
    `store_originals` once the row has its id: (table, obj, field, clear text or None)."""
    table = getattr(getattr(obj, "__table__", None), "name", None)
    if table not in FIELDS:
        return []
    state = inspect(obj)
    pending = []
    for field in FIELDS[table]:
        if not new and not state.attrs[field].history.has_changes():
            continue
        value = getattr(obj, field)
        masked = pii.mask_text(value) if isinstance(value, str) else value
        if masked != value:
            setattr(obj, field, masked)
            pending.append((table, obj, field, value))
        elif not new:
            pending.append((table, obj, field, None))  # changed to text without any
    return pending


@event.listens_for(Session, "before_flush")
def _mask_before_flush(session, _context, _instances) -> None:
    pending = session.info.setdefault(PENDING, [])
    for obj in list(session.new) + list(session.dirty):
        pending += mask_fields(obj, new=inspect(obj).pending)


@event.listens_for(Session, "after_flush")
def _store_after_flush(session, _context) -> None:
    pending = session.info.pop(PENDING, [])
    if pending:
        store_originals(session.connection(), pending)


def store_originals(conn, pending: list[tuple]) -> None:
    """Keep the clear text of what `mask_fields` masked, encrypted (the rows have their ids)."""
    t = FreeTextOriginal.__table__
    for table, obj, field, clear in pending:
        where = (t.c.table_name == table) & (t.c.row_id == obj.id) & (t.c.field == field)
        if clear is None:
            conn.execute(delete(t).where(where))
            continue
        row = {
            "table_name": table,
            "row_id": obj.id,
            "field": field,
            "case_id": _case_id(table, obj),
            "text_enc": pii.encrypt(clear),
        }
        conn.execute(
            insert(t)
            .values(**row)
            .on_conflict_do_update(
                constraint="uq_free_text_originals_field", set_={"text_enc": row["text_enc"]}
            )
        )


def originals(case_id: int) -> list[dict]:
    """The clear text of the case's fields that held personal data (for the audited reveal)."""
    rows = db.session.scalars(
        select(FreeTextOriginal)
        .where(FreeTextOriginal.case_id == case_id)
        .order_by(FreeTextOriginal.table_name, FreeTextOriginal.row_id, FreeTextOriginal.field)
    )
    return [
        {
            "table": r.table_name,
            "row_id": r.row_id,
            "field": r.field,
            "text": pii.decrypt(r.text_enc),
        }
        for r in rows
    ]


def clear_values(table: str, field: str, row_ids) -> dict[int, str]:
    """row id → the clear text of that field, for the rows that have one (a revealing export)."""
    rows = db.session.execute(
        select(FreeTextOriginal.row_id, FreeTextOriginal.text_enc).where(
            FreeTextOriginal.table_name == table,
            FreeTextOriginal.field == field,
            FreeTextOriginal.row_id.in_(row_ids),
        )
    )
    return {row_id: pii.decrypt(blob) for row_id, blob in rows}


def has_originals(case_id: int) -> bool:
    """Whether any of the case's free text was masked (the case page offers the reveal)."""
    return bool(
        db.session.scalar(
            select(FreeTextOriginal.id).where(FreeTextOriginal.case_id == case_id).limit(1)
        )
    )


def forget(case_id: int) -> int:
    """Delete the case's clear originals (de-identification); how many there were."""
    result = db.session.execute(delete(FreeTextOriginal).where(FreeTextOriginal.case_id == case_id))
    return result.rowcount


def mask_rows(table: str, rows: list[dict]) -> list[dict]:
    """Mask the FIELDS of rows a bulk INSERT is about to write (it bypasses the flush hook).

    Changes `rows` in place and returns the `free_text_originals` rows to insert once they exist
    (`store_rows`); each row must carry its `id` (and `case_id` where FIELDS' tables have one).
    """
    originals = []
    for row in rows:
        for field in FIELDS.get(table, ()):
            value = row.get(field)
            if not isinstance(value, str):
                continue
            masked = pii.mask_text(value)
            if masked == value:
                continue
            row[field] = masked
            originals.append(
                {
                    "table_name": table,
                    "row_id": row["id"],
                    "field": field,
                    "case_id": row["id"] if table == "cases" else row.get("case_id"),
                    "text_enc": pii.encrypt(value),
                }
            )
    return originals


def store_rows(originals: list[dict]) -> None:
    """Insert what `mask_rows` returned, after the rows themselves."""
    if originals:
        db.session.execute(insert(FreeTextOriginal.__table__), originals)
