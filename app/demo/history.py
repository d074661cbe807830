"""Two years of demo history: a few thousand settled cases across the demo county, loaded in bulk.

Deterministic (one seeded `random.Random`) and idempotent: every history case's title starts with
MARK (〔演示历史〕), and a county that already has one gets nothing more. Cases are written
with Core `executemany` inserts in their final state (closed or rejected), with the events,
parties, agreements and follow-ups they would have gathered on the way; the measure facts follow
from the row triggers on `cases` and `follow_ups` (migration 0007). The paths: accepted and
rejected; kept in the village, escalated to the town or the county; mediated agreements and
failures; petitions answered with a written reply; follow-ups with 满意/基本满意/不满意. Reports
are seasonal: more in spring and autumn, and 劳资 (unpaid wages) rises before the Spring
Festival. Deadlines come from the deadline policies and the holiday calendar (app/deadlines), as
the services count them. Risk points get the inspections between their registration and the
first inspection the risk demo recorded.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import insert
from sqlalchemy import text

from app import pii
from app.core import clock
from app.deadlines import policy
from app.deadlines import years
from app.deadlines.calendar import SHANGHAI
from app.deadlines.calendar import due_after
from app.extensions import db

SEED = 20261201
MARK = "〔演示历史〕"
COUNTY_PREFIX = "371699"
DAYS = 730
# The history ends this many days before the seeding day: every history case is settled by then,
# and the demo's own recent cases (app/demo/cases.py) fill the last weeks.
GAP_DAYS = 21
CASES_PER_DAY = 4.2
SURNAMES = "张王李赵刘陈杨黄孙周吴徐马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘"
GIVEN = "建国秀英桂兰志强海燕春梅玉珍国庆文华明亮红霞德胜素芬金凤家兴立新丽华"

# kind → [(category, weight, titles)]
CATEGORIES: dict[str, list[tuple[str, int, list[str]]]] = {
    "dispute": [
        ("邻里", 30, ["宅基地边界纠纷", "排水沟堵塞纠纷", "院墙遮挡采光纠纷", "家畜损坏庄稼"]),
        ("婚姻家庭", 18, ["赡养费用分担纠纷", "子女探视纠纷", "分家析产纠纷"]),
        ("劳资", 14, ["工地拖欠工资", "养殖场工人工资纠纷", "包工头欠薪"]),
        ("土地山林水利权属", 14, ["承包地灌溉用水纠纷", "林地界址争议", "土地流转租金拖欠"]),
        ("合同/经济", 12, ["农资赊销货款纠纷", "民间借贷纠纷", "农机租赁费纠纷"]),
        ("损害赔偿", 8, ["交通事故赔偿纠纷", "施工损坏房屋赔偿"]),
        ("环境污染/人居环境", 4, ["养殖异味扰民", "噪声扰民纠纷"]),
    ],
    "petition": [
        ("征地拆迁安置", 35, ["征地补偿款发放异议", "安置房分配诉求"]),
        ("村(社)务管理", 35, ["村务公开不及时", "集体收益分配异议"]),
        ("社会保障", 30, ["低保评定异议", "养老保险补缴诉求"]),
    ],
    "incident": [
        ("四乱", 35, ["河道乱堆建筑垃圾", "违规搭建养殖棚", "滩地乱采取土"]),
        ("安全生产", 25, ["废弃厂房坍塌隐患", "小作坊违规用电"]),
        ("治安", 25, ["夜间偷盗电动车线索", "聚众赌博线索"]),
        ("消防", 15, ["秸秆堆放消防隐患", "电动车楼道充电"]),
    ],
}
KIND_WEIGHTS = [("dispute", 62), ("petition", 13), ("incident", 25)]
# Reports per month (1–12) relative to the mean: farm seasons, the year's end.
MONTH_WEIGHT = {1: 1.1, 2: 0.9, 3: 1.1, 4: 1.15, 5: 1.05, 6: 0.95, 7: 0.85, 8: 0.85, 9: 1.0}
MONTH_WEIGHT |= {10: 1.05, 11: 1.0, 12: 1.1}
# 劳资 before the Spring Festival (December to February) is several times its usual share.
WAGES_BOOST = {12: 3.5, 1: 4.0, 2: 1.8}
SATISFACTION = [("satisfied", 70), ("basically_satisfied", 22), ("dissatisfied", 8)]
REPLY = "经调查核实，现将处理意见答复如下：诉求部分属实，已责成相关单位限期整改并书面告知。"


def pick(rng: random.Random, weighted: list[tuple]) -> tuple:
    """One item of [(value, weight, ...)] by weight."""
    return rng.choices(weighted, weights=[w[1] for w in weighted])[0]


class Clocks:
    """Deadlines as the services count them, memoized per rule and start day."""

    def __init__(self) -> None:
        self.calendar = years.calendar()
        self.specs: dict = {}
        self.dues: dict = {}

    def spec(self, kind: str, level: str, name: str, variant: str | None = None) -> dict | None:
        key = (kind, level, name, variant)
        if key not in self.specs:
            self.specs[key] = policy.spec(kind, level, name, variant)
        return self.specs[key]

    def due(self, rule: dict | None, start: dt.date) -> tuple[dt.date | None, list[int]]:
        """The last day of `rule` from `start`, and the years counted without a notice."""
        if rule is None:
            return None, []
        key = (rule["days"], rule["unit"], start)
        if key not in self.dues:
            counted = due_after(start, rule["days"], rule["unit"], calendar=self.calendar)
            self.dues[key] = counted.date, sorted(counted.uncovered_years)
        return self.dues[key]


def at_day(day: dt.date, rng: random.Random) -> dt.datetime:
    """A working-hours moment of a local day."""
    return dt.datetime.combine(day, dt.time(8 + rng.randrange(10), rng.randrange(60)), SHANGHAI)


def later(moment: dt.datetime, rng: random.Random, low: int, high: int) -> dt.datetime:
    """`low`..`high` days after `moment`, at a working-hours time."""
    return at_day(clock.local_date(moment) + dt.timedelta(days=rng.randint(low, high)), rng)


def seed_demo_history(today: dt.date | None = None) -> int:
    """Load the history once; returns how many cases were added (0 when it is already there)."""
    today = today or clock.today()
    already = db.session.execute(
        text(
            "SELECT 1 FROM cases WHERE region_code LIKE :p || '%' AND title LIKE :m || '%' LIMIT 1"
        ),
        {"p": COUNTY_PREFIX, "m": MARK},
    ).first()
    if already:
        return 0
    cells = db.session.execute(
        text(
            """
            SELECT g.id, g.code, g.village_id, v.parent_id AS town_id, t.parent_id AS county_id,
                   ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
                   (ST_XMax(g.geom) - ST_XMin(g.geom)) / 6 AS dx,
                   (ST_YMax(g.geom) - ST_YMin(g.geom)) / 6 AS dy
              FROM grid_cells g
              JOIN regions v ON v.id = g.village_id AND (v.valid_to IS NULL OR v.valid_to > :today)
              JOIN regions t ON t.id = v.parent_id
             WHERE g.code LIKE :p || '%'
             ORDER BY g.code
            """
        ),
        {"p": COUNTY_PREFIX, "today": today},
    ).all()
    users = dict(
        db.session.execute(
            text("SELECT username, id FROM users WHERE username = ANY(:names)"),
            {"names": ["cun_wangge", "cun_tiaojie", "zhen_tiaojie", "xian_tiaojie"]},
        ).all()
    )
    if not cells or len(users) < 4:
        return 0
    rng = random.Random(SEED)
    clocks = Clocks()
    people = [
        (
            f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(GIVEN)}",
            f"139{rng.randrange(10**8):08d}",
        )
        for _ in range(2500)
    ]
    last_day = today - dt.timedelta(days=GAP_DAYS)
    first_day = last_day - dt.timedelta(days=DAYS - 1)
    plans = []
    day = first_day
    while day <= last_day:
        expected = CASES_PER_DAY * MONTH_WEIGHT[day.month] * (0.6 if day.weekday() >= 5 else 1.1)
        for _ in range(poisson(rng, expected)):
            plans.append(plan_case(rng, clocks, day, cells, users, people, last_day))
        day += dt.timedelta(days=1)
    plans.sort(key=lambda p: p["case"]["reported_at"])
    insert_plans(plans)
    add_inspections(rng, users["cun_wangge"])
    return len(plans)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the means here are small)."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def plan_case(rng, clocks, day, cells, users, people, last_day) -> dict:
    """One case's row and its children, settled before `last_day`."""
    kind = pick(rng, KIND_WEIGHTS)[0]
    weights = [
        (c, w * (WAGES_BOOST.get(day.month, 1.0) if c == "劳资" else 1.0), t)
        for c, w, t in CATEGORIES[kind]
    ]
    category, _w, titles = pick(rng, weights)
    cell = rng.choice(cells)
    reported = at_day(day, rng)
    origin = "village" if rng.random() < 0.86 else "town" if rng.random() < 0.8 else "county"
    reporter = actor("cun_wangge", origin, cell.code)
    complexity = (
        rng.choice(["simple", "ordinary", "ordinary", "complex"]) if kind == "incident" else None
    )
    events = [("report", reported, users[reporter], None, "reported", None, origin, None)]
    # Escalations happen before acceptance, from the origin upwards.
    level, moment = origin, reported
    ladder = ["village", "town", "county"]
    while level != "county" and rng.random() < (0.22 if level == "village" else 0.2):
        moment = later(moment, rng, 0, 2)
        up = ladder[ladder.index(level) + 1]
        events.append(
            (
                "escalate",
                moment,
                users[actor(MEDIATORS[level], level, cell.code)],
                "reported",
                "reported",
                level,
                up,
                "超出本级调处能力",
            )
        )
        level = up
    handler = users[actor(MEDIATORS[level], level, cell.code)]
    accept_rule = clocks.spec(kind, level, policy.ACCEPT)
    accept_from = clock.local_date(moment)
    accept_due, uncovered = clocks.due(accept_rule, accept_from)
    rules = {}
    if accept_rule:
        rules["accept"] = {**accept_rule, "years": uncovered}
    decided = later(moment, rng, 0, 2 if rng.random() < 0.93 else 6)
    case = {
        "kind": kind,
        "category": category,
        "source": "grid_patrol"
        if origin == "village"
        else rng.choice(["visit", "phone", "letter", "online"]),
        "complexity": complexity,
        "title": f"{MARK}{rng.choice(titles)}",
        "description": f"{category}：当事人反映情况，网格员现场核实（演示历史数据）。",
        "reported_at": reported,
        "reporter_id": users[reporter],
        "cell": cell,
        "lon": cell.lon + rng.uniform(-1, 1) * cell.dx,
        "lat": cell.lat + rng.uniform(-1, 1) * cell.dy,
        "origin_level": origin,
        "level": level,
        "max_level": level,
        "accept_from": accept_from if accept_rule else None,
        "accept_due": accept_due,
        "resolve_from": None,
        "resolve_due": None,
        "accepted_at": None,
        "accepted_on_time": None,
        "resolved_at": None,
        "resolved_on_time": None,
        "closed_at": None,
        "outcome": None,
        "outcome_note": None,
        "reply": None,
        "reply_received_on": None,
        "rejection_ground": None,
        "handler_id": handler,
        "mediator_ids": [handler] if kind == "dispute" else [],
    }
    plan = {
        "case": case,
        "events": events,
        "agreement": None,
        "follow_up": None,
        "parties": [],
        "dispatch": None,
    }
    for role in ("applicant", "respondent"):
        plan["parties"].append((role, *rng.choice(people)))
    on_time = accept_due is None or clock.local_date(decided) <= accept_due
    if kind != "incident" and rng.random() < 0.06:
        case |= {"state": "rejected", "closed_at": decided, "accepted_on_time": on_time}
        case["rejection_ground"] = "other_route"
        case["clock_rules"] = rules
        events.append(
            ("reject", decided, handler, "reported", "rejected", level, level, "属于其他法定途径")
        )
        return settle_before(plan, last_day)
    case |= {"accepted_at": decided, "accepted_on_time": on_time}
    events.append(("accept", decided, handler, "reported", "accepted", level, level, None))
    if kind == "incident":
        rule = clocks.spec(kind, level, policy.RESOLVE, complexity)
        start = clock.local_date(reported)
    else:
        rule = clocks.spec(kind, level, policy.RESOLVE)
        start = clock.local_date(decided)
    resolve_due, uncovered = clocks.due(rule, start)
    if rule:
        rules["resolve"] = {**rule, "years": uncovered}
    case["resolve_from"], case["resolve_due"] = start if rule else None, resolve_due
    started = later(decided, rng, 0, 1)
    events.append(("start", started, handler, "accepted", "in_progress", level, level, None))
    # Above the village about half the matters go to the routed unit (分拨交办), lead role.
    if level != "village" and rng.random() < 0.5:
        plan["dispatch"] = {"at": started, "sign_days": rng.choice([0, 0, 0, 1, 2])}
    span = {
        "dispute": (2, 34),
        "petition": (10, 64),
        "incident": (0, 9 if complexity != "complex" else 24),
    }[kind]
    resolved = later(started, rng, *span)
    case["resolved_at"] = resolved
    case["resolved_on_time"] = (
        case["resolve_due"] is None or clock.local_date(resolved) <= case["resolve_due"]
    )
    if kind == "dispute":
        case["outcome"] = "agreement" if rng.random() < 0.82 else "failed"
        case["outcome_note"] = (
            "调解成功" if case["outcome"] == "agreement" else "调解不成，告知诉讼途径"
        )
        if case["outcome"] == "agreement":
            signed = clock.local_date(resolved)
            plan["agreement"] = {
                "facts": "双方就争议事项陈述事实",
                "responsibilities": "双方各承担相应责任",
                "terms": rng.choice(["一方补偿对方 2000 元", "重新确认界址", "按月分担赡养费用"]),
                "performance_method": "现场交付",
                "performance_due": signed + dt.timedelta(days=15),
                "performed": True,
                "performed_on": signed + dt.timedelta(days=rng.randint(1, 15)),
                "signed_on": signed,
                "judicial_outcome": "not_applied",
            }
    elif kind == "petition":
        case["outcome"] = "resolved"
        case["reply"] = REPLY
        case["reply_received_on"] = clock.local_date(resolved) + dt.timedelta(
            days=rng.randint(0, 3)
        )
        case["outcome_note"] = "已书面答复"
    else:
        case["outcome"] = "resolved"
        case["outcome_note"] = "已处置完毕"
    events.append(
        (
            "resolve",
            resolved,
            handler,
            "in_progress",
            "resolved",
            level,
            level,
            case["outcome_note"],
        )
    )
    closing = later(resolved, rng, 1, 8)
    if rng.random() < 0.85:
        visitor = users[actor("cun_wangge", "village", cell.code)]
        plan["follow_up"] = {
            "at": closing,
            "by_id": visitor,
            "method": rng.choice(["phone", "phone", "visit"]),
            "satisfaction": pick(rng, SATISFACTION)[0],
        }
        events.append(
            (
                "follow_up",
                closing,
                visitor,
                "resolved",
                "followed_up",
                level,
                level,
                None,
            )
        )
        closing += dt.timedelta(hours=1)
    case |= {"state": "closed", "closed_at": closing, "clock_rules": rules}
    events.append(("close", closing, handler, events[-1][4], "closed", level, level, None))
    return settle_before(plan, last_day)


