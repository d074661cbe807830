"""Write and verify the audit chain.

Entries are queued on the session during a request and written just before it commits, in the
same transaction as the change they describe. An entry recorded with `keep=True` (a denial, a
failed sign-in) outlives a rollback: it is queued again, and the request boundary
(app/core/transaction.py) commits it on its own. Writers take one transaction-level advisory lock,
so the chain cannot fork however many run at once; holding it only at commit keeps it short.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime

from flask import has_request_context
from flask import request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core import clock
from app.extensions import db

GENESIS = "0" * 64
# pg_advisory_xact_lock key serialising audit writers ("GGAUDIT" as a number).
AUDIT_LOCK_KEY = 0x4747415544495400
FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "region_code",
    "client_addr",
    "outcome",
    "detail",
)


def entry_hash(prev_hash: str, entry: dict) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON."""
    payload = json.dumps(
        _canonical(entry), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256((prev_hash + "\n" + payload).encode()).hexdigest()


def _canonical(entry: dict) -> dict:
    """The hashed fields of an entry, its time as UTC ISO with microseconds."""
    canonical = {k: entry.get(k) for k in FIELDS}
    at = canonical["at"]
    if isinstance(at, datetime):
        canonical["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    return canonical


def payload_around_id(entry: dict) -> tuple[str, str]:
    """The entry's canonical JSON (as entry_hash writes it) split where its id goes: the SQL
    append (audit_append, migration 0028) puts the id it draws between the two and hashes
    prev_hash + "\n" + head + id + tail, the very bytes entry_hash hashes for that id."""
    marker = f"\u2063audit-id-{uuid.uuid4().hex}\u2063"
    canonical = {**_canonical(entry), "id": marker}
    payload = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    head, found, tail = payload.partition(json.dumps(marker, ensure_ascii=False))
    if not found or json.dumps(marker, ensure_ascii=False) in tail:
        raise ValueError("audit entry: the id's place is not unique")
    return head, tail


def make_entry(
    action: str,
    *,
    outcome: str = "success",
    actor=None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    region_code: str | None = None,
    client_addr: str | None = None,
    detail: dict | None = None,
    at: datetime | None = None,
) -> dict:
    """An audit entry's fields as the chain stores them (`actor`: a user or None)."""
    return {
        "at": at or clock.now(),
        "actor_id": getattr(actor, "id", None),
        "actor": getattr(actor, "username", None),
        "role": getattr(actor, "role", None),
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "region_code": region_code,
        "client_addr": client_addr,
        "outcome": outcome,
        "detail": detail or {},
    }


# The one call that appends entries to the chain (migration 0028): the advisory lock, the head's
# hash, the ids and the INSERT. The public lookup's fast path runs it inside a statement of its
# own (app/resident/fast.py) and the batches of app/audit/deferred.py alone, both as the driver's
# SQL of this text, with `append_argument`'s JSON.
APPEND_CALL = "audit_append(CAST(:entries AS jsonb), :k)"
APPEND_SQL = f"SELECT {APPEND_CALL}"


def append_argument(pending: list[dict]) -> str:
    """The JSON audit_append takes for these entries (their canonical payload split where the
    id goes, so the SQL side hashes exactly what entry_hash would)."""
    rows = []
    for entry in pending:
        head, tail = payload_around_id(entry)
        at = entry["at"]
        rows.append(
            {
                **{k: entry.get(k) for k in FIELDS if k not in ("id", "at")},
                "at": at.isoformat() if isinstance(at, datetime) else at,
                "payload_head": head,
                "payload_tail": tail,
            }
        )
    return json.dumps(rows, ensure_ascii=False)


def record(
    action: str,
    *,
    outcome: str = "success",
    actor=None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    region_code: str | None = None,
    detail: dict | None = None,
    session: Session | None = None,
    keep: bool = False,
) -> None:
    """Queue an audit entry; it is written when the session commits (or dropped on rollback,
    unless `keep`: then it is written even when the request's changes roll back)."""
    session = session or db.session()
    if actor is None and has_request_context():
        actor = current_user if getattr(current_user, "is_authenticated", False) else None
    elif actor is False:  # explicitly nobody (e.g. while authentication itself is running)
        actor = None
    entry = make_entry(
        action,
        outcome=outcome,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        region_code=region_code,
        client_addr=request.remote_addr if has_request_context() else "cli",
        detail=detail,
    )
    session.info.setdefault("audit_pending", []).append(entry)
    if keep:
        session.info.setdefault("audit_kept", []).append(entry)


def write_pending(session: Session) -> int:
    """Append the queued entries to the chain in one statement (audit_append, migration 0028:
    the advisory lock, the head's hash, the ids and the INSERT). Returns how many. (A report
    appends its entry inside the statement that draws its number: `fold_pending`.)
    """
    pending = session.info.pop("audit_pending", None)
    session.info.pop("audit_kept", None)
    if not pending:
        return 0
    params = {"entries": append_argument(pending), "k": AUDIT_LOCK_KEY}
    return session.execute(text(APPEND_SQL), params).scalar_one()


def number_marker() -> str:
    """A stand-in for an object id a statement draws (a case's number): random per call, so no
    text of an entry can hold it by chance, and nothing JSON escapes."""
    return f"gg-drawn-{uuid.uuid4().hex}"


def fold_pending(session: Session) -> dict | None:
    """The queued entries taken off the queue as `APPEND_CALL`'s parameters, for a statement
    that appends them itself (a report's registration, app/cases/registration.py); None when
    there is nothing queued or kept entries are (those wait for the commit, as in
    `write_pending`). A marker of `number_marker` in the parameter's text is for the statement
    to replace (the entries' canonical payloads hold the object id as it is written)."""
    if session.info.get("audit_kept") or not session.info.get("audit_pending"):
        return None
    pending = session.info.pop("audit_pending")
    return {"entries": append_argument(pending), "k": AUDIT_LOCK_KEY}


def fill_in(session: Session, marker: str, value: str) -> None:
    """The object id `value` in the queued entries that hold `marker` (when the statement that
    drew it did not append them: `fold_pending` said None)."""
    for entry in session.info.get("audit_pending", []):
        if entry.get("object_id") == marker:
            entry["object_id"] = value


@event.listens_for(Session, "before_commit")
def _write_audit_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_audit_on_rollback(session: Session, previous_transaction) -> None:
    # Entries describe changes that were just rolled back: they never happened. Kept entries
    # (refusals) did happen: they wait for the next commit.
    session.info.pop("audit_pending", None)
    kept = session.info.pop("audit_kept", None)
    if kept:
        session.info["audit_pending"] = kept


@dataclass
class Verification:
    """The outcome of checking the chain."""

    ok: bool
    rows: int
    head: str | None
    broken_id: int | None = None
    reason: str | None = None
    # The chain's head after n rows, for each n asked for (the checkpoints' counts).
    heads: dict[int, str | None] = field(default_factory=dict)


def verify(
    table: str = "audit_log", session: Session | None = None, heads_at: set[int] = frozenset()
) -> Verification:
    """Recompute every hash in id order; name the first row that does not chain. With
    heads_at, also note the head after each of those numbers of rows (0: no head)."""
    if not table.replace("_", "").isalnum():
        raise ValueError("bad table name")
    session = session or db.session()
    result = session.execute(
        text(f"SELECT {', '.join(FIELDS)}, prev_hash, hash FROM {table} ORDER BY id")
    ).mappings()
    prev = GENESIS
    count = 0
    heads: dict[int, str | None] = {0: None} if 0 in heads_at else {}
    for row in result:
        count += 1
        if row["prev_hash"] != prev:
            return Verification(False, count, prev, row["id"], "prev_hash 与上一条记录的哈希不符")
        if entry_hash(prev, dict(row)) != row["hash"]:
            return Verification(False, count, prev, row["id"], "记录内容与其哈希不符（已被篡改）")
        prev = row["hash"]
        if count in heads_at:
            heads[count] = prev
    return Verification(True, count, None if count == 0 else prev, heads=heads)
