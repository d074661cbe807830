"""The warning rules' parameters: their defaults (DOMAIN §10), types and bounds, in one table.

The migration seeds `warning_rules` from DEFAULTS; the admin API and page validate an edit
against PARAMS (an unknown key, a wrong type or a value out of bounds is a 422 naming the key);
app/warnings/services.py reads the stored values. docs/warnings.md's thresholds table is
`markdown()`'s output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.cases.models import LEVELS as CASE_LEVELS
from app.cases.models import SOURCES
from app.core.errors import Invalid

KIND_NAMES = {
    "hotspot": _l("新发热点"),
    "repeat_party": _l("重复当事人"),
    "group": _l("群体性事件"),
    "bypass": _l("越级"),
    "risk_point": _l("风险点"),
}


@dataclass(frozen=True)
class Param:
    """One parameter: its type (int, float, bool, or a list of choices), bounds and meaning."""

    type: type | tuple
    default: object
    meaning: str
    low: float | None = None
    high: float | None = None


PARAMS: dict[str, dict[str, Param]] = {
    "hotspot": {
        "window_days": Param(int, 14, "the recent window, days", 1, 90),
        "min_cases": Param(int, 3, "at least this many cases in the window", 2, 100),
        "baseline_months": Param(int, 12, "the baseline: months before the window", 1, 36),
        "p_value": Param(float, 0.01, "Poisson P(X ≥ observed) below this", 0.000001, 0.2),
        # A cell with no history would make any 3 cases "impossible": its baseline is at least
        # this many cases over the baseline period.
        "min_baseline": Param(float, 0.5, "floor of the baseline count", 0.0, 100.0),
        "cell": Param(bool, True, "watch each grid cell"),
        "village": Param(bool, True, "watch each village"),
    },
    "repeat_party": {
        "months": Param(int, 12, "cases of the same person within these months", 1, 60),
        "min_cases": Param(int, 3, "at least this many cases", 2, 50),
        "while_open": Param(bool, True, "also warn on a new case while another is open"),
    },
    "group": {
        "min_people": Param(int, 5, "at least this many parties on one case", 2, 500),
        "group_visit": Param(bool, True, "a case flagged 集体访 warns"),
    },
    "bypass": {
        "levels": Param(tuple(CASE_LEVELS), ["county"], "first reported at these levels"),
        "sources": Param(
            tuple(SOURCES),
            ["visit", "letter", "phone", "online", "video"],
            "brought by a resident through these sources (not found on patrol)",
        ),
    },
    "risk_point": {
        "abnormal_in_row": Param(int, 3, "this many abnormal inspections in a row", 2, 20),
        "red_overdue": Param(bool, True, "a red point's inspection overdue warns"),
    },
}

DEFAULTS: dict[str, dict] = {
    kind: {key: p.default for key, p in params.items()} for kind, params in PARAMS.items()
}


def _problem(param: Param, value) -> str | None:
    if param.type is bool:
        return None if isinstance(value, bool) else _("应为 true 或 false")
    if param.type in (int, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if param.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            return _("应为整数") if param.type is int else _("应为数字")
        if (param.low is not None and value < param.low) or (
            param.high is not None and value > param.high
        ):
            return _("应在 %(low)s 至 %(high)s 之间", low=param.low, high=param.high)
        return None
    choices = param.type
    if not isinstance(value, list) or not all(v in choices for v in value):
        return _("应为以下取值的列表：%(values)s", values=", ".join(choices))
    return None


def validated(kind: str, params: dict) -> dict:
    """The stored parameters with `params` applied; 422 naming each bad key under params."""
    table = PARAMS[kind]
    errors = {}
    for key, value in params.items():
        if key not in table:
            errors[key] = [_("未知参数，可用：%(keys)s", keys=", ".join(table))]
        elif (problem := _problem(table[key], value)) is not None:
            errors[key] = [problem]
    if errors:
        raise Invalid(_("预警规则参数有误"), {"json": {"params": errors}})
    return params


def markdown() -> str:
    """The thresholds table for docs/warnings.md."""
    lines = ["| kind | parameter | default | meaning |", "|---|---|---|---|"]
    for kind, params in PARAMS.items():
        for key, p in params.items():
            default = json.dumps(p.default, ensure_ascii=False)
            lines.append(f"| `{kind}` | `{key}` | `{default}` | {p.meaning} |")
    return "\n".join(lines) + "\n"
