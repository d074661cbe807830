"""`flask seed demo --history`: two years of settled cases and inspections, in bulk, once."""

import datetime as dt

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.briefings import jobs
from app.cases import facts
from app.core import clock
from app.demo.geography import COUNTY_CODE
from app.demo.history import MARK
from app.extensions import db
from app.notify.models import Notification
from app.warnings.models import EarlyWarning
from tests.briefings.test_briefings import RATE_NAMES
from tests.briefings.test_briefings import brief
from tests.briefings.test_briefings import docx_of
from tests.cases.factories import commit
from tests.cases.factories import report
from tests.factories import bearer
from tests.warnings.factories import scan
from tests.warnings.test_warnings import LABOUR

FACT_SUMS = "SELECT metric, sum(n) FROM measure_facts GROUP BY metric ORDER BY metric"


def test_history_loads_fast_covers_every_path_and_is_made_once(runner, client):
    """A few thousand demo cases on every path, seasonal 劳资, facts current; a rerun adds none.
    Against that history, the county's last-quarter briefing carries /api/v1/metrics' numbers,
    and five 劳资 reports in one cell within days raise one hotspot warning, a sixth no second
    one (issue 16's "done when" in the demo county)."""
    first = runner.invoke(args=["seed", "demo", "--history"])
    assert first.exit_code == 0, first.output
    count = lambda sql: db.session.execute(text(sql), {"m": MARK + "%"}).scalar()  # noqa: E731
    history = count("SELECT count(*) FROM cases WHERE title LIKE :m")
    assert 2000 <= history <= 5000
    assert f"新增历史事件 {history} 件" in first.output
    paths = db.session.execute(
        text("SELECT DISTINCT kind, state, max_level FROM cases WHERE title LIKE :m"),
        {"m": MARK + "%"},
    ).all()
    assert {p.kind for p in paths} == {"dispute", "petition", "incident"}
    assert {p.state for p in paths} == {"closed", "rejected"}
    assert {p.max_level for p in paths} == {"village", "town", "county"}
    # Mediated agreements, answered petitions, follow-ups, escalations recorded as events.
    assert count(
        "SELECT count(*) FROM agreements a JOIN cases c ON c.id = a.case_id WHERE c.title LIKE :m"
    )
    assert not count(
        "SELECT count(*) FROM cases WHERE title LIKE :m AND kind = 'petition'"
        " AND state = 'closed' AND reply IS NULL"
    )
    assert count(
        "SELECT count(*) FROM follow_ups f JOIN cases c ON c.id = f.case_id WHERE c.title LIKE :m"
    )
    assert count(
        "SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id"
        " WHERE c.title LIKE :m AND e.action = 'escalate'"
    )
    assert count("SELECT count(*) FROM inspections WHERE notes LIKE :m")
    # 劳资 before the Spring Festival: January's share well above July's.
    wages = db.session.execute(
        text(
            "SELECT extract(month FROM reported_at AT TIME ZONE 'Asia/Shanghai') AS m,"
            " avg((category = '劳资')::int) AS share FROM cases WHERE title LIKE :m"
            " AND kind = 'dispute' GROUP BY 1"
        ),
        {"m": MARK + "%"},
    ).all()
    share = {int(row.m): row.share for row in wages}
    assert share[1] > 2 * share[7]
    # Statistics of the rows just loaded: without them (autovacuum may not have analyzed them
    # yet) the planner can rerun the per-case aggregate below for every case (a 60 s timeout).
    db.session.execute(text("ANALYZE cases, case_events"))
    # Every history case's timeline explains its state, as the soak checks the app's own cases:
    # it starts with the report, each step leaves from where the last one arrived, it ends in the
    # case's state, and the version counts the steps.
    unexplained = db.session.execute(
        text(
            """
            WITH ev AS (
                SELECT e.case_id, e.action, e.from_state, e.to_state,
                       row_number() OVER w AS n, lag(e.to_state) OVER w AS previous,
                       count(*) OVER (PARTITION BY e.case_id) AS total
                  FROM case_events e JOIN cases c ON c.id = e.case_id
                 WHERE e.to_state IS NOT NULL AND c.title LIKE :m
                WINDOW w AS (PARTITION BY e.case_id ORDER BY e.id)),
            per_case AS (
                SELECT case_id, max(total) AS steps,
                       bool_or(n = 1 AND action <> 'report') AS bad_start,
                       bool_or(n > 1 AND from_state IS DISTINCT FROM previous) AS broken,
                       max(to_state) FILTER (WHERE n = total) AS last_state
                  FROM ev GROUP BY case_id)
            SELECT count(*) FROM cases c LEFT JOIN per_case p ON p.case_id = c.id
             WHERE c.title LIKE :m
               AND (p.case_id IS NULL OR p.bad_start OR p.broken
                    OR p.last_state <> c.state OR p.steps <> c.version)
            """
        ),
        {"m": MARK + "%"},
    ).scalar()
    assert unexplained == 0
    # The triggers kept the measure facts: a rebuild from scratch finds the same counts.
    before = db.session.execute(text(FACT_SUMS)).all()
    facts.rebuild()
    assert db.session.execute(text(FACT_SUMS)).all() == before

    again = runner.invoke(args=["seed", "demo", "--history"])
    assert again.exit_code == 0 and "新增历史事件 0 件" in again.output
    assert count("SELECT count(*) FROM cases WHERE title LIKE :m") == history

    # --- 研判 in the demo county: the history is the baseline a hotspot is measured against.
    worker = db.session.scalar(select(User).where(User.username == "cun_wangge"))
    cell = db.session.execute(
        text(
            "SELECT g.code, ST_X(ST_PointOnSurface(g.geom)) AS lon,"
            " ST_Y(ST_PointOnSurface(g.geom)) AS lat FROM grid_cells g"
            " JOIN user_grid_cells u ON u.grid_cell_id = g.id WHERE u.user_id = :u"
            " ORDER BY g.code LIMIT 1"
        ),
        {"u": worker.id},
    ).one()
    headers = bearer(worker)
    body = {**LABOUR, "lon": cell.lon, "lat": cell.lat}
    for _ in range(5):
        scan(report(client, worker, headers=headers, **body).get_json()["number"])
    hot = db.session.scalars(
        select(EarlyWarning).where(EarlyWarning.kind == "hotspot", EarlyWarning.category == "劳资")
    ).all()
    assert len(hot) == 1, [w.explanation for w in hot]
    (warning,) = hot
    assert warning.region_code == cell.code and "劳资：近 14 天" in warning.explanation
    assert "按过去 12 个月应约" in warning.explanation
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.event == "warning_raised")
    ).all()
    assert told  # the village's (or town's) officials have it in their inbox
    scan(report(client, worker, headers=headers, **body).get_json()["number"])
    assert (
        db.session.scalar(
            select(func.count()).select_from(EarlyWarning).where(EarlyWarning.kind == "hotspot")
        )
        == 1
    )

    # --- 工作简报 of the demo county's last full quarter, against /api/v1/metrics.
    county = db.session.scalar(select(User).where(User.username == "xian_ganbu"))
    official = bearer(county)
    quarter_end = dt.date(clock.today().year, ((clock.today().month - 1) // 3) * 3 + 1, 1)
    quarter_end -= dt.timedelta(days=1)
    quarter_start = dt.date(quarter_end.year, quarter_end.month - 2, 1)
    created = brief(client, official, COUNTY_CODE, quarter_start, quarter_end)
    assert created.status_code == 202, created.get_json()
    commit()
    assert jobs.run_briefing(created.get_json()["id"]) == "done"
    metrics = client.get(
        f"/api/v1/metrics?region={COUNTY_CODE}&from={quarter_start}&to={quarter_end}",
        headers=official,
    ).get_json()["measures"]
    document = docx_of(client, official, created.get_json()["id"])
    rows = [[c.text for c in row.cells] for row in document.tables[0].rows][1:]
    assert rows and metrics["village_retention"]["denominator"] > 50  # the history is in it
    for name, numerator, denominator, _rate in rows:
        expected = metrics[RATE_NAMES[name]]
        assert (int(numerator), int(denominator)) == (
            expected["numerator"],
            expected["denominator"],
        )
    pdf = client.get(f"/api/v1/briefings/{created.get_json()['id']}.pdf", headers=official)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
