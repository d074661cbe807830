"""Notice templates (read, edit with a version check) and notices generated from a case.

A notice names the parties in clear: generating one is a reveal (the callers hold
`cases.reveal` and loaded the case in their scope), audited as `cases.notice`. Notices are
always in Chinese, whatever the page's language: they are legal documents.
"""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from app import pii
from app.accounts.models import User
from app.audit import services as audit
from app.cases import workflow
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.core import clock
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.documents import kinds
from app.documents import render
from app.documents.models import NOTICE_KINDS
from app.documents.models import NoticeTemplate
from app.extensions import db
from app.resident import receipts

PARTY_ROLES = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}
GROUNDS = {
    "outside_remit": "不属于本机关职权范围",
    "other_route": "应当通过诉讼、仲裁、行政复议等法定途径解决",
    "same_matter": "同一信访事项正在办理或已经复核",
    "after_re_review": "复核后以同一事实和理由提出",
    "other": "",
}
# Where a 处理意见书 sends a 复查 request: the level above the case's (第三十五条).
REVIEW_TO_COUNTY = "上一级人民政府信访工作机构"


# --- templates -----------------------------------------------------------------------------------


def templates() -> list[NoticeTemplate]:
    """The five templates, in the kinds' order."""
    rows = {t.kind: t for t in db.session.scalars(select(NoticeTemplate))}
    return [rows[k] for k in NOTICE_KINDS if k in rows]


def template(kind: str) -> NoticeTemplate:
    """One template by kind (404 for an unknown kind)."""
    row = db.session.scalar(select(NoticeTemplate).where(NoticeTemplate.kind == kind))
    if row is None:
        raise NotFound(_("没有这种文书：%(kind)s", kind=kind))
    return row


def check_version(row: NoticeTemplate, version: int | None) -> None:
    """428 without the version the caller saw; 409 when someone saved the template since."""
    if version is None:
        raise PreconditionRequired(_("缺少版本号：请在 If-Match 头或 version 字段中给出版本"))
    if version != row.version:
        raise stale(version, row.version, _("该文书模板已被他人修改，您的修改没有保存"))


def update_template(row: NoticeTemplate, data: dict, user) -> NoticeTemplate:
    """Change a template's title and/or body (422 naming the line of a body that does not
    compile or render); the version steps on flush, and the change is audited."""
    if "body" in data:
        render.check(data["body"])
    changed = {k: v for k, v in data.items() if v != getattr(row, k)}
    if not changed:
        return row
    for key, value in changed.items():
        setattr(row, key, value)
    row.updated_by_id = user.id
    row.updated_at = clock.now()
    audit.record(
        "notices.template_update",
        actor=user,
        object_type="notice_template",
        object_id=row.kind,
        detail={"fields": sorted(changed), "from_version": row.version},
    )
    db.session.flush()
    return row


def preview(body: str) -> Markup:
    """A template rendered with the sample variables, as the edit page shows it (422 if bad)."""
    return render.render_body(body, render.SAMPLE)


# --- notices -------------------------------------------------------------------------------------


def names(case: Case, role: str) -> list[str]:
    """The full names of the case's parties in one role."""
    return [pii.decrypt(p.name_enc) for p in case.parties if p.role == role]


def unit_name(case: Case) -> str:
    """The handling body by the case's level: 测试县, 测试县甲镇 or 测试县甲镇东村."""
    parts = [case.county.name]
    if case.level in ("town", "village"):
        parts.append(case.town.name)
    if case.level == "village":
        parts.append(case.village.name)
    return "".join(parts)


def review_to(case: Case) -> str:
    """Where a 复查 of the case's reply is asked for: the level above it."""
    if case.level == "village":
        return f"{case.town.name}人民政府"
    if case.level == "town":
        return f"{case.county.name}人民政府信访工作机构"
    return REVIEW_TO_COUNTY


