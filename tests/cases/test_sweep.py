"""The sweep: escalation policy, idempotence, one at a time, versions untouched by warnings."""

import datetime as dt

from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text

from app.audit.models import AuditEntry
from app.cases import services
from app.cases.models import Case
from app.core import clock
from app.deadlines.calendar import SHANGHAI
from app.extensions import db
from tests.cases.factories import report
from tests.factories import bearer


def test_overdue_village_acceptance_escalates_once(client, world, monkeypatch):
    """A village case not accepted in time goes to its town; a second sweep changes nothing."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    due = db.session.scalar(select(Case.accept_due).where(Case.number == number))
    later = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(9), SHANGHAI)
    monkeypatch.setattr(clock, "today", lambda: later.date())
    monkeypatch.setattr(clock, "now", lambda: later.astimezone(dt.UTC))
    first = services.sweep()
    db.session.commit()
    assert (first.ran, first.escalated) == (True, 1)
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (case.level, case.max_level, case.state) == ("town", "town", "reported")
    assert case.accept_due > due
    assert [e.action for e in case.events][-1] == "auto_escalate"
    assert (
        db.session.scalar(
            select(AuditEntry.action)
            .where(AuditEntry.object_id == number)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        == "cases.auto_escalate"
    )
    second = services.sweep()
    db.session.commit()
    assert (second.escalated, second.warnings_changed) == (0, 0)


def test_escalation_policy_can_be_turned_off(app, client, world, monkeypatch):
    """AUTO_ESCALATE_OVERDUE_ACCEPTANCE=false: overdue cases only turn red."""
    monkeypatch.setitem(app.config, "AUTO_ESCALATE_OVERDUE_ACCEPTANCE", False)
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    due = db.session.scalar(select(Case.accept_due).where(Case.number == number))
    monkeypatch.setattr(clock, "today", lambda: due + dt.timedelta(days=1))
    result = services.sweep()
    db.session.commit()
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert result.escalated == 0 and (case.level, case.warning) == ("village", "red")


def test_warnings_do_not_change_the_version(client, world, monkeypatch):
    """A mediator's open page stays valid when the sweep only recolours the case."""
    number = report(client, world["mediator@town"]).get_json()["number"]
    version = db.session.scalar(select(Case.version).where(Case.number == number))
    due = db.session.scalar(select(Case.accept_due).where(Case.number == number))
    monkeypatch.setattr(clock, "today", lambda: due + dt.timedelta(days=1))
    assert services.sweep().warnings_changed == 1
    db.session.commit()
    assert db.session.scalar(select(Case.version).where(Case.number == number)) == version
    response = client.post(
        f"/api/v1/cases/{number}/actions/accept",
        json={"version": version},
        headers=bearer(world["mediator@town"]),
    )
    assert response.status_code == 200


def test_a_second_sweep_at_the_same_time_skips(app, database_url, world):
    """While one sweep holds the lock, another one returns at once without doing anything."""
    engine = create_engine(database_url)
    with engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": services.SWEEP_LOCK})
        try:
            assert services.sweep().ran is False
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": services.SWEEP_LOCK})
    engine.dispose()
    assert services.sweep().ran is True


def test_sweep_command(runner, world):
    """`flask cases sweep` reports what it did."""
    result = runner.invoke(args=["cases", "sweep"])
    assert result.exit_code == 0 and "巡检完成" in result.output


def test_sweep_command_as_of_a_day(runner, client, world):
    """`flask cases sweep --on YYYY-MM-DD` sweeps as of that day: past the acceptance deadline the
    case is red (the town case is not escalated); a date that is not one is refused."""
    number = report(client, world["mediator@town"]).get_json()["number"]
    due = db.session.scalar(select(Case.accept_due).where(Case.number == number))
    db.session.commit()
    late = (due + dt.timedelta(days=1)).isoformat()
    result = runner.invoke(args=["cases", "sweep", "--on", late])
    assert result.exit_code == 0 and "预警变化 1 件" in result.output, result.output
    db.session.expire_all()
    assert db.session.scalar(select(Case.warning).where(Case.number == number)) == "red"
    bad = runner.invoke(args=["cases", "sweep", "--on", "2026-13-01"])
    assert bad.exit_code == 2 and "--on" in bad.output
