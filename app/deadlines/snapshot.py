"""The deadline policy and the holiday calendar as one snapshot per process, kept by data version.

Every clock reads both (a report starts one or two clocks), and building the calendar validates
every bundled and entered year: parsed once per data version instead of on every call. The
tables bump data_versions 'deadlines' by statement triggers in the writer's own transaction
(migration 0028), each time with a number no state ever had before (a sequence), so an edit is
seen by the next statement that reads the version, in every process, and a version seen inside a
transaction that rolled back never names other contents later.

The version is read before the rows: rows committed in between make the snapshot newer than its
key, never older, and the next reader's version then differs and loads again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy import text

from app.deadlines.calendar import HolidayCalendar
from app.deadlines.holidays_cn import bundled_data
from app.deadlines.models import DeadlinePolicy
from app.deadlines.models import HolidayYear
from app.extensions import db

VERSION_SQL = text("SELECT version FROM data_versions WHERE name = 'deadlines' AND stripe = 0")


@dataclass(frozen=True)
class Rule:
    """One row of deadline_policies, as read at a data version."""

    id: int
    kind: str
    level: str
    clock: str
    variant: str
    days: int
    unit: str
    source: str | None
    warn_percent: int


@dataclass(frozen=True)
class Snapshot:
    """The policy's rules (by kind and clock) and the calendar at one data version."""

    version: int | None
    rules: dict[tuple[str, str], tuple[Rule, ...]]
    calendar: HolidayCalendar

    def rule_for(self, kind: str, level: str, name: str, variant: str | None = None) -> Rule | None:
        """The most specific rule: exact level and variant first, then the '*' wildcards."""
        rows = [
            r
            for r in self.rules.get((kind, name), ())
            if r.level in (level, "*") and r.variant in (variant or "*", "*")
        ]
        rows.sort(key=lambda r: (r.level == "*", r.variant == "*"))
        return rows[0] if rows else None

    def spec(self, kind: str, level: str, name: str, variant: str | None = None) -> dict | None:
        """The rule a clock starts with, as a case keeps it ({"days", "unit", "percent"})."""
        row = self.rule_for(kind, level, name, variant)
        if row is None:
            return None
        return {"days": row.days, "unit": row.unit, "percent": row.warn_percent}


# The process's one cache slot, replaced whole (a dict item assignment is atomic across threads),
# keyed by the database as well: a process may serve more than one (the tests' scratch ones).
_CACHE: dict[str, tuple[object, Snapshot]] = {}


def current() -> Snapshot:
    """The snapshot at the data version the caller's transaction sees (one cheap statement when
    it is cached; the rows and the calendar's years otherwise)."""
    version = db.session.execute(VERSION_SQL).scalar()
    held = _CACHE.get("snapshot")
    if version is not None and held and held[0] is db.engine and held[1].version == version:
        return held[1]
    snapshot = load(version)
    if version is not None:
        _CACHE["snapshot"] = (db.engine, snapshot)
    return snapshot


def load(version: int | None) -> Snapshot:
    """Read the rules and the entered years afresh (the plain path the cache stands for)."""
    grouped: dict[tuple[str, str], list[Rule]] = {}
    for row in db.session.scalars(select(DeadlinePolicy).order_by(DeadlinePolicy.id)):
        rule = Rule(
            id=row.id,
            kind=row.kind,
            level=row.level,
            clock=row.clock,
            variant=row.variant,
            days=row.days,
            unit=row.unit,
            source=row.source,
            warn_percent=row.warn_percent,
        )
        grouped.setdefault((rule.kind, rule.clock), []).append(rule)
    extra = {
        row.year: {"holidays": row.holidays or [], "workdays": row.workdays or []}
        for row in db.session.scalars(select(HolidayYear))
    }
    calendar = HolidayCalendar.from_data(bundled_data(), extra)
    return Snapshot(version, {k: tuple(v) for k, v in grouped.items()}, calendar)