def last_event_data(case: Case, action: str) -> dict:
    """The data of the case's latest event of an action (empty when there is none)."""
    data = db.session.scalar(
        select(CaseEvent.data)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == action)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return data or {}


def mediator_names(case: Case) -> str:
    if not case.mediator_ids:
        return ""
    rows = db.session.scalars(select(User.display_name).where(User.id.in_(case.mediator_ids)))
    return "、".join(rows)


def context(case: Case) -> dict:
    """The variables a notice template is rendered with (docs/notices.md)."""
    d = render.date_cn
    parties = [
        {
            "role": PARTY_ROLES[p.role],
            "name": pii.decrypt(p.name_enc),
            "address": pii.decrypt(p.address_enc) or "",
        }
        for p in case.parties
    ]
    agreement = case.agreement
    rejected = case.state == "rejected"
    return {
        "county": case.county.name,
        "town": case.town.name,
        "village": case.village.name,
        "unit": unit_name(case),
        "number": case.number,
        "title": case.title,
        "category": case.category,
        "kind_name": workflow.KIND_NAMES[case.kind],
        "reported_on": d(case.reported_at and clock.local_date(case.reported_at)),
        "accepted_on": d(case.accepted_at and clock.local_date(case.accepted_at)),
        "resolved_on": d(case.resolved_at and clock.local_date(case.resolved_at)),
        "rejected_on": d(case.closed_at and clock.local_date(case.closed_at)) if rejected else "",
        "issued_on": d(clock.today()),
        "resolve_due": d(case.resolve_due),
        "applicants": "、".join(names(case, "applicant")),
        "respondents": "、".join(names(case, "respondent")),
        "third_parties": "、".join(names(case, "third_party")),
        "parties_named": "、".join(p["name"] for p in parties),
        "parties": parties,
        "reason": (case.outcome_note or "") if rejected else "",
        "ground": GROUNDS.get(case.rejection_ground or "", ""),
        "competent_body": case.competent_body or "",
        "routes_told": "、".join(case.routes_told or []),
        "notice_text": case.rejection_notice or "",
        "outcome": workflow.OUTCOMES.get(case.kind, {}).get(case.outcome or "", ""),
        "outcome_note": "" if rejected else (case.outcome_note or ""),
        "reply": case.reply or "",
        "review_to": review_to(case),
        "review_due": d(case.review_request_due),
        "agreement": {
            "facts": agreement.facts or "",
            "responsibilities": agreement.responsibilities or "",
            "terms": agreement.terms,
            "performance_method": agreement.performance_method or "",
            "performance_due": d(agreement.performance_due),
            "signed_on": d(agreement.signed_on),
            "agreed_by": agreement.agreed_by or "",
        }
        if agreement is not None
        else {},
        "mediators": mediator_names(case),
        "routes_informed": "、".join(last_event_data(case, "resolve").get("routes_informed") or []),
        "progress_url": receipts.progress_url(case.number),
    }


def spec(kind: str) -> kinds.NoticeKind:
    """The kind's rule (404 for an unknown kind)."""
    if kind not in kinds.KINDS:
        raise NotFound(_("没有这种文书：%(kind)s", kind=kind))
    return kinds.KINDS[kind]


def notice_pdf(case: Case, kind: str, user) -> bytes:
    """The notice as PDF, if it applies to the case now (else 422); audited as a reveal."""
    spec(kind)
    why_not = kinds.why_not(case, kind)
    if why_not is not None:
        allowed = [k.kind for k in kinds.applicable(case)]
        raise Invalid(why_not, {"kind": [why_not], "applicable": allowed})
    row = template(kind)
    values = context(case)
    body = render.render_body(row.body, values)
    qr = Markup(receipts.qr_svg(values["progress_url"]))
    document = render.pdf(render.page_html(row.title, body, values, qr))
    audit.record(
        "cases.notice",
        actor=user,
        object_type="case",
        object_id=case.number,
        region_code=case.region_code,
        detail={"kind": kind, "template_version": row.version, "parties_revealed": True},
    )
    return document
