"""The audited reveal of a case's free text (the clear originals, app/privacy/freetext.py)."""

from __future__ import annotations

from flask_babel import gettext as _

from app.audit import services as audit
from app.cases.models import Case
from app.core.errors import Conflict
from app.privacy import freetext


def reveal_text(case: Case, purpose: str, reason: str | None = None) -> dict:
    """The clear text of the case's titles, descriptions and notes that held personal data;
    audited with its purpose like a party's reveal. A de-identified or archived case has none
    to give (409)."""
    if case.deidentified_at or case.archived_at:
        raise Conflict(_("该事件已去标识化或归档，不再处理个人信息"))
    items = freetext.originals(case.id)
    audit.record(
        "cases.reveal_text",
        object_type="case",
        object_id=case.number,
        region_code=case.region_code,
        detail={"purpose": purpose, "reason": reason, "fields": len(items)},
    )
    return {"number": case.number, "items": items}