MEDIATORS = {"village": "cun_tiaojie", "town": "zhen_tiaojie", "county": "xian_tiaojie"}
DEMO_VILLAGE = "371699101200"
DEMO_TOWN = "371699101"


def actor(village_user: str, level: str, cell_code: str) -> str:
    """Who acts at `level` for a cell: the demo accounts have jurisdiction only in 黄河镇 and its
    one village, so elsewhere the nearest demo account above acts (the county's mediator)."""
    if level == "village" and cell_code.startswith(DEMO_VILLAGE):
        return village_user
    if level in ("village", "town") and cell_code.startswith(DEMO_TOWN):
        return "zhen_tiaojie"
    return "xian_tiaojie"


def settle_before(plan: dict, last_day: dt.date) -> dict:
    """Pull every step after the history's end back to that day (the case stays settled)."""
    end = dt.datetime.combine(last_day, dt.time(17, 0), SHANGHAI)

    def clip(moment):
        return min(moment, end) if moment else moment

    case = plan["case"]
    for name in ("accepted_at", "resolved_at", "closed_at"):
        case[name] = clip(case[name])
    plan["events"] = [(e[0], clip(e[1]), *e[2:]) for e in plan["events"]]
    if plan["follow_up"]:
        plan["follow_up"]["at"] = clip(plan["follow_up"]["at"])
    return plan


