"""Personal information (个人信息保护法): encryption at rest, keyed hashes, masking, validation.

Values are encrypted with AES-256-GCM under a key derived from PERSONAL_DATA_KEY; a keyed hash
(HMAC-SHA256 under a second derived key) supports exact search and repeat-party detection without
decrypting. Masked forms are what every response shows unless a reveal is authorised and audited.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

KEY_VERSION = b"\x01"
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def _keys(config=None) -> tuple[bytes, bytes]:
    """(encryption key, hashing key), derived from PERSONAL_DATA_KEY (the app's, or that of
    `config` outside an app context)."""
    return _derived((config if config is not None else current_app.config)["PERSONAL_DATA_KEY"])


@functools.lru_cache(maxsize=8)
def _derived(master: str | None) -> tuple[bytes, bytes]:
    """The two keys of a master key, derived once per process (HKDF twice cost more than the
    HMAC they key)."""
    if not master:
        raise RuntimeError("PERSONAL_DATA_KEY is not set (README: Configuration)")
    raw = base64.urlsafe_b64decode(master + "=" * (-len(master) % 4))
    if len(raw) < 32:
        raise RuntimeError("PERSONAL_DATA_KEY must hold at least 32 bytes (base64)")
    return _derive(raw, b"gridgov pii encryption v1"), _derive(raw, b"gridgov pii hash v1")


def encrypt(value: str | None) -> bytes | None:
    """AES-GCM ciphertext: version byte + 12-byte nonce + ciphertext and tag."""
    if value is None:
        return None
    key, _ = _keys()
    nonce = os.urandom(12)
    return KEY_VERSION + nonce + AESGCM(key).encrypt(nonce, value.encode(), KEY_VERSION)


def decrypt(blob: bytes | None) -> str | None:
    """The plaintext of encrypt()'s output."""
    if blob is None:
        return None
    blob = bytes(blob)
    if blob[:1] != KEY_VERSION:
        raise ValueError("unknown personal-data key version")
    key, _ = _keys()
    return AESGCM(key).decrypt(blob[1:13], blob[13:], KEY_VERSION).decode()


# Why someone needs a party's full values (a reveal names one; "other" needs the words). Stored
# in the audit entry of every reveal (docs/audit.md), so a review can ask whether it held.
REVEAL_PURPOSES = {
    "contact": "联系当事人",
    "mediation": "调解或办理需要",
    "verify": "核实身份",
    "document": "制作法律文书",
    "transfer": "移交有关部门",
    "other": "其他（须说明）",
}

FILE_MAGIC = b"GGA1"  # an encrypted attachment file: magic + 12-byte nonce + ciphertext and tag


def encrypt_bytes(data: bytes) -> bytes:
    """An attachment's bytes encrypted at rest like party data (AES-256-GCM, the same key)."""
    key, _ = _keys()
    nonce = os.urandom(12)
    return FILE_MAGIC + nonce + AESGCM(key).encrypt(nonce, data, FILE_MAGIC)


def decrypt_bytes(blob: bytes) -> bytes:
    """The plaintext of encrypt_bytes()'s output; bytes written before encryption (no magic)
    are returned as they are."""
    if not blob.startswith(FILE_MAGIC):
        return blob
    key, _ = _keys()
    return AESGCM(key).decrypt(blob[4:16], blob[16:], FILE_MAGIC)


def file_name_key(sha256: str) -> str:
    """The name an attachment's file is stored under: a keyed hash of its content hash, so the
    folder does not tell whether a known photo is in it."""
    _, key = _keys()
    return hmac.new(key, b"file:" + sha256.encode(), hashlib.sha256).hexdigest()


def keyed_hash(value: str | None, config=None) -> str | None:
    """HMAC-SHA256 of a normalised value, for exact search without decryption (`config`: the
    app's configuration, outside an app context)."""
    if value is None:
        return None
    _, key = _keys(config)
    normalised = re.sub(r"[\s-]", "", value).upper()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def id_number_valid(value: str) -> bool:
    """GB 11643-1999: 18 characters, the last a checksum (0–9 or X) over the first 17."""
    if not ID_RE.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def phone_valid(value: str) -> bool:
    """A mainland mobile (11 digits from 13–19) or a landline with its area code."""
    return bool(MOBILE_RE.match(value) or LANDLINE_RE.match(value))


