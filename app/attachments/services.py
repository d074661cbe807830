"""Store uploads by content hash, and decide who may download them.

Files are checked by their content (magic bytes), never by their name or declared type: JPEG, PNG
and PDF only, at most 10 MB each; a JPEG or PNG must also decode as an image. Photos lose their
metadata on the way in — EXIF (GPS position, camera, time), XMP, IPTC, comments, PNG text chunks —
losslessly (the picture's bytes are not re-encoded); a JPEG keeps only its orientation. The bytes
are encrypted at rest with the personal-data key (app/pii.encrypt_bytes) and written once under
ATTACHMENT_DIR by a keyed hash of their SHA-256 (the same photo uploaded twice is stored once);
each upload still gets its own row naming its owner. Services flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image
from PIL import UnidentifiedImageError
from sqlalchemy import select

from app import pii
from app.attachments.models import Attachment
from app.extensions import db

MAX_BYTES = 10 * 1024 * 1024
# (magic bytes at offset 0, content type, extension for downloads)
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
EXTENSIONS = {content_type: ext for _, content_type, ext in SIGNATURES}


class AttachmentError(Exception):
    """An upload that cannot be stored: status (413 or 422) and a message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    """A checked upload, not yet stored."""

    data: bytes
    content_type: str
    sha256: str
    original_name: str | None


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are (JPEG, PNG or PDF), or None."""
    for magic, content_type, _ in SIGNATURES:
        if data.startswith(magic):
            return content_type
    return None


# A file name that hides or reorders what people see ("photo\u202egpj.exe" shows as
# "photoexe.jpg") is refused, not cleaned (issue 19 item 6).
HIDDEN_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def clean_name(name: str | None) -> str | None:
    """The file's own name without any path or control characters, at most 255 characters."""
    if not name:
        return None
    name = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:255] or None


def check(data: bytes, original_name: str | None = None) -> Upload:
    """Check size and content; raise AttachmentError naming the file otherwise."""
    label = clean_name(original_name) or "附件"
    if original_name and HIDDEN_IN_NAMES.search(original_name):
        raise AttachmentError(
            422, f"文件名 {label} 含有控制字符、零宽字符或双向文字控制符：请改名后再上传"
        )
    if len(data) > MAX_BYTES:
        raise AttachmentError(413, f"{label} 超过 {MAX_BYTES // (1024 * 1024)} MB 的上限")
    if not data:
        raise AttachmentError(422, f"{label} 是空文件")
    content_type = sniff(data)
    if content_type is None:
        raise AttachmentError(
            422, f"{label} 不是 JPEG、PNG 或 PDF 文件（按文件内容判断，与文件名无关）"
        )
    if content_type != "application/pdf":
        data = scrub_image(data, content_type, label)
    return Upload(data, content_type, hashlib.sha256(data).hexdigest(), clean_name(original_name))


# JPEG markers kept: APP0 (JFIF), APP2 (ICC colour profile), APP14 (Adobe colour transform).
# Dropped: APP1 (EXIF: GPS, camera, time; XMP), APP3–APP13 (IPTC and vendors'), APP15, COM.
_JPEG_KEEP = {0xE0, 0xE2, 0xEE}
# PNG chunks dropped: text, time, EXIF.
_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}


