"""Signed audit checkpoints: the chain's head written outside the database (docs/audit.md).

The hash chain shows that no row was changed in place, but whoever controls the database (its
owner, a superuser) could rewrite a row and recompute every hash after it, or cut the chain's
tail. A checkpoint pins the chain from outside: one JSON file per checkpoint in
AUDIT_CHECKPOINT_DIR (head hash, number of rows, time, key id), signed with an Ed25519 key the
database never sees. `flask audit verify` walks the chain and checks every checkpoint: the
signature holds, the chain has at least that many rows, its head after that many rows is the
checkpoint's, and counts never decrease from one checkpoint to the next.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit import services
from app.core import clock
from app.extensions import db

FORMAT = 1
SIGNED_FIELDS = ("format", "database", "table", "count", "head", "at", "key_id")


class CheckpointError(Exception):
    """A checkpoint cannot be written (no key, a bad key, the file exists)."""


@dataclass(frozen=True)
class Problem:
    """One thing `verify` found wrong; `where` is a checkpoint file or the chain."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}：{self.message}"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the start of the sha256 of its raw bytes."""
    return "ed25519:" + hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as AUDIT_VERIFY_KEYS takes it (base64 of the 32 raw bytes)."""
    return base64.b64encode(_raw_public(key)).decode()


def _key_material(value: str) -> tuple[bytes | None, bytes | None]:
    """(PEM bytes, raw bytes) from a setting: a path to a PEM file, or base64 of 32 bytes."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        return value.encode(), None
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return None, raw
    try:
        return Path(value).read_bytes(), None
    except OSError as exc:
        raise CheckpointError(
            f"密钥须为 32 字节的 base64 或 PEM 文件路径（{value[:40]}：{exc.strerror}）"
        ) from None


def signing_key(value: str) -> Ed25519PrivateKey:
    """The Ed25519 private key of AUDIT_SIGNING_KEY."""
    if not value:
        raise CheckpointError("未配置 AUDIT_SIGNING_KEY：无法签署检查点")
    pem, raw = _key_material(value)
    if raw is not None:
        return Ed25519PrivateKey.from_private_bytes(raw)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"AUDIT_SIGNING_KEY 不是可用的私钥：{exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("AUDIT_SIGNING_KEY 须为 Ed25519 私钥")
    return key


def verify_keys(signing: str, verify: str) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id: the signing key's, and every one of AUDIT_VERIFY_KEYS."""
    keys = []
    if signing:
        keys.append(signing_key(signing).public_key())
    for value in filter(None, (v.strip() for v in verify.split(","))):
        pem, raw = _key_material(value)
        if raw is not None:
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
            continue
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise CheckpointError(f"AUDIT_VERIFY_KEYS 中有无法读取的公钥：{exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointError("AUDIT_VERIFY_KEYS 中的公钥须为 Ed25519")
        keys.append(key)
    return {key_id(k): k for k in keys}


def _signed_bytes(body: dict) -> bytes:
    """What the signature covers: the signed fields as canonical JSON."""
    payload = {k: body.get(k) for k in SIGNED_FIELDS}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def write(directory: Path, key: Ed25519PrivateKey, session: Session | None = None) -> Path:
    """Write a checkpoint of the committed chain into directory; returns the new file.

    One statement reads the count and the head, so they describe the same committed chain
    (writers append under an advisory lock held until they commit: the chain is always whole).
    """
    session = session or db.session()
    count, head, database = session.execute(
        text(
            "SELECT count(*), (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1),"
            " current_database() FROM audit_log"
        )
    ).one()
    at = clock.now()
    body = {
        "format": FORMAT,
        "database": database,
        "table": "audit_log",
        "count": count,
        "head": head,
        "at": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "key_id": key_id(key.public_key()),
    }
    body["signature"] = base64.b64encode(key.sign(_signed_bytes(body))).decode()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Names sort in time order; a file is never overwritten (O_EXCL), only added.
    path = directory / f"{at:%Y%m%dT%H%M%S%fZ}-{count:012d}.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        raise CheckpointError(f"{path} 已存在") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def _load(path: Path, keys: dict[str, Ed25519PublicKey]) -> tuple[dict | None, str | None]:
    """A checkpoint file's body if it is well-formed and its signature holds, else why not."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"无法读取（{exc}）"
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        return None, "不是检查点文件或格式版本不受支持"
    if not isinstance(body.get("count"), int) or body["count"] < 0:
        return None, "count 无效"
    try:
        datetime.fromisoformat(body.get("at"))
    except (TypeError, ValueError):
        return None, "at 不是有效的时间"
    key = keys.get(body.get("key_id"))
    if key is None:
        return None, f"签名密钥 {body.get('key_id')} 未知（AUDIT_VERIFY_KEYS 中没有其公钥）"
    try:
        key.verify(base64.b64decode(body.get("signature") or ""), _signed_bytes(body))
    except (InvalidSignature, binascii.Error, ValueError):
        return None, "签名无效（文件被改动或不是该密钥签署的）"
    return body, None


def verify(
    directory: Path,
    keys: dict[str, Ed25519PublicKey],
    session: Session | None = None,
    before: datetime | None = None,
) -> tuple[services.Verification, list[Problem], int]:
    """Walk the chain and check every checkpoint in directory against it, in time order; the
    chain's verification, the problems, how many checkpoints were checked. With before, only
    the checkpoints written before then (a restored backup is older than those after it)."""
    problems: list[Problem] = []
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    checkpoints = []
    for path in files:
        body, reason = _load(path, keys)
        if reason:
            problems.append(Problem(path.name, reason))
        elif before is None or datetime.fromisoformat(body["at"]) < before:
            checkpoints.append((path.name, body))
    chain = services.verify(session=session, heads_at={body["count"] for _, body in checkpoints})
    if not chain.ok:
        problems.insert(
            0, Problem("审计链", f"第一条异常记录 id={chain.broken_id}（{chain.reason}）")
        )
        return chain, problems, len(checkpoints)
    previous = None
    for name, body in checkpoints:
        if previous is not None and body["count"] < previous["count"]:
            problems.append(
                Problem(name, f"记录数 {body['count']} 少于之前检查点的 {previous['count']}")
            )
        if body["count"] > chain.rows:
            problems.append(
                Problem(
                    name,
                    f"检查点记有 {body['count']} 条记录，数据库中只有 {chain.rows} 条"
                    "（记录被删除）",
                )
            )
        elif chain.heads.get(body["count"]) != body["head"]:
            problems.append(
                Problem(name, f"第 {body['count']} 条记录处的链头与检查点不符（记录被改写）")
            )
        previous = body
    return chain, problems, len(checkpoints)