def check_rules() -> dict:
    """The ID number and phone rules as data, so the forms' script checks them the same way
    before queueing (app/static/js/checks.js; tests/web/test_offline.py compares the two)."""
    return {
        "id_pattern": ID_RE.pattern,
        "id_weights": list(_ID_WEIGHTS),
        "id_check": _ID_CHECK,
        "phone_patterns": [MOBILE_RE.pattern, LANDLINE_RE.pattern],
    }


def mask_name(name: str) -> str:
    """张三 → 张*; 欧阳修文 → 欧***."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_id_number(value: str | None) -> str | None:
    """110101199003071234 → 110101********1234."""
    return None if not value else value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """13812345678 → 138****5678; 0543-3312345 → 0543****2345."""
    if not value:
        return value
    digits = value.replace("-", "")
    if MOBILE_RE.match(digits):
        return digits[:3] + "****" + digits[-4:]
    area = value.split("-")[0] if "-" in value else digits[:4]
    return area + "****" + digits[-4:]


def mask_address(value: str | None) -> str | None:
    """Keep the first six characters (the area), hide the rest."""
    if not value:
        return value
    return value[:6] + "***"


# --- personal data in free text (issue 19; docs/privacy.md) --------------------------------------
#
# What a title, description or note may hold: an ID number (18 characters with a valid GB 11643
# checksum, or the old 15-digit form whose birth date is a real day), optionally written in its
# 6-8-4 groups with a space or hyphen between; a mobile number (1[3-9] + 9 digits, optionally
# +86/86 before it, optionally 3-4-4 with spaces or hyphens); a landline with its area code and a
# hyphen (0543-3312345). A digit run that is part of a longer run of Latin letters and digits (an
# order number, a device code, a hex key like a16645557075) is not taken; Chinese text, spaces and
# punctuation around it are (电话13812345678).
# Each becomes its masked form, the same as the party fields'.

_SEP = r"[ \-]?"
_ALNUM = "0-9A-Za-z"
_TEXT_ID18 = re.compile(
    rf"(?<![{_ALNUM}])(\d{{6}}){_SEP}(\d{{8}}){_SEP}(\d{{3}}[\dXx])(?![{_ALNUM}])"
)
_TEXT_ID15 = re.compile(rf"(?<![{_ALNUM}])(\d{{6}})(\d{{6}})(\d{{3}})(?![{_ALNUM}])")
_TEXT_MOBILE = re.compile(
    rf"(?<![{_ALNUM}+])((?:\+?86{_SEP})?)(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?![{_ALNUM}])"
)
_TEXT_LANDLINE = re.compile(rf"(?<![{_ALNUM}-])(0\d{{2,3}})-(\d{{7,8}})(?![{_ALNUM}-])")


def _old_id_valid(birth: str) -> bool:
    """A 15-digit ID number's YYMMDD (19YY) is a real day."""
    try:
        date(1900 + int(birth[:2]), int(birth[2:4]), int(birth[4:]))
    except ValueError:
        return False
    return True


def _mask_id18(m: re.Match) -> str:
    number = (m.group(1) + m.group(2) + m.group(3)).upper()
    return mask_id_number(number) if id_number_valid(number) else m.group(0)


def _mask_id15(m: re.Match) -> str:
    return mask_id_number(m.group(0)) if _old_id_valid(m.group(2)) else m.group(0)


def _mask_mobile(m: re.Match) -> str:
    return m.group(1) + m.group(2) + "****" + m.group(4)


def _mask_landline(m: re.Match) -> str:
    return m.group(1) + "****" + m.group(2)[-4:]


def find_personal(text: str | None) -> bool:
    """Whether the text holds an ID number or a phone number (mask_text would change it)."""
    return bool(text) and mask_text(text) != text


def mask_text(text: str | None) -> str | None:
    """The text with each ID number and phone number in it masked (110101********1234,
    138****5678, 0543****2345); everything else as it was. Numbers that fail the checks (an
    18-digit number whose checksum is wrong) stay."""
    if not text:
        return text
    text = _TEXT_ID18.sub(_mask_id18, text)
    text = _TEXT_ID15.sub(_mask_id15, text)
    text = _TEXT_MOBILE.sub(_mask_mobile, text)
    return _TEXT_LANDLINE.sub(_mask_landline, text)
