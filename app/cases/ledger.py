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
from app.core.errors import BadRequest
from app.geo import placement
from app.geo.models import GridCell
from app.geo.models import Region
from app.privacy import freetext

# At most this many rows in one export (an xlsx sheet holds 1,048,576): CSV streams them, an
# xlsx of more than EXPORT_XLSX_DIRECT_ROWS (config) is built by a job (app/exports.py).
MAX_EXPORT_ROWS = 1_000_000

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


def ledger_stmt(args: dict, user=None):
    """The ledger's statement for the caller's filters (`user`'s, else the signed-in one's),
    oldest report first."""
    town = aliased(Region)
    village = aliased(Region)
    in_filter = Case.id.in_(queries.filtered(args, user).with_only_columns(Case.id))
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
    return stmt.where(in_filter).order_by(Case.reported_at, Case.id)


def refusal() -> str:
    """What an export over the limit answers."""
    return (
        f"符合条件的事件超过 {MAX_EXPORT_ROWS} 条，无法一次导出："
        "请缩小筛选范围（如上报时间、区域或状态）后分批导出"
    )


def count_rows(args: dict, user=None) -> int:
    """How many rows the ledger holds for the caller's filters (the export's audited count)."""
    stmt = select(func.count()).select_from(
        queries.filtered(args, user).with_only_columns(Case.id).subquery()
    )
    return replica.session().scalar(stmt)


def ledger_rows(args: dict) -> list[tuple]:
    """The ledger's rows for the caller's filters, oldest report first (at most the limit)."""
    rows = exports.capped_rows(ledger_stmt(args), MAX_EXPORT_ROWS, refusal())
    return shaped(rows, args)


def iter_ledger_rows(args: dict, batch: int = 2000, user=None):
    """The same rows as `ledger_rows`, a batch at a time over a server-side cursor.

    A batch's parties and clear titles are read for its cases only, so memory stays that of
    one batch whatever the ledger's length (a 500,000-row CSV streams; bench/NOTES.md).
    """
    stmt = ledger_stmt(args, user).execution_options(yield_per=batch)
    for part in replica.session().execute(stmt).partitions():
        yield from shaped(part, args)


def shaped(rows, args: dict) -> list[tuple]:
    """Ledger rows as the file shows them: names for codes, parties and titles as allowed."""
    ids = [r.id for r in rows]
    parties = party_texts(args, ids)
    # A revealing export shows the titles as typed too (docs/privacy.md).
    titles = freetext.clear_values("cases", "title", ids) if args["reveal"] else {}
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


def party_texts(args: dict, ids: list[int]) -> dict[int, list[str]]:
    """Each of these cases' parties as text: masked copies, or decrypted ones when revealing."""
    if not ids:
        return {}
    in_filter = Party.case_id.in_(ids)
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
    audit_export(args, fmt, len(rows))
    return rows


def export_count(args: dict, fmt: str) -> int:
    """Count and audit an export whose rows come later (streamed, or by a job): the count."""
    count = count_rows(args)
    if count > MAX_EXPORT_ROWS:
        raise BadRequest(refusal(), errors={"max_rows": MAX_EXPORT_ROWS})
    audit_export(args, fmt, count)
    return count


def audit_export(args: dict, fmt: str, count: int) -> None:
    """The export's audit entry: the filters, the count, whether revealed, the regions."""
    audit.record(
        "cases.export",
        object_type="cases",
        region_code=exports.audit_region(args, current_user),
        detail={
            "format": fmt,
            "filters": audited_filters(args),
            "rows": count,
            "revealed": bool(args["reveal"]),
            **exports.regions_audited(args, current_user),
        },
    )
