"""Demo cases in every state, so that the pages and maps have something to show.

Deterministic and idempotent: each case is reported and moved through the workflow by the
ordinary services (`report`, `act`) at fixed offsets from the day the demo is first seeded
(so that deadlines, warnings and the measures' default period stay meaningful), at fixed points
(`ST_GeneratePoints` with a seed). A demo case whose reporter already has one with its title is
left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.cases import services
from app.cases.models import Case
from app.core import clock
from app.extensions import db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
VILLAGE = "371699101200"
SURNAMES = "张王李赵刘陈杨黄孙周吴徐马朱胡郭何高林罗"

AGREEMENT = {
    "facts": "双方就边界与补偿存在争议",
    "responsibilities": "双方各承担相应责任",
    "terms": "重新确认界址，一方补偿对方 2000 元",
    "performance_method": "现场交付",
}
CLOSE_HAPPY = [
    ("cun_tiaojie", "accept", {}),
    ("cun_tiaojie", "start", {}),
    ("cun_tiaojie", "resolve", {"outcome": "agreement", "note": "调解成功"}),
    ("cun_wangge", "follow_up", {"method": "phone", "satisfaction": "satisfied"}),
    ("cun_tiaojie", "close", {}),
]

# (reporter, cell (15 digits), kind, category, title, days ago, [(actor, action, data), ...]).
# The steps happen one day apart after the report (the last one `days ago` allowing).
DEMO_CASES = [
    ("cun_wangge", f"{VILLAGE}001", "dispute", "邻里", "宅基地边界纠纷", 20, CLOSE_HAPPY),
    (
        "cun_wangge",
        f"{VILLAGE}002",
        "dispute",
        "婚姻家庭",
        "赡养老人费用分担纠纷",
        12,
        [
            ("cun_tiaojie", "accept", {}),
            ("cun_tiaojie", "start", {}),
            (
                "cun_tiaojie",
                "resolve",
                {"outcome": "failed", "note": "调解不成", "routes_informed": ["诉讼"]},
            ),
        ],
    ),
    ("cun_wangge", f"{VILLAGE}001", "dispute", "劳资", "村台工地拖欠工资", 2, []),
    ("cun_wangge", f"{VILLAGE}002", "incident", "四乱", "河道旁乱堆建筑垃圾", 6, []),
    (
        "cun_wangge",
        f"{VILLAGE}001",
        "dispute",
        "土地山林水利权属",
        "承包地灌溉用水纠纷",
        8,
        [
            ("cun_tiaojie", "escalate", {"reason": "涉及两村，需镇协调"}),
            ("zhen_tiaojie", "accept", {}),
            ("zhen_tiaojie", "start", {}),
        ],
    ),
    (
        "cun_wangge",
        f"{VILLAGE}002",
        "petition",
        "征地拆迁安置",
        "征地补偿款发放异议",
        25,
        [
            ("cun_tiaojie", "escalate", {"reason": "超出村级职权"}),
            ("zhen_tiaojie", "escalate", {"reason": "涉及县级征地政策"}),
            ("xian_tiaojie", "accept", {}),
            ("xian_tiaojie", "start", {}),
            ("xian_ganbu", "supervise", {"supervision": "red", "note": "限期答复"}),
        ],
    ),
    (
        "cun_wangge",
        f"{VILLAGE}001",
        "dispute",
        "邻里",
        "邻里排水沟堵塞纠纷",
        40,
        [
            ("cun_tiaojie", "escalate", {"reason": "多次调解未果"}),
            ("zhen_tiaojie", "accept", {}),
            ("zhen_tiaojie", "resolve", {"outcome": "agreement", "note": "镇调委会调解成功"}),
            ("cun_wangge", "follow_up", {"method": "visit", "satisfaction": "basically_satisfied"}),
            ("zhen_tiaojie", "close", {}),
        ],
    ),
    ("cun_wangge", f"{VILLAGE}002", "dispute", "合同/经济", "农资赊销货款纠纷", 1, []),
    (
        "cun_wangge",
        f"{VILLAGE}001",
        "incident",
        "治安",
        "夜间偷盗电动车线索",
        3,
        [("cun_tiaojie", "accept", {}), ("cun_tiaojie", "start", {})],
    ),
    ("cun_wangge2", f"{VILLAGE}003", "dispute", "邻里", "院墙加高遮挡采光", 4, []),
    ("cun_wangge", f"{VILLAGE}001", "dispute", "邻里", "家畜散养损坏庄稼", 60, CLOSE_HAPPY),
    ("cun_wangge", f"{VILLAGE}002", "dispute", "婚姻家庭", "离婚后子女探视纠纷", 95, CLOSE_HAPPY),
    ("cun_wangge", f"{VILLAGE}001", "dispute", "合同/经济", "土地流转租金拖欠", 125, CLOSE_HAPPY),
    ("cun_wangge2", f"{VILLAGE}003", "dispute", "邻里", "宅前道路占用纠纷", 150, CLOSE_HAPPY),
    # Elsewhere in the county, reported by the county's mediator at town level.
    ("xian_tiaojie", "371699102201001", "dispute", "劳资", "养殖场工人工资纠纷", 5, []),
    ("xian_tiaojie", "371699103203002", "incident", "安全生产", "废弃厂房存在坍塌隐患", 9, []),
    ("xian_tiaojie", "371699201200001", "petition", "村(社)务管理", "村务公开不及时", 16, []),
    ("xian_tiaojie", "371699001001001", "dispute", "环境污染/人居环境", "餐馆油烟扰民", 3, []),
]


@contextmanager
def frozen_now(moment: dt.datetime) -> Iterator[None]:
    """Make the case services see `moment` as the current time (demo history only)."""
    # Only the instant moves: "today" stays the real one, as the sweep that follows sees it.
    saved, saved_today = clock.now, clock.today
    real_today = clock.today()
    clock.now = lambda: moment
    clock.today = lambda: real_today
    try:
        yield
    finally:
        clock.now, clock.today = saved, saved_today


def point_in(cell_code: str, seed: int) -> tuple[float, float] | None:
    """A fixed point inside a grid cell (None if the cell does not exist)."""
    row = db.session.execute(
        text(
            "SELECT ST_X(p.geom), ST_Y(p.geom) FROM grid_cells g,"
            " LATERAL ST_Dump(ST_GeneratePoints(ST_Buffer(g.geom, -0.0003), 1, :seed)) p"
            " WHERE g.code = :code"
        ),
        {"code": cell_code, "seed": seed},
    ).first()
    return (round(row[0], 6), round(row[1], 6)) if row else None


def seed_demo_cases(today: dt.date | None = None) -> int:
    """Report (and move along) the demo cases that do not exist yet; returns how many were made."""
    today = today or clock.today()
    users = {u.username: u for u in db.session.scalars(select(User))}
    made = 0
    for index, (reporter, cell, kind, category, title, days_ago, steps) in enumerate(DEMO_CASES):
        user = users.get(reporter)
        if user is None:
            continue
        exists = db.session.scalar(
            select(Case.id).where(Case.reporter_id == user.id, Case.title == title)
        )
        point = point_in(cell, 1000 + index)
        if exists or point is None:
            continue
        start = dt.datetime.combine(
            today - dt.timedelta(days=days_ago), dt.time(9, 30), SHANGHAI
        ) + dt.timedelta(minutes=7 * index)
        body = {
            "kind": kind,
            "category": category,
            "source": "grid_patrol" if user.role == "grid_worker" else "visit",
            "title": title,
            "description": f"{title}：当事人反映情况，网格员现场核实。",
            "lon": point[0],
            "lat": point[1],
            "parties": [
                # Distinct people per case, so the repeat-party hint means something.
                {
                    "role": "applicant",
                    "name": f"{SURNAMES[index]}某",
                    "phone": f"1380000{index:04d}",
                },
                {"role": "respondent", "name": f"{SURNAMES[-index - 1]}某"},
            ],
        }
        if user.role != "grid_worker":
            body["level"] = "town"
        with frozen_now(start):
            case = services.report(body, user)
        for step, (actor, action, data) in enumerate(steps, start=1):
            moment = start + dt.timedelta(days=min(step, days_ago), hours=step)
            data = dict(data)
            if action == "resolve" and data["outcome"] == "agreement":
                signed = moment.astimezone(SHANGHAI).date()
                data["agreement"] = {
                    **AGREEMENT,
                    "performance_due": signed + dt.timedelta(days=15),
                    "signed_on": signed,
                    "signed_by_parties": True,
                    "signed_by_mediator": True,
                }
            with frozen_now(moment):
                services.act(case, users[actor], action, data, case.version)
                db.session.flush()
        made += 1
    return made
