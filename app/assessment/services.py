"""Assessment weights: read and change them (admins). Services flush, never commit."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from app.assessment.models import COMPONENT_NAMES
from app.assessment.models import COMPONENTS
from app.assessment.models import AssessmentWeight
from app.audit import services as audit
from app.core import clock
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.extensions import db


def weights() -> list[AssessmentWeight]:
    """The weight rows in the components' order, each with its display name."""
    rows = {w.component: w for w in db.session.scalars(select(AssessmentWeight))}
    out = [rows[c] for c in COMPONENTS if c in rows]
    for row in out:
        row.name = COMPONENT_NAMES[row.component]
    return out


def weight_of(component: str) -> AssessmentWeight:
    """One component's row; 404 for an unknown component."""
    row = db.session.get(AssessmentWeight, component) if component in COMPONENTS else None
    if row is None:
        raise NotFound(_("考核项不存在"))
    row.name = COMPONENT_NAMES[component]
    return row


def update_weight(row: AssessmentWeight, data: dict, version: int | None, user):
    """Change a component's weight and/or target (WeightIn loaded them); 428 without the version
    seen, 409 when it is stale (the version column also refuses a change gone stale at flush)."""
    if version is None:
        raise PreconditionRequired(_("缺少版本号：请在 If-Match 或 version 中给出"))
    if version != row.version:
        raise stale(version, row.version)
    before = {"weight": row.weight, "target": row.target}
    for name in ("weight", "target"):
        if name in data:
            setattr(row, name, data[name])
    row.updated_at = clock.now()
    db.session.flush()
    audit.record(
        "assessment.weight_update",
        actor=user,
        object_type="assessment_weight",
        object_id=row.component,
        detail={"before": before, "after": {"weight": row.weight, "target": row.target}},
    )
    return row
