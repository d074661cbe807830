"""Which written notices apply to a case now: decided here, in one place (docs/notices.md).

Each kind names its legal basis, the kinds of case it is for, and the condition on the case's
state and record that makes it apply. The case page's link list, the API's list and the PDF
routes all ask `applicable`/`why_not`; nothing else decides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.cases.workflow import SETTLED_STATES


@dataclass(frozen=True)
class NoticeKind:
    kind: str
    name: object  # lazy: the document's name (the template's title may say it at more length)
    basis: str  # the provision that requires it
    case_kinds: frozenset[str]
    when: object  # a lazy message: when the notice applies
    test: Callable[[object], bool]


def _written_agreement(case) -> bool:
    agreement = case.agreement
    return (
        case.outcome == "agreement"
        and case.state in SETTLED_STATES
        and agreement is not None
        and agreement.form == "written"
    )


KINDS: dict[str, NoticeKind] = {
    k.kind: k
    for k in [
        NoticeKind(
            "acceptance",
            _l("受理告知书"),
            "信访工作条例 第二十三条",
            frozenset({"petition"}),
            _l("信访事项已受理（提级或交办后须重新受理）"),
            lambda c: c.accepted_at is not None and c.state != "rejected",
        ),
        NoticeKind(
            "refusal",
            _l("不予受理告知书"),
            "信访工作条例 第二十三条",
            frozenset({"petition"}),
            _l("信访事项已决定不予受理"),
            lambda c: c.state == "rejected" and c.outcome is None,
        ),
        NoticeKind(
            "opinion",
            _l("处理意见书"),
            "信访工作条例 第三十二条",
            frozenset({"petition"}),
            _l("信访事项已办结并有书面答复"),
            lambda c: c.state in SETTLED_STATES and bool(c.reply),
        ),
        NoticeKind(
            "agreement",
            _l("调解协议书"),
            "人民调解法 第二十九条",
            frozenset({"dispute"}),
            _l("矛盾纠纷调解成功并订有书面调解协议"),
            _written_agreement,
        ),
        NoticeKind(
            "termination",
            _l("终止调解告知书"),
            "人民调解法 第二十六条",
            frozenset({"dispute"}),
            _l("矛盾纠纷调解不成、已终止调解"),
            lambda c: c.state in SETTLED_STATES and c.outcome == "failed",
        ),
    ]
}


def why_not(case, kind: str) -> str | None:
    """Why the notice does not apply to the case now (a message), or None when it applies."""
    spec = KINDS[kind]
    if case.kind in spec.case_kinds and spec.test(case):
        return None
    return gettext(
        "此事件不适用“%(name)s”：仅在%(when)s时出具",
        name=str(spec.name),
        when=str(spec.when),
    )


def applicable(case) -> list[NoticeKind]:
    """The notices that apply to the case now, in the order of the kinds."""
    return [spec for kind, spec in KINDS.items() if why_not(case, kind) is None]
