"""The audit chain: verifies, detects tampering, survives concurrent writers, is append-only."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.audit.models import AuditEntry
from app.extensions import db
from tests.accounts.helpers import login


def test_chain_verifies_after_real_activity(client, runner, world):
    """Logins, failures and admin actions chain; `flask audit verify` passes."""
    login(client, "admin-county")
    login(client.application.test_client(), "admin-county", "wrong-password!")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "审计链完整" in result.output
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert len(entries) == 15  # 13 users created, 2 sign-ins
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    failure = entries[-1]
    assert (failure.action, failure.outcome, failure.actor) == ("auth.login", "failure", None)
    assert failure.detail == {"username": "admin-county", "via": "web"}


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_copy SET outcome = 'failure' WHERE id = {id}",
        'UPDATE audit_copy SET detail = \'{{"username": "x"}}\' WHERE id = {id}',
        "DELETE FROM audit_copy WHERE id = {id}",
        "UPDATE audit_copy SET hash = md5('x') || md5('y') WHERE id = {id}",
    ],
)
def test_tampering_is_detected_in_a_copy(runner, world, tamper):
    """Edit, delete or re-hash a row of a copy: verify names the first broken row."""
    db.session.execute(text("CREATE TABLE audit_copy AS SELECT * FROM audit_log"))
    ids = db.session.scalars(text("SELECT id FROM audit_copy ORDER BY id")).all()
    target = ids[len(ids) // 2]
    db.session.execute(text(tamper.format(id=target)))
    db.session.commit()
    result = audit.verify("audit_copy")
    assert not result.ok
    expected = target if "DELETE" not in tamper else ids[ids.index(target) + 1]
    if "SET hash" in tamper:
        assert result.broken_id == target
    else:
        assert result.broken_id == expected
    cli = runner.invoke(args=["audit", "verify", "--table", "audit_copy"])
    assert cli.exit_code == 1
    assert f"id={result.broken_id}" in cli.output
    assert audit.verify().ok  # the real log is untouched


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'failure'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_database_refuses_changes_to_the_log(world, statement):
    """The application's own role cannot update, delete or truncate the audit log."""
    before = db.session.scalar(text("SELECT count(*) FROM audit_log"))
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))
    assert db.session.scalar(text("SELECT count(*) FROM audit_log")) == before


def test_twenty_concurrent_writers_do_not_fork_the_chain(scratch_database):
    """20 threads, each committing 5 entries at once: one unbroken chain of 100."""
    engine = create_engine(scratch_database, pool_size=20, max_overflow=0)
    barrier = threading.Barrier(20)
    errors = []

    def writer(n: int) -> None:
        try:
            barrier.wait(10)
            for i in range(5):
                with Session(engine) as session:
                    audit.record("test.concurrent", detail={"writer": n, "i": i}, session=session)
                    session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Session(engine) as session:
        result = audit.verify(session=session)
        rows = session.execute(
            text("SELECT count(*), count(DISTINCT prev_hash) FROM audit_log")
        ).one()
    engine.dispose()
    assert result.ok, result
    assert result.rows == 100
    assert rows == (100, 100)  # no two entries claim the same predecessor: no fork


def test_rolled_back_changes_leave_no_audit_entry(world):
    """An entry queued in a transaction that rolls back is never written."""
    before = db.session.scalar(text("SELECT count(*) FROM audit_log"))
    audit.record("test.discarded")
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(text("SELECT count(*) FROM audit_log")) == before


def test_sql_append_hashes_exactly_as_entry_hash():
    """audit_append (one statement) stores the hash entry_hash computes, over tricky entries:
    Chinese text, nulls, microseconds, nested detail, quotes, control characters."""
    tricky = [
        {"detail": {"说明": '张三 "引号" \\ 反斜杠\n换行\t制表', "n": [1, 2.5, None, True]}},
        {"detail": {"nested": {"深": {"更深": ["🙂", "\u2063", "\x01"]}}, "empty": {}}},
        {"detail": {}, "object_id": None, "region_code": None},
        {"detail": {"id": 7, "a": '"id":'}, "object_id": "371699-2026-000001"},
    ]
    for n, extra in enumerate(tricky):
        audit.record(
            "test.tricky",
            actor=False,
            object_type="案件" if n % 2 else None,
            object_id=extra.get("object_id", n),
            region_code=extra.get("region_code", "371699101201001"),
            detail=extra["detail"],
        )
    queued = db.session.info["audit_pending"]
    # Times in another zone, with microseconds (one of them 7 µs: "…:01.000007").
    queued[0]["at"] = dt.datetime(2026, 12, 1, 9, 30, 1, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
    queued[1]["at"] = dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    pending = [dict(e) for e in queued]
    db.session.commit()
    rows = db.session.execute(
        text(f"SELECT {', '.join(audit.FIELDS)}, prev_hash, hash FROM audit_log ORDER BY id")
    ).mappings()
    rows = [dict(r) for r in rows][-len(tricky) :]
    for entry, row in zip(pending, rows, strict=True):
        # The hash Python computes for the queued entry (before any round trip through jsonb)
        # and for the stored row are the one the database wrote.
        assert audit.entry_hash(row["prev_hash"], {**entry, "id": row["id"]}) == row["hash"]
        assert audit.entry_hash(row["prev_hash"], row) == row["hash"]
        assert row["detail"] == entry["detail"] and row["at"] == entry["at"]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert audit.verify().ok