def insert_plans(plans: list[dict]) -> None:
    """Insert the planned cases and their children with executemany (ids taken up front)."""
    n = len(plans)
    ids = (
        db.session.execute(
            text("SELECT nextval('cases_id_seq') FROM generate_series(1, :n)"), {"n": n}
        )
        .scalars()
        .all()
    )
    by_year: dict[int, list[dict]] = {}
    for plan in plans:
        by_year.setdefault(clock.local_date(plan["case"]["reported_at"]).year, []).append(plan)
    numbers = {}
    for year, group in sorted(by_year.items()):
        last = db.session.execute(
            text(
                "INSERT INTO case_counters (county_code, year, last) VALUES (:c, :y, :n)"
                " ON CONFLICT (county_code, year) DO UPDATE SET last = case_counters.last + :n"
                " RETURNING last"
            ),
            {"c": COUNTY_PREFIX, "y": year, "n": len(group)},
        ).scalar_one()
        for i, plan in enumerate(group):
            numbers[id(plan)] = f"{COUNTY_PREFIX}-{year}-{last - len(group) + 1 + i:06d}"
    case_rows, event_rows, party_rows, agreement_rows, follow_rows = [], [], [], [], []
    for case_id, plan in zip(ids, plans, strict=True):
        c = dict(plan["case"])
        cell = c.pop("cell")
        c |= {
            "id": case_id,
            "number": numbers[id(plan)],
            "grid_cell_id": cell.id,
            "village_id": cell.village_id,
            "town_id": cell.town_id,
            "county_id": cell.county_id,
            "region_code": cell.code,
            "created_at": c["reported_at"],
            "updated_at": c["closed_at"],
            # As the app counts it: every step that changed the state raised the version.
            "version": sum(1 for event in plan["events"] if event[4] is not None),
        }
        c["location"] = f"SRID=4326;POINT({c.pop('lon')} {c.pop('lat')})"
        case_rows.append(c)
        for action, at, actor, from_s, to_s, from_l, to_l, note in plan["events"]:
            event_rows.append(
                {
                    "case_id": case_id,
                    "at": at,
                    "actor_id": actor,
                    "action": action,
                    "from_state": from_s,
                    "to_state": to_s,
                    "from_level": from_l,
                    "to_level": to_l,
                    "note": note,
                }
            )
        for role, name, phone in plan["parties"]:
            party_rows.append(
                {
                    "case_id": case_id,
                    "role": role,
                    "name_enc": pii.encrypt(name),
                    "name_masked": pii.mask_name(name),
                    "name_hash": pii.keyed_hash(name),
                    "phone_enc": pii.encrypt(phone),
                    "phone_masked": pii.mask_phone(phone),
                    "phone_hash": pii.keyed_hash(phone),
                }
            )
        if plan["agreement"]:
            agreement_rows.append(
                {
                    "case_id": case_id,
                    **plan["agreement"],
                    "signed_by_parties": True,
                    "signed_by_mediator": True,
                }
            )
        if plan["follow_up"]:
            follow_rows.append({"case_id": case_id, **plan["follow_up"]})
    bulk("cases", case_rows)
    bulk("case_events", event_rows)
    bulk("parties", party_rows)
    bulk("agreements", agreement_rows)
    bulk("follow_ups", follow_rows)
    insert_dispatches(ids, plans)


