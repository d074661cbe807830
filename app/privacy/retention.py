"""Retention (DOMAIN §7, docs/privacy.md): a policy per kind; closed cases past it de-identified.

`plan()` says what a run would do and writes nothing; `run()` does it. A case past its policy
loses its parties' encrypted values and hashes, the personal data in its free text (cases, events,
follow-ups, dispatches: masked in the database by `gridgov_mask_text`; case_events through the
migration's SECURITY DEFINER function), the clear originals and its attachments' files. What the
measures count stays (kind, category, dates, levels, regions, outcome, the masked copies). A case
with a mediation agreement (人民调解法 第二十七条: the 卷宗 is archived) keeps everything but is
marked archived: no longer processed, out of lists and exports except the archive view.
"""

from __future__ import annotations

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.audit import services as audit
from app.cases.models import Agreement
from app.cases.models import Case
from app.cases.models import Party
from app.core import clock
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.dispatch.models import Dispatch
from app.extensions import db
from app.privacy import freetext
from app.privacy.models import RetentionPolicy

CASE_KINDS = ("dispute", "petition", "incident")
ENDED_STATES = ("closed", "rejected", "withdrawn")
# The shortest a policy may be, by law: security logs six months (网络安全法 第二十一条).
MIN_MONTHS = {"audit_log": 6}
MAX_MONTHS = 1200
FIRST_IDS = 10


# --- the policies --------------------------------------------------------------------------------


def policies() -> list[RetentionPolicy]:
    """Every kind's policy."""
    return list(db.session.scalars(select(RetentionPolicy).order_by(RetentionPolicy.kind)))


def policy_of(kind: str) -> RetentionPolicy:
    """One kind's policy, or 404."""
    row = db.session.get(RetentionPolicy, kind)
    if row is None:
        raise NotFound(_("没有这类保存期限：%(kind)s", kind=kind))
    return row


def update_policy(row: RetentionPolicy, data: dict, version: int | None, user) -> RetentionPolicy:
    """Change a kind's months (and basis), with the version seen: 428 without it, 409 stale,
    422 below the legal minimum."""
    if version is None:
        raise PreconditionRequired(_("缺少版本号：请在 If-Match 或 version 中给出"))
    if version != row.version:
        raise stale(version, row.version)
    least = MIN_MONTHS.get(row.kind, 1)
    months = data.get("months", row.months)
    if not least <= months <= MAX_MONTHS:
        message = _("保存期限应为 %(least)s 至 %(most)s 个月", least=least, most=MAX_MONTHS)
        raise Invalid(message, errors={"json": {"months": [message]}})
    before = {"months": row.months, "basis": row.basis}
    row.months = months
    row.basis = data.get("basis", row.basis)
    row.updated_at = clock.now()
    row.updated_by_id = user.id
    db.session.flush()
    audit.record(
        "retention.policy_update",
        actor=user,
        object_type="retention_policy",
        object_id=row.kind,
        detail={"before": before, "after": {"months": row.months, "basis": row.basis}},
    )
    return row


# --- what is due ---------------------------------------------------------------------------------


def due(now=None) -> dict[str, list[tuple[int, str, bool]]]:
    """Ended cases past their kind's policy, not yet done: kind → [(id, number, archive?)]."""
    now = now or clock.now()
    months = {p.kind: p.months for p in policies()}
    out: dict[str, list[tuple[int, str, bool]]] = {}
    for kind in CASE_KINDS:
        if kind not in months:
            continue
        cutoff = now - relativedelta(months=months[kind])
        rows = db.session.execute(
            select(
                Case.id,
                Case.number,
                exists().where(Agreement.case_id == Case.id).label("archive"),
            )
            .where(
                Case.kind == kind,
                Case.state.in_(ENDED_STATES),
                Case.closed_at < cutoff,
                Case.deidentified_at.is_(None),
                Case.archived_at.is_(None),
            )
            .order_by(Case.id)
        ).all()
        out[kind] = [(r.id, r.number, r.archive) for r in rows]
    return out


