"""Pre-aggregated measures (app/cases/facts.py) answer exactly what the live queries answer."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from flask_login import login_user
from sqlalchemy import select
from sqlalchemy import text

from app.cases import facts
from app.cases import measures
from app.cases import schemas
from app.cases import services
from app.cases import workflow
from app.cases.models import Case
from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.geo.models import Region
from tests.cases.factories import POINT
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import case_body
from tests.cases.test_workflow import BODIES as WORKFLOW_BODIES
from tests.factories import COUNTY
from tests.geo.factories import TOWN

ACTORS = [
    f"{role}@{level}"
    for role in ("mediator", "official")
    for level in ("village", "town", "county")
]
AGREEMENT = {
    "facts": "漏水",
    "responsibilities": "楼上负责",
    "terms": "修复",
    "performance_method": "现金",
    "performance_due": "2026-12-30",
    "signed_on": "2026-11-20",
    "signed_by_parties": True,
    "signed_by_mediator": True,
}


def body_for(action: str, case: Case, rng: random.Random) -> dict:
    """A valid body for an action on a case."""
    if action == "resolve":
        outcomes = schemas_outcomes(case.kind)
        if case.agreement is not None:
            # A reopened case keeps its first agreement; a second one is refused by the schema.
            outcomes.discard("agreement")
        outcome = rng.choice(sorted(outcomes))
        body = {"outcome": outcome, "note": "办结"}
        if case.kind == "petition":
            body["reply"] = "答复意见"
        if outcome == "agreement":
            # Signed on the day it is recorded (never in the future, never before the report).
            body["agreement"] = {**AGREEMENT, "signed_on": clock.today().isoformat()}
        if outcome == "failed":
            body["routes_informed"] = ["诉讼"]
        return body
    if action == "follow_up":
        return {
            "method": "phone",
            "satisfaction": rng.choice(["satisfied", "basically_satisfied", "dissatisfied"]),
        }
    if action == "assign_down":
        return {"to_level": "village", "reason": "交办"}
    if action == "supervise":
        return {"supervision": rng.choice(["none", "normal", "yellow", "red"])}
    if action == "reject" and case.kind == "petition":
        # 信访工作条例 第十九、二十三条: a refused petition names its ground and the notice.
        return {
            "reason": "理由",
            "ground": "outside_remit",
            "competent_body": "县人社局",
            "routes_told": ["诉讼"],
            "notice": "不予受理告知书",
        }
    if action in WORKFLOW_BODIES and schemas.ACTION_SCHEMAS[action] is not schemas.ReasonIn:
        return dict(WORKFLOW_BODIES[action])
    if schemas.ACTION_SCHEMAS[action] is schemas.ReasonIn:
        return {"reason": "理由"}
    return {}


def schemas_outcomes(kind: str) -> set[str]:
    """The outcomes of a kind."""
    from app.cases.workflow import OUTCOMES

    return set(OUTCOMES[kind])


FORWARD = {"accept", "start", "resolve", "follow_up", "close"}
SKIPPED = {"request_extension", "approve_extension", "record_performance", "record_judicial"}
SKIPPED |= {"request_review", "request_re_review", "name_mediators"}  # no measure reads
SKIPPED |= {"record_progress"}  # a note changes no measure
SKIPPED |= {"claim", "assign_handler"}  # the handler is read by no measure
# 分拨 needs a unit in the centre's region; its one change a measure reads (accepted →
# in_progress) is `start`'s, which the walk covers.
SKIPPED |= {"dispatch"}


def shuffle_times(rng: random.Random) -> None:
    """Move every case's instants and deadlines by random days around today (as the sweep and
    time would), and every follow-up too."""
    for case_id in db.session.scalars(select(Case.id)):
        shift = dt.timedelta(days=rng.randint(-400, 0), hours=rng.randint(0, 23))
        due_shift = dt.timedelta(days=rng.randint(-5, 5))
        db.session.execute(
            text(
                """
                UPDATE cases SET reported_at = reported_at + :s,
                                 accepted_at = accepted_at + :s + :d,
                                 resolved_at = resolved_at + :s + 2 * :d,
                                 closed_at = closed_at + :s + 3 * :d,
                                 accept_due = accept_due + :dd,
                                 resolve_due = resolve_due - :dd
                 WHERE id = :id
                """
            ),
            {"s": shift, "d": abs(due_shift), "dd": due_shift.days, "id": case_id},
        )
    db.session.execute(
        text("UPDATE follow_ups SET at = at - make_interval(days => (id * 37) % 300)")
    )


def random_history(world, rng: random.Random, cases: int = 40, steps: int = 220) -> None:
    """Report cases in three villages and two towns, then apply random workflow actions."""
    points = [POINT, POINT_CELL2, POINT_VILLAGE_B]
    levels = {"mediator@town": ["village", "town"], "official@county": ["village", "county"]}
    for _ in range(cases):
        kind = rng.choice(["dispute", "petition", "incident"])
        reporter = rng.choice(sorted(levels))
        data = {**case_body(kind), **rng.choice(points), "level": rng.choice(levels[reporter])}
        data.pop("parties")
        data["crs"] = "wgs84"
        loaded = schemas.CaseIn().load(data)
        loaded.pop("crs", None)
        services.report(loaded, world[reporter])
    db.session.flush()
    ids = db.session.scalars(select(Case.id)).all()
    for _ in range(steps):
        case = db.session.get(Case, rng.choice(ids))
        choices = [
            (key, action)
            for key in ACTORS
            for action in workflow.allowed_actions(case, world[key])
            if action not in SKIPPED
        ]
        if not choices:
            continue
        # Forward moves are likelier, so that many cases reach 归档 (closed).
        weights = [8 if action in FORWARD else 1 for _, action in choices]
        key, action = rng.choices(choices, weights)[0]
        user = world[key]
        data = schemas.ACTION_SCHEMAS[action]().load(body_for(action, case, rng))
        savepoint = db.session.begin_nested()
        try:
            services.act(case, user, action, data, case.version)
            savepoint.commit()
        except DomainError:
            savepoint.rollback()
    db.session.flush()


def both(app, user, region_code: str, date_from, date_to, kind):
    """compute_metrics from the facts and live, as `user`."""
    with app.test_request_context():
        login_user(user)
        region = db.session.scalar(select(Region).where(Region.code == region_code))
        return (
            measures.compute_metrics(region, date_from, date_to, kind, source="facts"),
            measures.compute_metrics(region, date_from, date_to, kind, source="live"),
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_facts_equal_live_after_random_changes(app, world, seed):
    """After random reports, workflow actions and moved dates, both paths agree exactly."""
    rng = random.Random(seed)
    random_history(world, rng)
    shuffle_times(rng)
    random_history(world, rng, cases=10, steps=80)  # and more changes on top
    today = clock.today()
    periods = [
        (today - dt.timedelta(days=29), today),
        (today - dt.timedelta(days=400), today),
        (today - dt.timedelta(days=200), today - dt.timedelta(days=100)),
    ]
    compared = 0
    for caller, region in [("official@county", COUNTY), ("mediator@county", TOWN)]:
        for date_from, date_to in periods:
            for kind in (None, "dispute", "petition"):
                got, want = both(app, world[caller], region, date_from, date_to, kind)
                assert got == want, (caller, region, date_from, date_to, kind)
                compared += 1
    assert compared == 18
    totals = both(app, world["official@county"], COUNTY, *periods[1], None)[0][0]
    # The history is rich enough that the comparison means something.
    assert totals["backlog"]["open"] > 0
    assert totals["satisfaction"]["denominator"] > 0
    assert totals["village_retention"]["denominator"] > 0


def test_facts_equal_a_full_recount(world):
    """The trigger-kept counts equal rebuild_measure_facts() from scratch."""
    random_history(world, random.Random(7), cases=25, steps=120)
    shuffle_times(random.Random(8))
    query = text("SELECT metric, day, region_code, kind, n FROM measure_facts WHERE n <> 0")
    kept = sorted(db.session.execute(query).all())
    db.session.execute(text("SELECT rebuild_measure_facts()"))
    assert kept == sorted(db.session.execute(query).all())
    assert kept


def test_rebuild_by_county_repairs_only_its_county_and_counts_writes_once(app, world):
    """rebuild_measure_facts_in(county): wrong counts of the county come back to the recount,
    zero rows go, and a case reported after it (its trigger's +1) is counted once."""
    random_history(world, random.Random(11), cases=15, steps=60)
    query = text("SELECT region_code, metric, day, kind, n FROM measure_facts ORDER BY 1, 2, 3, 4")
    want = [row for row in db.session.execute(query) if row.n != 0]
    prefix = COUNTY[:6]
    # Lost, wrong and zero rows in the county, and a row of another county left alone.
    db.session.execute(
        text(
            "DELETE FROM measure_facts WHERE ctid IN (SELECT ctid FROM measure_facts"
            " WHERE region_code LIKE :p || '%' LIMIT 3)"
        ),
        {"p": prefix},
    )
    db.session.execute(
        text(
            "UPDATE measure_facts SET n = n + 5 WHERE metric = 'all' AND region_code LIKE :p || '%'"
        ),
        {"p": prefix},
    )
    db.session.execute(
        text(
            "INSERT INTO measure_facts VALUES ('open', DATE '1970-01-01', :r, 'dispute', 0),"
            " ('open', DATE '1970-01-01', '999999000000', 'dispute', 2)"
        ),
        {"r": prefix + "999999"},
    )
    assert facts.rebuild_in(prefix) > 0
    other = ("999999000000", "open", dt.date(1970, 1, 1), "dispute", 2)
    assert db.session.execute(query).all() == sorted([*want, other])
    assert facts.rebuild_in(prefix) == 0  # nothing left to correct
    assert prefix in facts.county_prefixes()
    random_history(world, random.Random(12), cases=2, steps=0)
    after = db.session.execute(query).all()
    assert facts.rebuild_in(prefix) == 0
    assert db.session.execute(query).all() == after
    db.session.execute(text("DELETE FROM measure_facts WHERE region_code = '999999000000'"))
    got, live = both(app, world["official@county"], COUNTY, clock.today(), clock.today(), None)
    assert got == live


def test_the_measures_pass_reads_the_facts_index_only(world):
    """The count rides in the primary key's index (migration 0032), and each branch of the
    measures pass is a range of it: with the table's pages out of the planner's choices, every
    scan of `measure_facts` is an index-only scan of that key, and the upserts still find it."""
    definition = db.session.scalar(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_measure_facts'")
    )
    assert definition.endswith("(metric, day, region_code, kind) INCLUDE (n)"), definition
    today = clock.today()
    params = {
        "region_prefix": COUNTY[:6],
        "scope_prefix": COUNTY[:6],
        "kind": None,
        "date_from": today - dt.timedelta(days=29),
        "date_to": today,
        "today": today,
        "period_metrics": facts.PERIOD_METRICS,
        "now_metrics": facts.NOW_METRICS,
        "due_metrics": facts.DUE_METRICS,
    }
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
    sql = facts.FACT_MEASURES_SQL.format(key=facts.FACT_KEYS["county"])
    plan = "\n".join(db.session.scalars(text("EXPLAIN " + sql), params))
    scans = [line for line in plan.splitlines() if "measure_facts" in line]
    assert len(scans) == 3, plan
    assert all("Index Only Scan using pk_measure_facts" in line for line in scans), plan