def insert_dispatches(ids: list[int], plans: list[dict]) -> int:
    """The planned dispatches, each to the unit the routing table names for the case's category
    at its centre (town or county); a case whose category has no route stays undispatched."""
    routes = {
        (row.region_id, row.category): row.department_id
        for row in db.session.execute(
            text("SELECT region_id, category, department_id FROM routing_rules")
        )
    }
    calendar = years.calendar()
    rows = []
    for case_id, plan in zip(ids, plans, strict=True):
        wanted, case = plan["dispatch"], plan["case"]
        if not wanted or case["resolved_at"] is None:
            continue
        cell = case["cell"]
        centre = cell.town_id if case["level"] == "town" else cell.county_id
        department = routes.get((centre, case["category"]))
        if department is None:
            continue
        resolved = case["resolved_at"]
        sent = min(wanted["at"], resolved - dt.timedelta(hours=6))
        sign_due = due_after(sent, 1, "working_days", calendar=calendar).date
        signed = min(sent + dt.timedelta(days=wanted["sign_days"], hours=1), resolved)
        reported = max(signed, resolved - dt.timedelta(hours=3))
        report_due = case["resolve_due"] or clock.local_date(resolved)
        rows.append(
            {
                "case_id": case_id,
                "department_id": department,
                "role": "lead",
                "state": "accepted",
                "centre_region_id": centre,
                "centre_level": case["level"],
                "dispatched_by_id": case["handler_id"],
                "dispatched_at": sent,
                "sign_due": sign_due,
                "report_due": report_due,
                "clock_rules": {
                    "sign": {"days": 1, "unit": "working_days", "percent": None, "years": []}
                },
                "signed_at": signed,
                "signed_on_time": clock.local_date(signed) <= sign_due,
                "reported_at": reported,
                "reported_on_time": clock.local_date(reported) <= report_due,
                "report_note": "已按要求办结",
                "reviewed_at": resolved,
                "reviewed_by_id": case["handler_id"],
                "created_at": sent,
                "updated_at": resolved,
            }
        )
    bulk("dispatches", rows)
    return len(rows)


