"""Signed audit checkpoints: written outside the database, checked by `flask audit verify`."""

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from app.audit import checkpoints
from app.audit import services as audit
from app.extensions import db

# A fixed Ed25519 key for these tests only (any 32 bytes are a private key).
KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def signed(app, tmp_path, monkeypatch):
    """The app signing checkpoints into a fresh folder; yields the folder."""
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", KEY)
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", str(tmp_path))
    return tmp_path


def checkpoint(runner) -> dict:
    """`flask audit checkpoint`; the checkpoint it wrote."""
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().rsplit(" ", 1)[-1])
    return json.loads(path.read_text(encoding="utf-8"))


def add_entries(n: int) -> None:
    for i in range(n):
        audit.record("test.checkpoint", detail={"i": i})
    db.session.commit()


def rechain_from(entry_id: int) -> None:
    """What an owner with the triggers off could do: recompute every hash from entry_id on."""
    rows = db.session.execute(
        text(
            f"SELECT {', '.join(audit.FIELDS)}, prev_hash FROM audit_log"
            " WHERE id >= :id ORDER BY id"
        ),
        {"id": entry_id},
    ).mappings()
    prev = None
    for row in list(rows):
        prev = prev or row["prev_hash"]
        new_hash = audit.entry_hash(prev, dict(row))
        db.session.execute(
            text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": prev, "h": new_hash, "id": row["id"]},
        )
        prev = new_hash


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_a_rewritten_and_rechained_log_fails_against_its_checkpoint(runner, world, signed):
    """Checkpoints verify; then a row rewritten as the owner, every hash after it recomputed:
    the chain alone looks whole, the checkpoint says otherwise."""
    first = checkpoint(runner)
    count = db.session.scalar(text("SELECT count(*) FROM audit_log"))
    head = db.session.scalar(text("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    assert (first["count"], first["head"], first["table"]) == (count, head, "audit_log")
    assert first["key_id"] == checkpoints.key_id(checkpoints.signing_key(KEY).public_key())
    add_entries(3)
    second = checkpoint(runner)
    ok = verify(runner)
    assert ok.exit_code == 0, ok.output
    assert "签名检查点 2 个均与审计链一致" in ok.output
    # A restored backup is checked against the checkpoints written before it only.
    older = runner.invoke(args=["audit", "verify", "--before", second["at"]])
    assert "签名检查点 1 个均与审计链一致" in older.output, older.output
    assert len(list(signed.iterdir())) == 2

    target = db.session.scalar(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 2"))
    db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
    db.session.execute(
        text("UPDATE audit_log SET detail = '{\"rewritten\": true}' WHERE id = :id"), {"id": target}
    )
    rechain_from(target)
    assert audit.verify().ok  # the chain recomputed: it hangs together on its own
    failed = verify(runner)
    assert failed.exit_code == 1
    assert "审计核对失败" in failed.output
    assert f"第 {first['count']} 条记录处的链头与检查点不符" in failed.output


def test_deleted_rows_and_edited_checkpoints_are_named(runner, world, signed):
    """Rows cut from the tail: the count is below the checkpoint's, and a checkpoint taken
    afterwards has a count that decreased; an edited checkpoint's signature fails."""
    add_entries(2)
    before = checkpoint(runner)
    db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
    db.session.execute(
        text(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log ORDER BY id DESC LIMIT 2)"
        )
    )
    after = checkpoint(runner)
    assert after["count"] == before["count"] - 2
    failed = verify(runner)
    assert failed.exit_code == 1
    assert (
        f"检查点记有 {before['count']} 条记录，数据库中只有 {after['count']} 条（记录被删除）"
        in failed.output
    )
    assert f"记录数 {after['count']} 少于之前检查点的 {before['count']}" in failed.output

    # Editing a checkpoint (to match the shortened log) breaks its signature.
    path = sorted(signed.iterdir())[0]
    body = json.loads(path.read_text(encoding="utf-8"))
    body["count"] = after["count"]
    path.chmod(0o644)
    path.write_text(json.dumps(body), encoding="utf-8")
    edited = verify(runner)
    assert edited.exit_code == 1
    assert f"{path.name}：签名无效" in edited.output


def test_checkpoints_need_a_key_and_verify_needs_its_public_half(app, runner, signed, monkeypatch):
    """No signing key: checkpoint refuses; a verifier with only AUDIT_VERIFY_KEYS (the public
    key) checks the signatures; with no key at all it names the unknown key."""
    checkpoint(runner)
    public = runner.invoke(args=["audit", "public-key"]).output.split()[0]
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", "")
    refused = runner.invoke(args=["audit", "checkpoint"])
    assert refused.exit_code == 1
    assert "未配置 AUDIT_SIGNING_KEY" in refused.output
    assert "签名密钥" in verify(runner).output
    monkeypatch.setitem(app.config, "AUDIT_VERIFY_KEYS", public)
    assert verify(runner).exit_code == 0
