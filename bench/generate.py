"""A deterministic county-scale dataset for the benchmarks, loaded with COPY.

    python bench/generate.py postgresql://postgres@127.0.0.1:PORT/gridgov_bench [--cases N]
        [--counties K]

One county (371699) of 80 towns in a 10 × 8 layout, 1,500 villages (60 towns with 19, 20 with
18), 20,000 square grid cells of 500 m (500 villages with 14, 1,000 with 13), users (a grid
worker per village, mediators and officials at each level), 500,000 cases over three years
clustered around village centres, their timelines and follow-ups, and 100,000 risk points with
inspections and history. `cases` makes the county denser (same area; risk points are given
in proportion by the caller); `counties` adds area: K counties side by side (371699, 371698, …),
each with the same density, its own users, numbering and units. A few units (departments) per
county and dispatches on about one case in twenty open and one in fifty closed ones give the
dispatch workloads something to list. The same seed gives the same rows. The schema must be
migrated first; triggers are off during the load (session_replication_role = replica) and the
derived tables (measure facts, region anchors, data versions) are rebuilt afterwards. Needs a
superuser.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import time

import psycopg

SEED = 20261126
COUNTY = "371699"
ORIGIN = (117.60, 37.70)  # north-west corner of the county (lon, lat)
CELL_M = 500.0
DLAT = CELL_M / 111_320
DLON = CELL_M / (111_320 * math.cos(math.radians(37.5)))
TOWN_COLS, TOWN_ROWS = 10, 8  # towns
VILLAGE_COLS, VILLAGE_ROWS = 5, 4  # village slots per town
CELL_COLS, CELL_ROWS = 4, 4  # cell slots per village
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
END = dt.datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI)
START = END - dt.timedelta(days=3 * 365)

KINDS = [("dispute", 0.55), ("petition", 0.20), ("incident", 0.25)]
CATEGORIES = {
    "dispute": [
        "婚姻家庭",
        "邻里",
        "土地山林水利权属",
        "征地拆迁安置",
        "劳资",
        "合同/经济",
        "其他",
    ],
    "petition": ["征地拆迁安置", "劳资", "村(社)务管理", "医疗/教育", "环境污染/人居环境"],
    "incident": ["治安", "交通", "安全生产", "消防", "防汛/地质灾害", "四乱", "民生服务"],
}
SOURCES = ["grid_patrol", "visit", "letter", "phone", "online", "video", "assigned", "other"]
OUTCOMES = {
    "dispute": ["agreement", "agreement", "agreement", "failed", "referred"],
    "petition": ["supported", "explained", "not_supported"],
    "incident": ["handled"],
}
ACCEPT_DAYS = {"dispute": 3, "petition": 15, "incident": None}
RESOLVE_DAYS = {"dispute": 30, "petition": 60, "incident": 7}
NEXT_LEVEL = {"village": "town", "town": "county", "county": "county"}
RISK_LEVELS = [("red", 0.05), ("orange", 0.15), ("yellow", 0.40), ("blue", 0.40)]
RISK_DAYS = {"red": 7, "orange": 14, "yellow": 30, "blue": 90}


def weighted(rng: random.Random, pairs):
    """A value from (value, weight) pairs."""
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def rect_wkt(x0: float, y0: float, x1: float, y1: float) -> str:
    """An EWKT MultiPolygon of a lon/lat rectangle."""
    ring = (
        f"{x0:.7f} {y0:.7f},{x1:.7f} {y0:.7f},{x1:.7f} {y1:.7f},{x0:.7f} {y1:.7f},{x0:.7f} {y0:.7f}"
    )
    return f"SRID=4326;MULTIPOLYGON((({ring})))"


def county_code(index: int) -> str:
    """The code of the index-th county: 371699 first, then 371698, 371697, …"""
    return f"{int(COUNTY) - index:06d}"


class Geography:
    """Regions and cells as plain tuples, with what the cases need to be placed.

    `index` places the county east of the previous ones, with its own code and id ranges
    (index 0 is the bench's county, identical to a one-county load).
    """

    def __init__(self, rng: random.Random, index: int = 0):
        self.code = county_code(index)
        self.regions = []  # (id, code, name, level, parent_id, wkt)
        self.cells = []  # (id, code, name, village_id, wkt, households, population)
        # per village: (village_id, town_id, code, x0, y1, [(cell_id, code, col, row)], weight)
        self.villages = []
        county_id = 1 + index * 10_000
        width = TOWN_COLS * VILLAGE_COLS * CELL_COLS
        height = TOWN_ROWS * VILLAGE_ROWS * CELL_ROWS
        x0, y1 = ORIGIN[0] + index * (width + 4) * DLON, ORIGIN[1]
        self.bbox = (x0, y1 - height * DLAT, x0 + width * DLON, y1)
        self.regions.append(
            (
                county_id,
                self.code + "000000",
                "基准县" if index == 0 else f"基准{index + 1}县",
                "county",
                None,
                rect_wkt(*self.bbox),
            )
        )
        next_id = county_id + 1
        cell_id = 1 + index * 100_000
        village_total = 0
        cells_left = 20_000
        for t in range(TOWN_COLS * TOWN_ROWS):
            tc, tr = t % TOWN_COLS, t // TOWN_COLS
            tx0 = x0 + tc * VILLAGE_COLS * CELL_COLS * DLON
            ty1 = y1 - tr * VILLAGE_ROWS * CELL_ROWS * DLAT
            tx1 = tx0 + VILLAGE_COLS * CELL_COLS * DLON
            ty0 = ty1 - VILLAGE_ROWS * CELL_ROWS * DLAT
            street = t < 10  # 街道 001–010, then 镇 101–170
            town_code = f"{self.code}{t + 1:03d}" if street else f"{self.code}{t + 91:03d}"
            town_id = next_id
            next_id += 1
            suffix = "街道" if street else "镇"
            self.regions.append(
                (
                    town_id,
                    town_code + "000",
                    f"第{t + 1}{suffix}",
                    "town",
                    county_id,
                    rect_wkt(tx0, ty0, tx1, ty1),
                )
            )
            villages_here = 19 if t < 60 else 18
            for v in range(villages_here):
                vc, vr = v % VILLAGE_COLS, v // VILLAGE_COLS
                vx0 = tx0 + vc * CELL_COLS * DLON
                vy1 = ty1 - vr * CELL_ROWS * DLAT
                vx1, vy0 = vx0 + CELL_COLS * DLON, vy1 - CELL_ROWS * DLAT
                serial = v + 1 if street else v + 200
                village_code = f"{town_code}{serial:03d}"
                village_id = next_id
                next_id += 1
                self.regions.append(
                    (
                        village_id,
                        village_code,
                        f"{town_code[-3:]}-{serial}村",
                        "village",
                        town_id,
                        rect_wkt(vx0, vy0, vx1, vy1),
                    )
                )
                n_cells = 14 if village_total < 500 else 13
                n_cells = min(n_cells, cells_left)
                cells_left -= n_cells
                village_total += 1
                cells = []
                for k in range(n_cells):
                    cc, cr = k % CELL_COLS, k // CELL_COLS
                    cx0, cy1 = vx0 + cc * DLON, vy1 - cr * DLAT
                    code = f"{village_code}{k + 1:03d}"
                    households = rng.randint(80, 400)
                    self.cells.append(
                        (
                            cell_id,
                            code,
                            f"第{k + 1}网格",
                            village_id,
                            rect_wkt(cx0, cy1 - DLAT, cx0 + DLON, cy1),
                            households,
                            int(households * rng.uniform(2.4, 3.6)),
                        )
                    )
                    cells.append((cell_id, code, cc, cr))
                    cell_id += 1
                weight = rng.lognormvariate(0, 0.8)
                self.villages.append((village_id, town_id, village_code, vx0, vy1, cells, weight))
        self.county_id = county_id
        self.weights = [v[6] for v in self.villages]

    def place(self, rng: random.Random, village) -> tuple[float, float, tuple]:
        """A point clustered around the village's centre that lies in one of its cells."""
        _, _, _, vx0, vy1, cells, _ = village
        cx, cy = vx0 + 2 * DLON, vy1 - 1.75 * DLAT  # the populated centre
        for _ in range(20):
            lon = rng.gauss(cx, 0.8 * DLON)
            lat = rng.gauss(cy, 0.8 * DLAT)
            col = math.floor((lon - vx0) / DLON)
            row = math.floor((vy1 - lat) / DLAT)
            for cell in cells:
                if cell[2] == col and cell[3] == row:
                    return lon, lat, cell
        cell = rng.choice(cells)
        return vx0 + (cell[2] + 0.5) * DLON, vy1 - (cell[3] + 0.5) * DLAT, cell


def shanghai_day(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of an instant."""
    return moment.astimezone(SHANGHAI).date()


def make_case(
    rng: random.Random,
    geo: Geography,
    users: dict,
    case_id: int,
    serials: dict,
    reported: dt.datetime,
):
    """One case row, its events and its follow-up (if any)."""
    village = rng.choices(geo.villages, geo.weights)[0]
    village_id, town_id, village_code, *_ = village
    lon, lat, cell = geo.place(rng, village)
    kind = weighted(rng, KINDS)
    age = (END - reported).days
    origin = weighted(rng, [("village", 0.75), ("town", 0.20), ("county", 0.05)])
    escalated = origin != "county" and rng.random() < 0.10
    max_level = NEXT_LEVEL[origin] if escalated else origin
    level = max_level
    year = shanghai_day(reported).year
    serials[year] = serials.get(year, 0) + 1
    number = f"{geo.code}-{year}-{serials[year]:06d}"
    accept_days = ACCEPT_DAYS[kind]
    report_day = shanghai_day(reported)
    accept_due = report_day + dt.timedelta(days=accept_days) if accept_days else None
    # How far the case got: old cases are mostly settled, recent ones open.
    if age > 90:
        state = weighted(
            rng,
            [
                ("closed", 0.82),
                ("rejected", 0.05),
                ("withdrawn", 0.05),
                ("followed_up", 0.03),
                ("resolved", 0.03),
                ("in_progress", 0.02),
            ],
        )
    elif age > 20:
        state = weighted(
            rng,
            [
                ("closed", 0.45),
                ("rejected", 0.05),
                ("withdrawn", 0.04),
                ("followed_up", 0.08),
                ("resolved", 0.12),
                ("in_progress", 0.18),
                ("accepted", 0.05),
                ("reported", 0.03),
            ],
        )
    else:
        state = weighted(
            rng,
            [
                ("closed", 0.05),
                ("resolved", 0.10),
                ("in_progress", 0.30),
                ("accepted", 0.25),
                ("reported", 0.25),
                ("withdrawn", 0.05),
            ],
        )
    accepted = resolved = closed = None
    accepted_on_time = resolved_on_time = None
    outcome = None
    resolve_due = None
    cursor = reported
    events = [("report", None, "reported", None, origin, reported)]
    if state not in ("reported", "withdrawn", "rejected"):
        accepted = cursor + dt.timedelta(hours=rng.uniform(2, 24 * (accept_days or 2) * 1.4))
        accepted = min(accepted, END)
        accepted_on_time = accept_due is None or shanghai_day(accepted) <= accept_due
        resolve_due = shanghai_day(accepted) + dt.timedelta(days=RESOLVE_DAYS[kind])
        events.append(("accept", "reported", "accepted", level, level, accepted))
        if state != "accepted":
            events.append(("start", "accepted", "in_progress", level, level, accepted))
        cursor = accepted
    if state in ("resolved", "followed_up", "closed"):
        resolved = min(cursor + dt.timedelta(days=rng.uniform(0.5, RESOLVE_DAYS[kind] * 1.2)), END)
        resolved_on_time = shanghai_day(resolved) <= resolve_due
        outcome = rng.choice(OUTCOMES[kind])
        events.append(("resolve", "in_progress", "resolved", level, level, resolved))
        cursor = resolved
    follow_up = None
    if state in ("followed_up", "closed"):
        at = min(cursor + dt.timedelta(days=rng.uniform(0.5, 6)), END)
        satisfaction = weighted(
            rng, [("satisfied", 0.7), ("basically_satisfied", 0.22), ("dissatisfied", 0.08)]
        )
        follow_up = (case_id, at, users["grid_worker"][village_id], "phone", satisfaction)
        events.append(("follow_up", "resolved", "followed_up", level, level, at))
        cursor = at
    if state == "closed":
        closed = min(cursor + dt.timedelta(days=rng.uniform(0.2, 4)), END)
        events.append(("close", "followed_up", "closed", level, level, closed))
    if state in ("rejected", "withdrawn"):
        closed = min(reported + dt.timedelta(days=rng.uniform(0.5, 4)), END)
        if state == "rejected":
            accepted_on_time = accept_due is None or shanghai_day(closed) <= accept_due
        action = "reject" if state == "rejected" else "withdraw"
        events.append((action, "reported", state, level, level, closed))
    open_ = state in ("reported", "accepted", "in_progress")
    next_due = None
    if state == "reported" and accept_due:
        next_due = accept_due
    elif state in ("accepted", "in_progress") and resolve_due:
        next_due = resolve_due
    today = END.date()
    warning = "red" if next_due and next_due < today else "none"
    supervision = (
        rng.choice(["normal", "yellow", "red"]) if open_ and rng.random() < 0.03 else "none"
    )
    category = rng.choice(CATEGORIES[kind])
    row = (
        case_id,
        number,
        kind,
        category,
        rng.choice(SOURCES),
        rng.choice(["simple", "ordinary", "complex"]) if kind == "incident" else None,
        f"{category}事件",
        "群众反映的情况（基准数据）",
        reported,
        reported,
        users["grid_worker"][village_id],
        f"SRID=4326;POINT({lon:.7f} {lat:.7f})",
        cell[0],
        village_id,
        town_id,
        geo.county_id,
        cell[1],
        origin,
        level,
        max_level,
        state,
        False,
        report_day if accept_due else None,
        accept_due,
        shanghai_day(accepted) if accepted else None,
        resolve_due,
        next_due,
        warning,
        accepted,
        accepted_on_time,
        resolved,
        resolved_on_time,
        closed,
        outcome,
        0,
        supervision,
        "none",
        1,
        reported,
        closed or resolved or accepted or reported,
    )
    return row, events, follow_up


CASE_COLUMNS = (
    "id, number, kind, category, source, complexity, title, description, occurred_at, "
    "reported_at, reporter_id, location, grid_cell_id, village_id, town_id, county_id, "
    "region_code, origin_level, level, max_level, state, group_visit, accept_from, accept_due, "
    "resolve_from, resolve_due, next_due, warning, accepted_at, accepted_on_time, resolved_at, "
    "resolved_on_time, closed_at, outcome, extension_days, supervision, review_stage, version, "
    "created_at, updated_at"
)


def load(url: str, cases: int, risk_points: int, counties: int = 1) -> None:
    """Generate and COPY everything into an empty, migrated database (`cases` and
    `risk_points` per county)."""
    started = time.monotonic()
    totals = {"regions": 0, "cells": 0, "cases": 0, "events": 0, "follow_ups": 0, "risks": 0}
    ids = {"case": 0, "event": 0, "follow": 0, "user": 0, "point": 0, "inspection": 0}
    ids |= {"department": 0, "dispatch": 0}
    with psycopg.connect(url, autocommit=False) as conn:
        cur = conn.cursor()
        cur.execute("SET session_replication_role = replica")  # no triggers during the load
        for index in range(counties):
            # County 0 draws from the seed's sequence exactly as a one-county load does.
            rng = random.Random(SEED if index == 0 else SEED + index)
            geo = Geography(rng, index)
            load_county(cur, rng, geo, cases, risk_points, ids, totals)
            print(f"county {geo.code}: {time.monotonic() - started:.1f}s", flush=True)
        cur.execute("SET session_replication_role = origin")
        for table, column in [
            ("regions", "id"),
            ("grid_cells", "id"),
            ("users", "id"),
            ("cases", "id"),
            ("case_events", "id"),
            ("follow_ups", "id"),
            ("departments", "id"),
            ("dispatches", "id"),
            ("risk_points", "id"),
            ("inspections", "id"),
            ("risk_events", "id"),
        ]:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT coalesce(max({column}), 1) FROM {table}))"
            )
        # The derived tables the triggers would have kept.
        cur.execute("SELECT rebuild_measure_facts()")
        cur.execute("DELETE FROM region_anchors")
        cur.execute(
            "INSERT INTO region_anchors (code, level, geom) SELECT code, level, "
            "ST_Transform(ST_PointOnSurface(boundary), 3857) FROM regions"
        )
        cur.execute("UPDATE data_versions SET version = version + 1")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(
        f"loaded {counties} counties: {totals['regions']} regions, {totals['cells']} cells, "
        f"{totals['cases']} cases, {totals['events']} events, {totals['follow_ups']} follow-ups, "
        f"{ids['dispatch']} dispatches, {totals['risks']} risk points "
        f"in {time.monotonic() - started:.0f}s",
        flush=True,
    )


DEPARTMENTS = [
    ("police", "公安局", ["治安", "交通", "消防"]),
    ("justice", "司法局", ["婚姻家庭", "邻里", "合同/经济", "其他"]),
    ("labour", "劳动监察大队", ["劳资"]),
    ("land", "自然资源局", ["土地山林水利权属", "征地拆迁安置"]),
    ("safety", "应急管理局", ["安全生产", "防汛/地质灾害"]),
    ("other", "综合执法局", ["四乱", "民生服务", "环境污染/人居环境"]),
]


def load_county(cur, rng, geo: Geography, cases: int, risk_points: int, ids, totals) -> None:
    """One county's geography, users, cases, dispatches and risk points."""
    with cur.copy(
        "COPY regions (id, code, name, level, parent_id, boundary, valid_from) FROM STDIN"
    ) as copy:
        for row in geo.regions:
            copy.write_row((*row, dt.date(2000, 1, 1)))
    with cur.copy(
        "COPY grid_cells (id, code, name, village_id, geom, households, population) FROM STDIN"
    ) as copy:
        for row in geo.cells:
            copy.write_row(row)
    totals["regions"] += len(geo.regions)
    totals["cells"] += len(geo.cells)
    users = {"grid_worker": {}}
    user_rows = []
    for village in geo.villages:
        ids["user"] += 1
        user_rows.append(
            (ids["user"], f"gw{village[2]}", f"网格员{village[2][-6:]}", "grid_worker", village[0])
        )
        users["grid_worker"][village[0]] = ids["user"]
    # The bench's staff: bench_<role>_<level> in the first county, with the county's code after.
    suffix = "" if geo.code == COUNTY else f"_{geo.code}"
    for level, region_id in [
        ("county", geo.county_id),
        ("town", geo.villages[0][1]),
        ("village", geo.villages[0][0]),
    ]:
        for role in ("mediator", "official"):
            ids["user"] += 1
            name = f"bench_{role}_{level}{suffix}"
            user_rows.append((ids["user"], name, f"{role}@{level}", role, region_id))
            users[name] = ids["user"]
    with cur.copy(
        "COPY users (id, username, display_name, role, region_id, password_hash) FROM STDIN"
    ) as copy:
        for row in user_rows:
            copy.write_row((*row, "!bench-no-password"))
    with cur.copy("COPY user_grid_cells (user_id, grid_cell_id) FROM STDIN") as copy:
        for village in geo.villages:
            for cell in village[5]:
                copy.write_row((users["grid_worker"][village[0]], cell[0]))
    departments = []
    with cur.copy(
        "COPY departments (id, code, name, kind, region_id, region_code, categories) FROM STDIN"
    ) as copy:
        for kind, name, categories in DEPARTMENTS:
            ids["department"] += 1
            departments.append((ids["department"], categories))
            copy.write_row(
                (
                    ids["department"],
                    f"{geo.code}-{kind}",
                    name,
                    kind,
                    geo.county_id,
                    geo.code + "000000",
                    categories,
                )
            )
    by_category = {c: dep for dep, cats in departments for c in cats}

    serials: dict[int, int] = {}
    dispatch_rng = random.Random(SEED * 7 + geo.county_id)  # the cases' sequence stays as it was
    dispatcher = users[f"bench_mediator_county{suffix}"]
    # In order of report, as a live system inserts them (the table's physical order matters to
    # range scans by date); in chunks, so 5,000,000 cases never hold their events in memory.
    span = (END - START).total_seconds()
    moments = sorted(rng.uniform(0, span) for _ in range(cases))
    for first in range(0, cases, CHUNK):
        pending_events, pending_follow, pending_dispatch = [], [], []
        with cur.copy(f"COPY cases ({CASE_COLUMNS}) FROM STDIN") as copy_cases:
            for offset in moments[first : first + CHUNK]:
                ids["case"] += 1
                case_id = ids["case"]
                reported = START + dt.timedelta(seconds=offset)
                row, events, follow = make_case(rng, geo, users, case_id, serials, reported)
                copy_cases.write_row(row)
                pending_events.append((case_id, row[10], events))
                if follow:
                    pending_follow.append(follow)
                pending_dispatch += make_dispatches(dispatch_rng, row, by_category, dispatcher, ids)
        copy_case_rows(cur, geo, pending_events, pending_follow, pending_dispatch, ids, totals)
    totals["cases"] += cases
    for year, last in serials.items():
        cur.execute(
            "INSERT INTO case_counters (county_code, year, last) VALUES (%s, %s, %s)",
            (geo.code, year, last),
        )
    totals["risks"] += load_risks(cur, rng, geo, users, risk_points, ids)


CHUNK = 100_000  # cases generated and copied at a time


def copy_case_rows(cur, geo, pending_events, pending_follow, pending_dispatch, ids, totals):
    """A chunk of cases' events, follow-ups and dispatches."""
    with cur.copy(
        "COPY case_events (id, case_id, at, actor_id, action, from_state, to_state, "
        "from_level, to_level) FROM STDIN"
    ) as copy:
        for case_id, actor, events in pending_events:
            for action, from_state, to_state, from_level, to_level, at in events:
                ids["event"] += 1
                totals["events"] += 1
                copy.write_row(
                    (
                        ids["event"],
                        case_id,
                        at,
                        actor,
                        action,
                        from_state,
                        to_state,
                        from_level,
                        to_level,
                    )
                )
    with cur.copy(
        "COPY follow_ups (id, case_id, at, by_id, method, satisfaction) FROM STDIN"
    ) as copy:
        for follow in pending_follow:
            ids["follow"] += 1
            totals["follow_ups"] += 1
            copy.write_row((ids["follow"], *follow))
    with cur.copy(
        "COPY dispatches (id, case_id, department_id, role, state, centre_region_id, "
        "centre_level, dispatched_by_id, dispatched_at, sign_due, report_due, next_due, "
        "signed_at, signed_by_id, signed_on_time, reported_at, reported_on_time, report_note, "
        "reviewed_at, reviewed_by_id) FROM STDIN"
    ) as copy:
        for row in pending_dispatch:
            copy.write_row((*row[:5], geo.county_id, *row[5:]))


def make_dispatches(rng: random.Random, case, by_category: dict, dispatcher: int, ids) -> list:
    """A lead unit (and sometimes a co-handler) for one open case in twenty and one closed case
    in fifty, in the state the case's progress implies."""
    state, accepted, resolved = case[20], case[28], case[30]
    if accepted is None or case[18] != "county":
        return []
    open_ = state in ("accepted", "in_progress")
    if rng.random() >= (0.05 if open_ else 0.02):
        return []
    department = by_category.get(case[3]) or next(iter(by_category.values()))
    at = accepted + dt.timedelta(hours=rng.uniform(1, 20))
    sign_due = shanghai_day(at) + dt.timedelta(days=1)
    report_due = shanghai_day(at) + dt.timedelta(days=15)
    signed = at + dt.timedelta(hours=rng.uniform(1, 30))
    rows = []
    roles = ["lead"] + (["co"] if rng.random() < 0.3 else [])
    for k, role in enumerate(roles):
        ids["dispatch"] += 1
        first = min(by_category.values())
        dep = department if k == 0 else first + (department - first + 1) % len(DEPARTMENTS)
        if open_:
            d_state = "signed" if rng.random() < 0.7 else "sent"
        else:
            d_state = "accepted" if role == "lead" else "withdrawn"
        done = d_state in ("accepted", "withdrawn")
        reported = min(resolved or signed, END) if done else None
        rows.append(
            (
                ids["dispatch"],
                case[0],
                dep,
                role,
                d_state,
                "county",
                dispatcher,
                at,
                sign_due,
                report_due,
                None if done else (sign_due if d_state == "sent" else report_due),
                None if d_state == "sent" else signed,
                None if d_state == "sent" else dispatcher,
                None if d_state == "sent" else shanghai_day(signed) <= sign_due,
                reported,
                None if reported is None else shanghai_day(reported) <= report_due,
                "已办结（基准数据）" if reported else None,
                reported,
                dispatcher if reported else None,
            )
        )
    return rows


def load_risks(cur, rng: random.Random, geo: Geography, users: dict, count: int, ids) -> int:
    """Risk points with their history and inspections (skipped if the tables do not exist)."""
    cur.execute("SELECT to_regclass('risk_points') IS NOT NULL")
    if not cur.fetchone()[0] or count == 0:
        return 0
    cur.execute("SELECT id FROM risk_categories ORDER BY id")
    categories = [row[0] for row in cur.fetchall()]
    today = END.date()
    points, inspections, events = [], [], []
    for serial in range(1, count + 1):
        ids["point"] += 1
        point_id = ids["point"]
        village = rng.choices(geo.villages, geo.weights)[0]
        village_id, town_id, *_ = village
        lon, lat, cell = geo.place(rng, village)
        level = weighted(rng, RISK_LEVELS)
        registered = START + dt.timedelta(seconds=rng.uniform(0, (END - START).total_seconds()))
        cleared = rng.random() < 0.2
        cleared_at = (
            min(registered + dt.timedelta(days=rng.uniform(30, 400)), END) if cleared else None
        )
        worker = users["grid_worker"][village_id]
        last = None
        day = shanghai_day(registered)
        for _ in range(3):
            day = day + dt.timedelta(days=rng.randint(1, RISK_DAYS[level] + 5))
            if day > today:
                break
            ids["inspection"] += 1
            inspections.append(
                (
                    ids["inspection"],
                    point_id,
                    day,
                    worker,
                    "abnormal" if rng.random() < 0.1 else "normal",
                )
            )
            last = day
        next_due = (
            None
            if cleared
            else (last or shanghai_day(registered)) + dt.timedelta(days=RISK_DAYS[level])
        )
        overdue = next_due if next_due and next_due < today else None
        points.append(
            (
                point_id,
                f"{geo.code}-FX-{serial:06d}",
                rng.choice(categories),
                None,
                level,
                "cleared" if cleared else "active",
                f"风险点{serial}",
                "定期排查，专人管控",
                worker,
                f"SRID=4326;POINT({lon:.7f} {lat:.7f})",
                cell[0],
                village_id,
                town_id,
                geo.county_id,
                cell[1],
                registered,
                worker,
                last,
                next_due,
                overdue + dt.timedelta(days=1) if overdue else None,
                cleared_at,
            )
        )
        events.append(
            (point_id, point_id, registered, worker, "register", None, level, None, "active")
        )
    with cur.copy(
        "COPY risk_points (id, code, category_id, subcategory, level, status, name, measures, "
        "responsible_id, geom, grid_cell_id, village_id, town_id, county_id, region_code, "
        "registered_at, registered_by_id, last_inspected_on, next_due, overdue_since, cleared_at)"
        " FROM STDIN"
    ) as copy:
        for row in points:
            copy.write_row(row)
    with cur.copy(
        "COPY inspections (id, risk_point_id, inspected_on, inspector_id, result) FROM STDIN"
    ) as copy:
        for row in inspections:
            copy.write_row(row)
    with cur.copy(
        "COPY risk_events (id, risk_point_id, at, actor_id, action, from_level, to_level, "
        "from_status, to_status) FROM STDIN"
    ) as copy:
        for row in events:
            copy.write_row(row)
    return len(points)


def main(argv: list[str] | None = None) -> int:
    """Command line: the database URL, and optionally smaller sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--cases", type=int, default=500_000)
    parser.add_argument("--risk-points", type=int, help="default: one per five cases")
    parser.add_argument("--counties", type=int, default=1)
    args = parser.parse_args(argv)
    risks = args.risk_points if args.risk_points is not None else args.cases // 5
    load(args.url, args.cases, risks, args.counties)
    return 0


if __name__ == "__main__":
    sys.exit(main())
