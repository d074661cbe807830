"""Demo visits (走访 / 民情日志): the demo village's two grid workers' household visits over the
last 90 days, every purpose, the older ones reviewed by the village official.

Deterministic and idempotent: each visit has a stable outbox key (demo-visit-001 …) per worker
and is skipped when it exists. Dates are relative to the day of seeding.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.core import clock
from app.extensions import db
from app.visits import services
from app.visits.models import PURPOSES

SEED = 20261201
PER_WORKER = 40
DAYS = 90
REVIEWED_AFTER_DAYS = 7  # visits older than a week have been reviewed
WORKERS = ("cun_wangge", "cun_wangge2")
REVIEWER = "cun_ganbu"
SURNAMES = "王李张刘陈杨赵黄周吴"
HEARD = {
    "routine": ["家中老人身体尚好，希望村里多组织义诊", "反映村内路灯损坏，夜间出行不便"],
    "key_people": ["独居老人生活能自理，已留村干部电话", "留守儿童由祖父母照看，学习情况一般"],
    "disputes": ["与邻居因宅基地界址有争执，已劝双方等待村里丈量", "反映承包地流转费迟迟未付"],
    "policy": ["宣传城乡居民医保缴费政策，户主表示本月内缴纳", "讲解防范电信诈骗知识，发放资料"],
    "other": ["询问小麦补贴发放时间", "反映垃圾清运不及时"],
}

POINTS_SQL = text(
    """
    SELECT ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat
      FROM grid_cells c, ST_Dump(ST_GeneratePoints(c.geom, :n, :seed)) AS p
     WHERE c.code = :code
    """
)


def seed_demo_visits() -> int:
    """Log the demo visits that do not exist yet; the number added."""
    rng = random.Random(SEED)
    reviewer = db.session.scalar(select(User).where(User.username == REVIEWER))
    added = 0
    for index, username in enumerate(WORKERS):
        worker = db.session.scalar(select(User).where(User.username == username))
        if worker is None or not worker.grid_cells:
            continue
        cells = [c.code for c in worker.grid_cells]
        points = []
        for cell in cells:
            points += db.session.execute(
                POINTS_SQL, {"n": PER_WORKER, "seed": SEED + index, "code": cell}
            ).all()
        for n in range(PER_WORKER):
            purpose = PURPOSES[n % len(PURPOSES)]
            lon, lat = points[(n * 7) % len(points)]
            visited_at = clock.now() - dt.timedelta(
                days=rng.randrange(DAYS), hours=rng.randrange(8)
            )
            data = {
                "lon": round(lon, 6),
                "lat": round(lat, 6),
                "household": f"{rng.randrange(1, 9)}组{rng.randrange(1, 40)}号",
                "householder": rng.choice(SURNAMES) + rng.choice("建国秀英志强桂兰明华"),
                "purpose": purpose,
                "heard": rng.choice(HEARD[purpose]),
                "visited_at": visited_at,
            }
            visit, created = services.log(data, worker, f"demo-visit-{n + 1:03d}")
            if not created:
                continue
            added += 1
            if reviewer is not None and visited_at < clock.now() - dt.timedelta(
                days=REVIEWED_AFTER_DAYS
            ):
                visit.review_state = "reviewed"
                visit.review_comment = "已阅，请持续跟进" if purpose == "disputes" else "已阅"
                visit.reviewed_by_id = reviewer.id
                visit.reviewed_at = visited_at + dt.timedelta(days=2)
    db.session.flush()
    return added