def add_inspections(rng: random.Random, inspector_id: int) -> int:
    """Monthly inspections of each demo risk point from its registration up to the first one the
    risk demo recorded (the later ones are that demo's)."""
    points = db.session.execute(
        text(
            """
            SELECT p.id, p.responsible_id,
                   CAST(p.registered_at AT TIME ZONE 'Asia/Shanghai' AS date) AS since,
                   (SELECT min(i.inspected_on) FROM inspections i
                     WHERE i.risk_point_id = p.id) AS first
              FROM risk_points p
             WHERE p.region_code LIKE :p || '%'
             ORDER BY p.id
            """
        ),
        {"p": COUNTY_PREFIX},
    ).all()
    rows = []
    for point in points:
        day = point.since + dt.timedelta(days=rng.randint(3, 10))
        end = point.first or clock.today()
        while day < end - dt.timedelta(days=3):
            abnormal = rng.random() < 0.12
            rows.append(
                {
                    "risk_point_id": point.id,
                    "inspected_on": day,
                    "inspector_id": point.responsible_id or inspector_id,
                    "result": "abnormal" if abnormal else "normal",
                    "notes": f"{MARK}{'发现异常，已督促整改' if abnormal else '巡查正常'}",
                }
            )
            day += dt.timedelta(days=rng.randint(20, 32))
    bulk("inspections", rows)
    return len(rows)


def bulk(table: str, rows: list[dict]) -> None:
    """Insert rows with one Core INSERT per batch (SQLAlchemy's insertmanyvalues: multi-row
    VALUES, not a round trip per row)."""
    if rows:
        db.session.execute(insert(db.metadata.tables[table]), rows)
