"""`flask seed demo` adds demo cases in many states, once."""

from sqlalchemy import text

from app.extensions import db


def test_demo_cases_cover_the_workflow_and_are_made_once(runner):
    """Cases in open, resolved, closed and escalated states; a rerun adds none."""
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    states = dict(
        db.session.execute(text("SELECT state, count(*) FROM cases GROUP BY state")).all()
    )
    assert {"reported", "in_progress", "resolved", "closed"} <= set(states)
    assert db.session.execute(text("SELECT count(*) FROM cases WHERE level = 'county'")).scalar()
    total = sum(states.values())
    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0 and "新增演示事件 0 件" in again.output
    assert db.session.execute(text("SELECT count(*) FROM cases")).scalar() == total
    # The demo village's visits (app/demo/visits.py): every purpose, some reviewed, made once.
    assert "新增走访记录 80 条" in first.output and "新增走访记录 0 条" in again.output
    visits = db.session.execute(
        text(
            "SELECT count(*), count(DISTINCT purpose), count(*) FILTER "
            "(WHERE review_state = 'reviewed') FROM visits"
        )
    ).one()
    assert visits[0] == 80 and visits[1] == 5 and 0 < visits[2] < 80