def plan(now=None) -> dict:
    """What a run would do, per kind: counts and the first case numbers. Writes nothing."""
    result = {}
    for kind, rows in due(now).items():
        deid = [r for r in rows if not r[2]]
        arch = [r for r in rows if r[2]]
        result[kind] = {
            "deidentify": len(deid),
            "archive": len(arch),
            "first": [r[1] for r in (deid + arch)[:FIRST_IDS]],
        }
    return result


def run(actor=None, now=None, record_empty: bool = True) -> dict:
    """De-identify (or archive) every case past its policy; audited once per case and once for
    the run with the counts (a run that found nothing only when `record_empty`: the sweep's
    runs do not fill the log). Flushes; the caller commits."""
    now = now or clock.now()
    result = plan(now)
    for kind, rows in due(now).items():
        for case_id, number, archive in rows:
            case = db.session.get(Case, case_id)
            detail = archive_case(case, now) if archive else deidentify_case(case, now)
            audit.record(
                "retention.archive" if archive else "retention.deidentify",
                actor=actor or False,
                object_type="case",
                object_id=number,
                region_code=case.region_code,
                detail={"kind": kind, **detail},
            )
    if record_empty or any(row["deidentify"] or row["archive"] for row in result.values()):
        audit.record("retention.run", actor=actor or False, object_type="retention", detail=result)
    return result


# --- one case ------------------------------------------------------------------------------------

CASE_TEXT = freetext.FIELDS["cases"]
DISPATCH_TEXT = freetext.FIELDS["dispatches"]


def archive_case(case: Case, now) -> dict:
    """Kept as law requires, no longer processed (个人信息保护法 第四十七条)."""
    case.archived_at = now
    db.session.flush()
    return {"archived": True}


def deidentify_case(case: Case, now) -> dict:
    """Remove the case's personal data; keep what the measures count."""
    parties = db.session.execute(
        update(Party)
        .where(Party.case_id == case.id)
        .values(
            name_enc=None,
            id_number_enc=None,
            phone_enc=None,
            address_enc=None,
            name_hash=None,
            id_number_hash=None,
            phone_hash=None,
        )
    ).rowcount
    masked = {name: func.gridgov_mask_text(getattr(Case, name)) for name in CASE_TEXT}
    db.session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(**masked, deidentified_at=now, version=Case.version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        text("UPDATE follow_ups SET note = gridgov_mask_text(note) WHERE case_id = :id"),
        {"id": case.id},
    )
    db.session.execute(
        update(Dispatch)
        .where(Dispatch.case_id == case.id)
        .values(**{n: func.gridgov_mask_text(getattr(Dispatch, n)) for n in DISPATCH_TEXT})
        .execution_options(synchronize_session=False)
    )
    events = db.session.scalar(text("SELECT deidentify_case_events(:id)"), {"id": case.id})
    originals = freetext.forget(case.id)
    files = remove_files(case)
    db.session.expire(case)
    return {"parties": parties, "events_masked": events, "originals": originals, "files": files}


def remove_files(case: Case) -> int:
    """Delete the case's attachments (its photos and its dispatches' files) and their files on
    disk unless another record holds the same bytes."""
    dispatch_ids = select(Dispatch.id).where(Dispatch.case_id == case.id)
    rows = list(
        db.session.scalars(
            select(Attachment).where(
                ((Attachment.owner_type == "case") & (Attachment.owner_id == case.id))
                | ((Attachment.owner_type == "dispatch") & Attachment.owner_id.in_(dispatch_ids))
            )
        )
    )
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    for row in rows:
        still = db.session.scalar(select(exists().where(Attachment.sha256 == row.sha256)))
        if not still:
            for path in (attachments.path_for(row.sha256), attachments.legacy_path(row.sha256)):
                path.unlink(missing_ok=True)
    return len(rows)
