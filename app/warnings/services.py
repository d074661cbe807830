"""Raise, update, acknowledge and handle early warnings (flush, never commit).

`scan_case(case_id)` evaluates only what one case touches: its cell's and village's counts of
its category, its parties' keyed hashes, its level, its people. `scan_risk_points()` looks at
the points whose last inspection was abnormal or whose red inspection is overdue, and `scan()`
is the full pass (`flask warnings scan`). Each rule reads its thresholds from `warning_rules`.

Never raised twice for the same thing: every warning has a key (docs/warnings.md); while a
warning with that key is open or acknowledged, new evidence updates it (observed count, cases,
last seen) and nobody is told again. A handled key may warn again only on new evidence: cases a
handled hotspot or repeat-party warning counted are not counted again, a risk point's abnormal
streak restarts after the handled warning, and an overdue warning belongs to one due date.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from dataclasses import field
from types import SimpleNamespace

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import TextClause
from sqlalchemy import select
from sqlalchemy import text

from app.audit import services as audit
from app.cases import workflow
from app.cases.models import Case
from app.core import clock
from app.core import fast
from app.core.errors import Conflict
from app.extensions import db
from app.geo.models import Region
from app.notify.services import PERSON_COLUMNS
from app.notify.services import emit_to
from app.notify.services import person
from app.risks.models import RiskPoint
from app.warnings import rules
from app.warnings.models import LIVE_STATES
from app.warnings.models import EarlyWarning
from app.warnings.models import WarningRule

# The rules' data version (migration 0033) and the name they are kept by (`scan_rules`).
RULES = "warning_rules"
LIVE_SQL = "state IN ('open', 'acknowledged')"
OPEN_STATES = sorted(workflow.OPEN_STATES)


@functools.cache
def statement(sql: str) -> TextClause:
    """The `text()` of one of this module's constant statements, made once: parsing a long
    statement's parameters again on every scan cost ~0.5 ms (EVIDENCE_SQL's)."""
    return text(sql)


def params(kind: str) -> dict | None:
    """The kind's thresholds (defaults under any key not stored), or None when it is off."""
    return _merged(kind, db.session.scalar(select(WarningRule).where(WarningRule.kind == kind)))


def _merged(kind: str, row: WarningRule | None) -> dict | None:
    if row is not None and not row.enabled:
        return None
    return {**rules.DEFAULTS[kind], **(row.params if row else {})}