def scrub_image(data: bytes, content_type: str, label: str = "图片") -> bytes:
    """The image without its metadata (losslessly); 422 when it does not decode as an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            orientation = image.getexif().get(0x0112) if content_type == "image/jpeg" else None
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AttachmentError(422, f"{label} 不是有效的图片（无法解码）") from exc
    try:
        if content_type == "image/jpeg":
            return _scrub_jpeg(data, orientation)
        return _scrub_png(data)
    except (IndexError, ValueError) as exc:
        raise AttachmentError(422, f"{label} 不是有效的图片（结构损坏）") from exc


def _scrub_jpeg(data: bytes, orientation: int | None) -> bytes:
    out = bytearray(data[:2])  # SOI
    if orientation and orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        payload = b"Exif\x00\x00" + exif.tobytes()
        out += b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("not a marker")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the picture itself, to the end, untouched
            out += data[i:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[i : i + 2]
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segment = data[i : i + 2 + length]
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE) or marker in _JPEG_KEEP:
            out += segment
        i += 2 + length
    raise ValueError("no image data")


def _scrub_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        chunk = data[i : i + 12 + length]
        if len(chunk) < 12 + length:
            raise ValueError("truncated chunk")
        if kind not in _PNG_DROP:
            out += chunk
        i += 12 + length
        if kind == b"IEND":
            break
    return bytes(out)


def read_upload(file) -> Upload:
    """Read and check one uploaded file (a werkzeug FileStorage), never more than the cap + 1."""
    data = file.stream.read(MAX_BYTES + 1)
    return check(data, file.filename)


def storage_dir() -> Path:
    """ATTACHMENT_DIR, relative paths taken from the project folder (not the working directory)."""
    configured = Path(current_app.config["ATTACHMENT_DIR"])
    if configured.is_absolute():
        return configured
    return Path(current_app.root_path).parent / configured


def path_for(sha256: str) -> Path:
    """Where the bytes with this hash live: ab/cd/abcd… of the keyed name, so no folder grows
    too large and a file's name does not reveal its content hash."""
    name = pii.file_name_key(sha256)
    return storage_dir() / name[:2] / name[2:4] / name


def legacy_path(sha256: str) -> Path:
    """Where files stored before encryption live (by the plain content hash, unencrypted)."""
    return storage_dir() / sha256[:2] / sha256[2:4] / sha256


def read_bytes(attachment) -> bytes | None:
    """An attachment's (or any row with its `sha256`'s) bytes in clear, or None when its file
    is missing."""
    for path in (path_for(attachment.sha256), legacy_path(attachment.sha256)):
        if path.is_file():
            return pii.decrypt_bytes(path.read_bytes())
    return None


def write_bytes(upload: Upload) -> Path:
    """Write the bytes, encrypted, under their keyed name unless they are there already; atomic
    (rename)."""
    path = path_for(upload.sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pii.encrypt_bytes(upload.data))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def store(upload: Upload, owner_type: str, owner_id: int, user) -> Attachment:
    """Write the bytes (once per content) and add the attachment row for its owner.

    A file written for a request that then rolls back stays on disk unreferenced: harmless (the
    next identical upload reuses it) and never served, since downloads go through a row.
    """
    if owner_type not in OWNER_VISIBILITY:
        raise ValueError(f"unknown attachment owner type {owner_type!r}: register it first")
    write_bytes(upload)
    attachment = Attachment(
        sha256=upload.sha256,
        content_type=upload.content_type,
        size=len(upload.data),
        original_name=upload.original_name,
        uploaded_by_id=user.id,
        owner_type=owner_type,
        owner_id=owner_id,
    )
    db.session.add(attachment)
    db.session.flush()
    return attachment


def for_owners(owner_type: str, owner_ids: list[int]) -> dict[int, list[Attachment]]:
    """The attachments of several owners of one type, by owner id, oldest first."""
    out: dict[int, list[Attachment]] = {}
    if not owner_ids:
        return out
    rows = db.session.scalars(
        select(Attachment)
        .where(Attachment.owner_type == owner_type, Attachment.owner_id.in_(owner_ids))
        .order_by(Attachment.id)
    )
    for row in rows:
        out.setdefault(row.owner_id, []).append(row)
    return out


# --- who may see an attachment: its owner decides ------------------------------------------------

# owner_type → check(owner_id, user) -> bool. Features register theirs when imported (risks:
# "inspection"; cases will add theirs), so the download route needs to know none of them.
OWNER_VISIBILITY: dict[str, Callable[[int, object], bool]] = {}


def register_owner(owner_type: str, check_visible: Callable[[int, object], bool]) -> None:
    """Declare an owner type and the function that says whether a user may see one of them."""
    OWNER_VISIBILITY[owner_type] = check_visible


def visible(attachment: Attachment, user) -> bool:
    """True when the user may see the attachment's owner; unknown owner types are never shown."""
    check_visible = OWNER_VISIBILITY.get(attachment.owner_type)
    return bool(check_visible and check_visible(attachment.owner_id, user))
