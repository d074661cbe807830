"""`flask seed demo` adds one finished campaign in the demo town, once."""

from sqlalchemy import text

from app.extensions import db


def test_demo_campaign_is_finished_with_findings_and_made_once(runner):
    """Closed, every task done with a finding, some linking demo risk points; a rerun adds none."""
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    assert "新增演示专项排查 1 项" in first.output
    row = db.session.execute(
        text(
            """
            SELECT c.state, count(DISTINCT t.id) AS tasks,
                   count(DISTINCT t.id) FILTER (WHERE t.state = 'done') AS done,
                   count(f.id) AS findings,
                   count(f.id) FILTER (WHERE f.result = 'risk_point') AS risk_points
              FROM campaigns c JOIN campaign_tasks t ON t.campaign_id = c.id
              LEFT JOIN campaign_findings f ON f.task_id = t.id
             GROUP BY c.state
            """
        )
    ).one()
    assert row.state == "closed" and row.tasks > 0
    assert row.done == row.tasks == row.findings and row.risk_points > 0
    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0 and "新增演示专项排查 0 项" in again.output
    assert db.session.execute(text("SELECT count(*) FROM campaigns")).scalar() == 1
