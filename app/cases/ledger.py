"""The case ledger (台账): the rows an export holds, audited (the download is app/exports.py's)."""

from __future__ import annotations

import datetime as dt

from flask_login import current_user
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import aliased

from app import exports
from app import pii
from app.audit import services as audit
from app.cases import queries
from app.cases import workflow
from app.cases.models import Case
from app.cases.models import Party
from app.core import clock
from app.core import replica
from app.geo import placement
from app.geo.models import GridCell
from app.geo.models import Region
from app.privacy import freetext

MAX_EXPORT_ROWS = 50_000

# --- the ledger (台账) ----------------------------------------------------------------------

SOURCE_NAMES = {
    "grid_patrol": "网格员巡查",
    "visit": "群众来访",
    "letter": "来信",
    "phone": "电话/12345",
    "online": "网上",
    "video": "视频监控",
    "assigned": "上级交办",
    "other": "其他",
}
WARNING_NAMES = {"none": "无", "yellow": "黄牌", "red": "红牌"}
SUPERVISION_NAMES = {"none": "无", "normal": "普通", "yellow": "黄牌", "red": "红牌"}
PARTY_ROLE_NAMES = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}

# (header, column width in characters; a CJK character counts about two)
COLUMNS = (
    ("编号", 20),
    ("类型", 14),
    ("类别", 16),
    ("来源", 12),
    ("标题", 36),
    ("所属乡镇", 12),
    ("所属村", 12),
    ("网格", 16),
    ("上报时间", 18),
    ("当前层级", 10),
    ("状态", 10),
    ("受理期限", 12),
    ("办结期限", 12),
    ("预警", 8),
    ("督办", 8),
    ("办结结果", 12),
    ("当事人", 60),
    # The day it was settled (办结, or closed as not accepted / withdrawn): a ledger's 办结日期,
    # which an import reads back (docs/imports.md).
    ("办结日期", 12),
)
HEADERS = tuple(title for title, _ in COLUMNS)


def ledger_rows(args: dict) -> list[tuple]:
    """The ledger's rows for the caller's filters, oldest report first (at most the limit)."""
    town = aliased(Region)
    village = aliased(Region)
    in_filter = Case.id.in_(queries.filtered(args).with_only_columns(Case.id))
    stmt = select(
        Case.id,
        # A case imported from a county's own ledger keeps that ledger's number here, so an
        # exported ledger imports back unchanged (docs/imports.md); its GridGov number is on
        # its page.
        func.coalesce(Case.external_number, Case.number).label("number"),
        Case.kind,
        Case.category,
        Case.source,
        Case.title,
        town.name,
        village.name,
        GridCell.name,
        Case.reported_at,
        Case.level,
        Case.state,
        Case.accept_due,
        Case.resolve_due,
        Case.warning,
        Case.supervision,
        Case.outcome,
        func.coalesce(Case.resolved_at, Case.closed_at).label("settled_at"),
    )
    stmt = placement.join_places(stmt, Case, town, village)
    rows = exports.capped_rows(
        stmt.where(in_filter).order_by(Case.reported_at, Case.id),
        MAX_EXPORT_ROWS,
        f"符合条件的事件超过 {MAX_EXPORT_ROWS} 条，无法一次导出："
        "请缩小筛选范围（如上报时间、区域或状态）后分批导出",
    )
    parties = party_texts(args)
    # A revealing export shows the titles as typed too (docs/privacy.md).
    titles = freetext.clear_values("cases", "title", [r.id for r in rows]) if args["reveal"] else {}
    return [
        (
            r.number,
            workflow.KIND_NAMES.get(r.kind, r.kind),
            r.category,
            SOURCE_NAMES.get(r.source, r.source),
            titles.get(r.id, r.title),
            r[6],
            r[7],
            r[8],
            r.reported_at.astimezone(clock.SHANGHAI).replace(tzinfo=None),
            workflow.LEVEL_NAMES.get(r.level, r.level),
            workflow.STATE_NAMES.get(r.state, r.state),
            r.accept_due,
            r.resolve_due,
            WARNING_NAMES.get(r.warning, r.warning),
            SUPERVISION_NAMES.get(r.supervision, r.supervision),
            workflow.OUTCOMES.get(r.kind, {}).get(r.outcome, r.outcome) if r.outcome else None,
            "；".join(parties.get(r.id, ())),
            clock.local_date(r.settled_at) if r.settled_at else None,
        )
        for r in rows
    ]


def party_texts(args: dict) -> dict[int, list[str]]:
    """Each case's parties as text: masked copies, or decrypted ones when revealing."""
    in_filter = Party.case_id.in_(queries.filtered(args).with_only_columns(Case.id))
    if args["reveal"]:
        columns = (Party.name_enc, Party.id_number_enc, Party.phone_enc)
    else:
        # Only the masked columns are read: the ciphertexts never leave the database.
        columns = (Party.name_masked, Party.id_number_masked, Party.phone_masked)
    stmt = (
        select(Party.case_id, Party.role, *columns)
        .where(in_filter)
        .order_by(Party.case_id, Party.id)
    )
    out: dict[int, list[str]] = {}
    for case_id, role, name, id_number, phone in replica.session().execute(stmt):
        if args["reveal"]:
            name, id_number, phone = pii.decrypt(name), pii.decrypt(id_number), pii.decrypt(phone)
            name = name or "（已去标识化）"  # past retention (docs/privacy.md)
        details = "，".join(v for v in (id_number, phone) if v)
        label = f"{PARTY_ROLE_NAMES.get(role, role)}：{name}"
        out.setdefault(case_id, []).append(f"{label}（{details}）" if details else label)
    return out


def audited_filters(args: dict) -> dict:
    """The filters as the audit log keeps them: JSON values, and no ID number in clear."""
    out = {}
    for key, value in args.items():
        if key == "reveal" or value is None:
            continue
        if key == "party_id_number":
            value = pii.mask_id_number(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out


def export_rows(args: dict, fmt: str) -> list[tuple]:
    """The ledger's rows for an export, audited (the filters, the count, whether revealed)."""
    rows = ledger_rows(args)
    audit.record(
        "cases.export",
        object_type="cases",
        region_code=exports.audit_region(args, current_user),
        detail={
            "format": fmt,
            "filters": audited_filters(args),
            "rows": len(rows),
            "revealed": bool(args["reveal"]),
            **exports.regions_audited(args, current_user),
        },
    )
    return rows