def poisson_tail(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(lam), summed upward in log space (no scipy, no overflow)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    total = 0.0
    for i in range(k, k + 400):
        term = math.exp(i * math.log(lam) - lam - math.lgamma(i + 1))
        total += term
        if i > lam and term < total * 1e-12:
            break
    return min(total, 1.0)


def about(value: float) -> str:
    """An expected count as a sentence shows it: one decimal, two below 0.1."""
    return f"{value:.2f}" if value < 0.1 else f"{value:.1f}"


# --- where a warning is --------------------------------------------------------------------------


@dataclass
class Place:
    """The regions of a warning, its scoping code, its map point and the name it is called by."""

    level: str
    town_id: int
    county_id: int
    region_code: str
    wkt: str
    name: str
    village_id: int | None = None
    grid_cell_id: int | None = None


def _names(town_id: int, village_id: int | None) -> str:
    ids = [i for i in (town_id, village_id) if i]
    found = dict(db.session.execute(select(Region.id, Region.name).where(Region.id.in_(ids))).all())
    return "".join(found[i] for i in ids)


def case_place(case: Case, level: str, ev: Evidence | None = None) -> Place:
    """A warning about one case: at the case's point (from the scan's evidence when read)."""
    if ev is not None:
        wkt, names = ev.row.case_wkt, ev.names
    else:
        wkt = db.session.scalar(
            text("SELECT ST_AsText(location) FROM cases WHERE id = :id"), {"id": case.id}
        )
        names = _names(case.town_id, case.village_id)
    return Place(
        level,
        case.town_id,
        case.county_id,
        case.region_code,
        wkt,
        names,
        case.village_id,
        case.grid_cell_id,
    )


# --- raise or update -----------------------------------------------------------------------------


@dataclass
class Finding:
    """What a rule found: the warning's key and its evidence."""

    kind: str
    key: str
    place: Place
    observed: int
    explanation: str
    expected: float | None = None
    p_value: float | None = None
    category: str | None = None
    case_ids: list[int] = field(default_factory=list)
    risk_point_id: int | None = None
    party_hash: str | None = None


@dataclass
class Outcome:
    """What one scan did: the warnings raised and those updated with new evidence."""

    raised: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        """Fold another scan's outcome into this one."""
        self.raised += [i for i in other.raised if i not in self.raised]
        self.updated += [i for i in other.updated if i not in self.updated + self.raised]


# A new warning and whom to tell, in one statement: the INSERT skips on the live-key index
# (uq_warnings_live_key); when it inserts, its row is joined to the active officials of the
# warning's regions (`chain`) with what `emit` needs of them (notify.PERSON_COLUMNS), so the
# recipients (`recipients_of`) and their notification settings need no statements of their own.
RAISE_SQL = f"""
WITH w AS (
  INSERT INTO warnings (kind, dedup_key, state, level, grid_cell_id, village_id, town_id,
                        county_id, region_code, category, case_ids, risk_point_id, party_hash,
                        geom, first_seen_at, last_seen_at, version, observed, expected, p_value,
                        explanation)
  VALUES (:kind, :key, 'open', :level, :cell, :village, :town, :county, :code, :category,
          CAST(:case_ids AS integer[]), :point, :party_hash, ST_GeomFromText(:wkt, 4326),
          :moment, :moment, 1, :observed, :expected, :p_value, :explanation)
  ON CONFLICT (dedup_key) WHERE {LIVE_SQL} DO NOTHING
  RETURNING id
)
SELECT w.id, u.id AS user_id, u.region_id, {PERSON_COLUMNS}
  FROM w
  LEFT JOIN (users u LEFT JOIN notification_settings s ON s.user_id = u.id)
    ON u.region_id = ANY(CAST(:chain AS integer[])) AND u.role = 'official' AND u.active
 ORDER BY u.id
"""


def chain(level: str, village_id: int | None, town_id: int, county_id: int) -> list[int]:
    """The regions whose officials answer for a warning of that level, nearest first."""
    regions = {
        "village": [village_id, town_id, county_id],
        "town": [town_id, county_id],
        "county": [county_id],
    }[level]
    return [region_id for region_id in regions if region_id]


def recipients_of(regions: list[int], officials) -> list[int]:
    """The officials of the warning's level (its village's, or its town's), else the next up:
    of (region id, user id) pairs in user id order, those of the first region that has any."""
    found: dict[int, list[int]] = {}
    for region_id, user_id in officials:
        found.setdefault(region_id, []).append(user_id)
    return next((found[region_id] for region_id in regions if region_id in found), [])


def record(finding: Finding, outcome: Outcome) -> int:
    """Raise the finding's warning, or update the live one with its key; tell on raising only.
    Answers the warning's id.

    The insert skips on the live-key index (uq_warnings_live_key), so two scans racing on the
    same thing make one warning.
    """
    moment = clock.now()
    place = finding.place
    evidence = {
        "observed": finding.observed,
        "expected": finding.expected,
        "p_value": finding.p_value,
        "explanation": finding.explanation,
    }
    regions = chain(place.level, place.village_id, place.town_id, place.county_id)
    rows = db.session.execute(
        statement(RAISE_SQL),
        {
            "kind": finding.kind,
            "key": finding.key,
            "level": place.level,
            "cell": place.grid_cell_id,
            "village": place.village_id,
            "town": place.town_id,
            "county": place.county_id,
            "code": place.region_code,
            "category": finding.category,
            "case_ids": sorted(set(finding.case_ids)),
            "point": finding.risk_point_id,
            "party_hash": finding.party_hash,
            "wkt": place.wkt,
            "moment": moment,
            "chain": regions,
            **evidence,
        },
    ).all()
    if rows:
        warning_id = rows[0].id
        officials = [row for row in rows if row.user_id is not None]
        notify(
            warning_id,
            finding.kind,
            finding.explanation,
            recipients_of(regions, [(row.region_id, row.user_id) for row in officials]),
            {row.user_id: person(*row[3:]) for row in officials},
        )
        outcome.raised.append(warning_id)
        return warning_id
    warning = db.session.scalars(
        select(EarlyWarning)
        .where(EarlyWarning.dedup_key == finding.key, EarlyWarning.state.in_(LIVE_STATES))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    cases = sorted(set(warning.case_ids) | set(finding.case_ids))
    if cases == sorted(warning.case_ids) and finding.observed == warning.observed:
        return warning.id  # nothing new: a rescan changes nothing (and bumps no version)
    for key, value in evidence.items():
        setattr(warning, key, value)
    warning.case_ids = cases
    warning.last_seen_at = moment
    db.session.flush()
    if warning.id not in outcome.raised + outcome.updated:
        outcome.updated.append(warning.id)
    return warning.id


def notify(warning_id: int, kind: str, explanation: str, ids: list[int], people: dict) -> None:
    """Tell the responsible officials (`ids`, their notification settings in `people`) that a
    warning was raised (once: keyed by the warning)."""
    emit_to(
        "warning_raised",
        ids,
        people,
        title=f"研判预警（{rules.KIND_NAMES[kind]}）",
        body=explanation,
        link=f"/analysis?warning={warning_id}",
        dedup_key=f"warning:{warning_id}",
    )


# --- the rules about one case --------------------------------------------------------------------

# The case and everything the rules about it read, in one statement (one round trip instead of
# about twenty: a scan runs after every report). Each part was a statement of its own:
# - k: the case as the rules read it, its parties' keyed hashes (in party order) and the rules'
#   data version (migration 0033: every write to warning_rules sets it); no row, no case;
# - compared: the hash each party is compared by (its ID number's, else its phone's), each once,
#   in party order, when the repeat-party rule is on;
# - spent: the cases handled hotspot warnings of the category counted, for the cell (its own
#   and its village's warnings) and for the village (its own and all its cells'): not again;
# - cell_n / village_n: the unit's cases of the category in the window and in the baseline
#   before it, skipped by a one-time filter when the rule does not watch the unit;
# - covered: a live cell hotspot of the category in the village (the village is not warned);
# - parties: per compared hash, its cases in the months or open, less those a handled warning
#   with its key counted: the hash indexes give each hash's case ids first, then cases is
#   read by primary key (OFFSET 0 keeps the planner from folding it into a scan of cases);
# - what a warning's place needs: the case's point, the town's and village's names, the cell's
#   and the village's code and a point inside them.
# A unit or hash the full pass has already evaluated (`seen`) is counted again here and left
# out by `evidence`: the cells, villages and hashes of a case are not known before this reads it.
EVIDENCE_SQL = f"""
WITH k AS MATERIALIZED (
  SELECT c.id, c.number, c.title, c.category, c.source, c.origin_level, c.group_visit,
         c.town_id, c.county_id, c.village_id, c.grid_cell_id, c.region_code,
         ST_AsText(c.location) AS case_wkt,
         (SELECT coalesce(json_agg(json_build_array(p.id_number_hash, p.phone_hash)
                                   ORDER BY p.id), '[]')
            FROM parties p WHERE p.case_id = c.id) AS party_list,
         {fast.version_sql(RULES)} AS rules_version
    FROM cases c
   WHERE c.id = :case
), compared AS MATERIALIZED (
  SELECT DISTINCT ON (x.h) x.h, x.by_id, x.party_id
    FROM (SELECT p.id AS party_id, coalesce(nullif(p.id_number_hash, ''), p.phone_hash) AS h,
                 coalesce(p.id_number_hash, '') <> '' AS by_id
            FROM parties p
           WHERE :party_on AND p.case_id = :case) x
   WHERE x.h <> ''
   ORDER BY x.h, x.party_id
), spent AS (
  SELECT coalesce(array_agg(DISTINCT x) FILTER (WHERE w.grid_cell_id IS NULL
                                                   OR w.grid_cell_id = k.grid_cell_id),
                  '{{}}') AS cell,
         coalesce(array_agg(DISTINCT x), '{{}}') AS village
    FROM k, warnings w, unnest(w.case_ids) x
   WHERE (:do_cell OR :do_village) AND w.kind = 'hotspot' AND w.state = 'handled'
     AND w.category = k.category AND w.village_id = k.village_id
), cell_n AS (
  SELECT count(*) FILTER (WHERE c.reported_at >= :win AND NOT c.id = ANY(s.cell)) AS observed,
         count(*) FILTER (WHERE c.reported_at < :win) AS baseline,
         coalesce(array_agg(c.id ORDER BY c.id)
                  FILTER (WHERE c.reported_at >= :win AND NOT c.id = ANY(s.cell)),
                  '{{}}') AS ids
    FROM k, spent s, cases c
   WHERE :do_cell AND c.grid_cell_id = k.grid_cell_id AND c.category = k.category
     AND c.parent_id IS NULL AND c.reported_at >= :base AND c.reported_at <= :now
), village_n AS (
  SELECT count(*) FILTER (WHERE c.reported_at >= :win AND NOT c.id = ANY(s.village)) AS observed,
         count(*) FILTER (WHERE c.reported_at < :win) AS baseline,
         coalesce(array_agg(c.id ORDER BY c.id)
                  FILTER (WHERE c.reported_at >= :win AND NOT c.id = ANY(s.village)),
                  '{{}}') AS ids
    FROM k, spent s, cases c
   WHERE :do_village AND c.village_id = k.village_id AND c.category = k.category
     AND c.parent_id IS NULL AND c.reported_at >= :base AND c.reported_at <= :now
), hashes AS MATERIALIZED (
  SELECT h.h,
         coalesce((SELECT array_agg(DISTINCT x) FROM warnings w, unnest(w.case_ids) x
                    WHERE w.dedup_key = 'repeat_party:' || h.h AND w.state = 'handled'),
                  '{{}}') AS spent,
         ARRAY(SELECT p.case_id FROM parties p
                WHERE p.id_number_hash = h.h OR p.phone_hash = h.h) AS ids
    FROM compared h
)
SELECT k.*,
       (SELECT coalesce(json_agg(json_build_array(h, by_id) ORDER BY party_id), '[]')
          FROM compared) AS compared,
       cn.observed AS cell_observed, cn.baseline AS cell_baseline, cn.ids AS cell_ids,
       vn.observed AS village_observed, vn.baseline AS village_baseline, vn.ids AS village_ids,
       :do_village AND EXISTS (
         SELECT 1 FROM warnings w
          WHERE w.kind = 'hotspot' AND w.state IN ('open', 'acknowledged')
            AND w.village_id = k.village_id AND w.category = k.category
            AND w.grid_cell_id IS NOT NULL) AS covered,
       (SELECT coalesce(json_agg(json_build_object('h', hs.h, 'id', c.id, 'number', c.number,
                                                   'state', c.state,
                                                   'recent', c.reported_at >= :since)
                                 ORDER BY hs.h, c.id), '[]')
          FROM hashes hs
         CROSS JOIN LATERAL (
               SELECT c.id, c.number, c.state, c.reported_at FROM cases c
                WHERE c.id = ANY(hs.ids) AND NOT c.id = ANY(hs.spent) AND c.parent_id IS NULL
                  AND (c.reported_at >= :since OR c.state = ANY(:open_states))
               OFFSET 0) c) AS parties,
       (SELECT name FROM regions WHERE id = k.town_id) AS town_name,
       (SELECT name FROM regions WHERE id = k.village_id) AS village_name,
       (SELECT code FROM regions WHERE id = k.village_id) AS village_code,
       (SELECT ST_AsText(ST_PointOnSurface(boundary)) FROM regions
         WHERE id = k.village_id AND :do_village) AS village_wkt,
       g.code AS cell_code, g.name AS cell_name, g.wkt AS cell_wkt
  FROM k
 CROSS JOIN cell_n cn
 CROSS JOIN village_n vn
  LEFT JOIN LATERAL (SELECT code, name, ST_AsText(ST_PointOnSurface(geom)) AS wkt
                      FROM grid_cells WHERE id = k.grid_cell_id AND :do_cell) g ON true
"""


@dataclass
class Evidence:
    """What EVIDENCE_SQL answered for one case, and which units and hashes it evaluated."""

    row: object
    do_cell: bool
    do_village: bool
    hashes: list[tuple[str, str]]  # (compared by, keyed hash), in the case's party order
    party_rows: dict[str, list[dict]]
    marks: set = field(default_factory=set)  # what it evaluated, for the pass's `seen`

    @property
    def names(self) -> str:
        """The case's town and village names (what `_names(town, village)` answers)."""
        return (self.row.town_name or "") + (self.row.village_name or "")


def evidence(case_id: int, rules_p: dict, seen: set) -> tuple[SimpleNamespace, Evidence] | None:
    """Read the case and everything the rules about it need at these rules (None: no such
    case): the case as the rules read it (a Case does as well: tests/warnings/factories.py) and
    the evidence, whose `marks` are the units and hashes it evaluated (not yet in `seen`)."""
    hot, party = rules_p["hotspot"], rules_p["repeat_party"]
    now = clock.now()
    watch = hot or rules.DEFAULTS["hotspot"]
    win = now - dt.timedelta(days=watch["window_days"])
    months = (party or rules.DEFAULTS["repeat_party"])["months"]
    row = fast.session_execute(
        db.session.connection(),
        EVIDENCE_SQL,
        {
            "case": case_id,
            "do_cell": bool(hot and hot["cell"]),
            "do_village": bool(hot and hot["village"]),
            "party_on": party is not None,
            "win": win,
            "base": win - dt.timedelta(days=round(watch["baseline_months"] * 365.25 / 12)),
            "now": now,
            "since": now - dt.timedelta(days=round(months * 365.25 / 12)),
            "open_states": OPEN_STATES,
        },
    ).one_or_none()
    if row is None:
        return None
    case = SimpleNamespace(
        **{name: getattr(row, name) for name in CASE_COLUMNS},
        parties=[SimpleNamespace(id_number_hash=i, phone_hash=p) for i, p in row.party_list],
        rules_version=row.rules_version,
    )
    cell = ("cell", case.grid_cell_id, case.category)
    village = ("village", case.village_id, case.category)
    do_cell = bool(hot and hot["cell"]) and cell not in seen
    do_village = bool(hot and hot["village"]) and village not in seen
    # Each hash once (compared is distinct), those the pass has not evaluated yet.
    hashes = [("身份证号" if by_id else "电话", h) for h, by_id in row.compared if h not in seen]
    marks = {h for _by, h in hashes}
    if do_cell:
        marks.add(cell)
    if do_village:
        marks.add(village)
    party_rows: dict[str, list[dict]] = {}
    for r in row.parties:
        party_rows.setdefault(r["h"], []).append(r)
    return case, Evidence(row, do_cell, do_village, hashes, party_rows, marks)


# What the rules read of a case (EVIDENCE_SQL's k).
CASE_COLUMNS = (
    "id",
    "number",
    "title",
    "category",
    "source",
    "origin_level",
    "group_visit",
    "town_id",
    "county_id",
    "village_id",
    "grid_cell_id",
    "region_code",
)


def hotspot(case: Case, p: dict, outcome: Outcome, ev: Evidence) -> None:
    """新发热点: the case's category in its cell, then its village, against their own baseline.

    A village is not warned while a live cell warning of the same category lies in it: the
    narrower warning already explains the rise (one this scan just raised or updated too).
    """
    row = ev.row
    cell_warned = False
    if ev.do_cell:
        counts = (row.cell_observed, row.cell_baseline, row.cell_ids)
        cell_warned = unit_hotspot("grid_cell_id", case.grid_cell_id, case, p, outcome, counts, ev)
    if ev.do_village and not row.covered and not cell_warned:
        counts = (row.village_observed, row.village_baseline, row.village_ids)
        unit_hotspot("village_id", case.village_id, case, p, outcome, counts, ev)


def unit_hotspot(
    column: str, unit_id: int, case: Case, p: dict, outcome: Outcome, counts, ev: Evidence
) -> bool:
    """Warn when the unit's cases of the category in the window are improbably many against
    the baseline before it; True when it warned (raised or updated)."""
    unit = "cell" if column == "grid_cell_id" else "village"
    key = f"hotspot:{unit}:{unit_id}:{case.category}"
    observed, baseline, ids = counts
    baseline_days = round(p["baseline_months"] * 365.25 / 12)
    if observed < p["min_cases"]:
        return False
    expected = max(baseline, p["min_baseline"]) * p["window_days"] / baseline_days
    chance = poisson_tail(observed, expected)
    if chance >= p["p_value"]:
        return False
    row = ev.row
    if unit == "cell":
        place = Place(
            "village",
            case.town_id,
            case.county_id,
            row.cell_code,
            row.cell_wkt,
            (row.town_name or "") + row.cell_name,
            case.village_id,
            unit_id,
        )
    else:
        place = Place(
            "village",
            case.town_id,
            case.county_id,
            row.village_code,
            row.village_wkt,
            ev.names,
            unit_id,
        )
    explanation = (
        f"{place.name} {case.category}：近 {p['window_days']} 天 {observed} 件，"
        f"按过去 {p['baseline_months']} 个月应约 {about(expected)} 件"
    )
    record(
        Finding(
            "hotspot",
            key,
            place,
            observed,
            explanation,
            expected=expected,
            p_value=chance,
            category=case.category,
            case_ids=list(ids),
        ),
        outcome,
    )
    return True


def repeat_party(case: Case, p: dict, outcome: Outcome, ev: Evidence) -> None:
    """重复当事人: a party (by ID number, else phone, keyed hash) in several cases, or in a new
    case while another of theirs is open."""
    warned: list[set[int]] = []  # two parties of the same cases (the same neighbours): one warning
    for by, h in ev.hashes:
        rows = ev.party_rows.get(h, [])
        ids = {r["id"] for r in rows}
        recent = [r for r in rows if r["recent"]]
        open_others = [r for r in rows if r["state"] in OPEN_STATES and r["id"] != case.id]
        fires = len(recent) >= p["min_cases"] or (
            p["while_open"] and open_others and case.id in ids
        )
        if not fires or ids in warned:
            continue
        warned.append(ids)
        numbers = "、".join(r["number"] for r in rows)
        explanation = (
            f"{ev.names} 同一当事人（按{by}比对）"
            f"近 {p['months']} 个月 {len(recent)} 件事件（{numbers}）"
        )
        if open_others:
            explanation += f"，另有 {len(open_others)} 件在办时又有新事件"
        record(
            Finding(
                "repeat_party",
                f"repeat_party:{h}",
                case_place(case, "village", ev),
                len(rows),
                explanation,
                case_ids=[r["id"] for r in rows],
                party_hash=h,
            ),
            outcome,
        )


def group(case: Case, p: dict, outcome: Outcome, ev: Evidence | None = None) -> None:
    """群体性事件: many people on one case, or a group visit (集体访)."""
    people = len(case.parties)
    visit = p["group_visit"] and case.group_visit
    if people < p["min_people"] and not visit:
        return
    what = "集体访" if visit else "群体性事件"
    explanation = (
        f"{ev.names if ev else _names(case.town_id, case.village_id)} {what}："
        f"{case.number}「{case.title}」"
        f"涉及 {people} 名当事人"
    )
    record(
        Finding(
            "group",
            f"group:case:{case.id}",
            case_place(case, "town", ev),
            people,
            explanation,
            category=case.category,
            case_ids=[case.id],
        ),
        outcome,
    )


def bypass(case: Case, p: dict, outcome: Outcome, ev: Evidence | None = None) -> None:
    """越级: a resident's matter first reported at county level, past the village and town."""
    if case.origin_level not in p["levels"] or case.source not in p["sources"]:
        return
    level = workflow.LEVEL_NAMES[case.origin_level]
    explanation = (
        f"{ev.names if ev else _names(case.town_id, case.village_id)} 越级："
        f"{case.number}「{case.title}」"
        f"首次在{level}上报，未经村、镇两级"
    )
    record(
        Finding(
            "bypass",
            f"bypass:case:{case.id}",
            case_place(case, "town", ev),
            1,
            explanation,
            category=case.category,
            case_ids=[case.id],
        ),
        outcome,
    )


# Every rule with the version it was read at, in one snapshot (a row even with no rules).
RULES_SQL = f"""
SELECT v.version, r.kind, r.enabled, r.params
  FROM (SELECT {fast.version_sql(RULES)} AS version) v
  LEFT JOIN warning_rules r ON true
"""


def scan_rules(version=None) -> tuple[object, dict[str, dict | None]]:
    """(version, every kind's `params` as of it): the rules kept per process at one version,
    read again with the version they were read at when `version` is not the one kept (None:
    whichever is kept). The rules are shared by the scans of this process: read, never change."""
    store = fast.kept(current_app, RULES)
    version = store.version if version is None else version
    found = store.get(version, RULES)
    if found is fast.MISSING:
        rows = db.session.execute(statement(RULES_SQL)).all()
        stored = {row.kind: row for row in rows if row.kind is not None}
        found = {kind: _merged(kind, stored.get(kind)) for kind in rules.DEFAULTS}
        version = rows[0].version
        store.put(version, RULES, found)
    return version, found


def scan_case(case_id: int, seen: set | None = None) -> Outcome:
    """Evaluate the rules one case touches (the job after each report calls this).

    One statement when nothing fires (EVIDENCE_SQL: the case, what its rules count and the
    rules' data version), run at the rules this process keeps (`scan_rules`); when the version
    it read is not theirs (a rule changed), the rules are read again and so is the evidence.
    A warning raised adds its INSERT (which reads whom to tell) and its notifications'.
    """
    outcome = Outcome()
    seen = set() if seen is None else seen
    version, rules_p = scan_rules()
    found = evidence(case_id, rules_p, seen)
    if found is not None and found[0].rules_version != version:
        _version, rules_p = scan_rules(found[0].rules_version)  # once: read after the change
        found = evidence(case_id, rules_p, seen)
    if found is None:
        return outcome
    case, ev = found
    seen |= ev.marks
    if (p := rules_p["hotspot"]) is not None:
        hotspot(case, p, outcome, ev)
    if (p := rules_p["repeat_party"]) is not None:
        repeat_party(case, p, outcome, ev)
    if (p := rules_p["group"]) is not None:
        group(case, p, outcome, ev)
    if (p := rules_p["bypass"]) is not None:
        bypass(case, p, outcome, ev)
    return outcome


# --- risk points ---------------------------------------------------------------------------------

CANDIDATES_SQL = """
SELECT rp.id FROM risk_points rp
 WHERE rp.status = 'active'
   AND ((:red_overdue AND rp.level = 'red' AND rp.next_due < :today)
        OR (SELECT i.result FROM inspections i WHERE i.risk_point_id = rp.id
             ORDER BY i.inspected_on DESC, i.id DESC LIMIT 1) = 'abnormal')
 ORDER BY rp.id
"""

STREAK_SQL = """
SELECT i.result FROM inspections i
 WHERE i.risk_point_id = :id
   AND i.created_at > coalesce((SELECT max(w.handled_at) FROM warnings w
                                 WHERE w.dedup_key = :key AND w.state = 'handled'), '-infinity')
 ORDER BY i.inspected_on DESC, i.id DESC LIMIT :n
"""


def risk_place(point: RiskPoint, level: str) -> Place:
    """A warning about a risk point: at a point on it."""
    wkt = db.session.scalar(
        text("SELECT ST_AsText(ST_PointOnSurface(geom)) FROM risk_points WHERE id = :id"),
        {"id": point.id},
    )
    return Place(
        level,
        point.town_id,
        point.county_id,
        point.region_code,
        wkt,
        _names(point.town_id, point.village_id),
        point.village_id,
        point.grid_cell_id,
    )


def scan_risk_point(point_id: int) -> Outcome:
    """风险点: N abnormal inspections in a row, or a red point's inspection overdue."""
    outcome = Outcome()
    p = params("risk_point")
    point = db.session.get(RiskPoint, point_id)
    if p is None or point is None or point.status != "active":
        return outcome
    key = f"risk_point:{point.id}:abnormal"
    n = p["abnormal_in_row"]
    results = db.session.scalars(text(STREAK_SQL), {"id": point.id, "key": key, "n": n}).all()
    if len(results) == n and all(r == "abnormal" for r in results):
        record(
            Finding(
                "risk_point",
                key,
                risk_place(point, "village"),
                n,
                f"{_names(point.town_id, point.village_id)} 风险点 {point.code}「{point.name}」"
                f"连续 {n} 次排查异常",
                risk_point_id=point.id,
            ),
            outcome,
        )
    today = clock.today()
    if p["red_overdue"] and point.level == "red" and point.next_due and point.next_due < today:
        late = (today - point.next_due).days
        record(
            Finding(
                "risk_point",
                f"risk_point:{point.id}:overdue:{point.next_due.isoformat()}",
                risk_place(point, "town"),
                late,
                f"{_names(point.town_id, point.village_id)} 红色风险点 {point.code}「{point.name}」"
                f"排查已逾期 {late} 天（应于 {point.next_due.isoformat()} 前排查）",
                risk_point_id=point.id,
            ),
            outcome,
        )
    return outcome


def scan_risk_points() -> Outcome:
    """Every active point whose last inspection was abnormal or whose red inspection is late."""
    outcome = Outcome()
    p = params("risk_point")
    if p is None:
        return outcome
    ids = db.session.scalars(
        text(CANDIDATES_SQL), {"red_overdue": p["red_overdue"], "today": clock.today()}
    ).all()
    for point_id in ids:
        outcome.add(scan_risk_point(point_id))
    return outcome


def scan() -> Outcome:
    """The full pass: every case reported in the longest window, then the risk points.

    Each cell, village and party is evaluated once per pass (`seen`), however many of its
    cases the window holds.
    """
    outcome = Outcome()
    hot = params("hotspot") or rules.DEFAULTS["hotspot"]
    since = clock.now() - dt.timedelta(days=hot["window_days"])
    seen: set = set()
    for case_id in db.session.scalars(
        select(Case.id).where(Case.reported_at >= since).order_by(Case.id)
    ):
        outcome.add(scan_case(case_id, seen))
    outcome.add(scan_risk_points())
    return outcome


# --- acknowledge, handle, the rules --------------------------------------------------------------


def require_state(warning: EarlyWarning, states: tuple[str, ...]) -> None:
    """409 when the warning is not in one of these states."""
    if warning.state not in states:
        message = _("该预警已处置") if warning.state == "handled" else _("该预警已签收")
        raise Conflict(message, errors={"state": {"current": warning.state}})


def acknowledge(warning: EarlyWarning, user, data: dict) -> EarlyWarning:
    """签收: the official has seen it (an optional note)."""
    warning.state = "acknowledged"
    warning.acknowledged_by_id = user.id
    warning.acknowledged_at = clock.now()
    if data.get("note"):
        warning.note = data["note"]
    _audit(warning, user, "warnings.acknowledge")
    return warning


def handle(warning: EarlyWarning, user, data: dict) -> EarlyWarning:
    """处置: what was done about it (the note is required); the key may warn again on new
    evidence only."""
    if warning.acknowledged_at is None:
        warning.acknowledged_by_id = user.id
        warning.acknowledged_at = clock.now()
    warning.state = "handled"
    warning.handled_by_id = user.id
    warning.handled_at = clock.now()
    warning.note = data["note"]
    _audit(warning, user, "warnings.handle")
    return warning


def _audit(warning: EarlyWarning, user, action: str) -> None:
    audit.record(
        action,
        actor=user,
        object_type="warning",
        object_id=warning.id,
        region_code=warning.region_code,
        detail={"kind": warning.kind, "note": warning.note},
    )


def update_rule(rule: WarningRule, user, data: dict) -> WarningRule:
    """Switch a rule on or off and change its thresholds (merged over the stored ones)."""
    before = {"enabled": rule.enabled, "params": dict(rule.params)}
    if "params" in data:
        rule.params = {**rule.params, **rules.validated(rule.kind, data["params"])}
    if "enabled" in data:
        rule.enabled = data["enabled"]
    rule.updated_by_id = user.id
    rule.updated_at = clock.now()
    audit.record(
        "warnings.rule_update",
        actor=user,
        object_type="warning_rule",
        object_id=rule.kind,
        detail={"before": before, "after": {"enabled": rule.enabled, "params": rule.params}},
    )
    db.session.flush()
    return rule
