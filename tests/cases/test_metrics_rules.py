"""Measures (GET /api/v1/metrics) on cases of each test's own: who may read them, bad
parameters, Asia/Shanghai days, review cases counted once.

The hand-built set whose every measure is worked out by hand is tests/cases/test_metrics.py's,
built once for that module: these tests need an empty world instead.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from app.cases.models import Case
from app.extensions import db
from tests.cases.factories import report
from tests.cases.test_metrics import MARCH
from tests.cases.test_metrics import SHANGHAI
from tests.cases.test_metrics import Clock
from tests.cases.test_metrics import metrics
from tests.cases.test_metrics import ratio


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """A controlled clock."""
    return Clock(monkeypatch)


@pytest.mark.parametrize(
    ("user", "status"),
    [("grid_worker@village", 403), ("admin@county", 403), ("mediator@village", 200)],
)
def test_who_may_read_metrics(client, world, user, status):
    """metrics.read: mediators and officials only."""
    assert metrics(client, world[user]).status_code == status


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-31", "to": "2026-03-01"},
        {"from": "2020-01-01", "to": "2026-03-01"},
        {"from": "2026-02-30"},
        {"region": "3716"},
        {"kind": "other"},
    ],
)
def test_bad_parameters_are_400(client, world, params):
    """A period the wrong way round or too long, a bad date, region or kind: 400."""
    response = metrics(client, world["official@town"], **params)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"]["query"]


def test_period_days_are_shanghai_days(client, world, clock):
    """A case closed at 23:30 on 3-31 (Beijing time) is March's; at 00:30 on 4-01 it is not."""
    numbers = []
    for _ in range(2):
        clock.at(3, 2)
        response = report(client, world["grid_worker@village"])
        numbers.append(response.get_json()["number"])
    late_march = dt.datetime(2026, 3, 31, 23, 30, tzinfo=SHANGHAI)
    early_april = dt.datetime(2026, 4, 1, 0, 30, tzinfo=SHANGHAI)
    for number, closed_at in zip(numbers, (late_march, early_april), strict=True):
        db.session.execute(
            update(Case)
            .where(Case.number == number)
            .values(state="closed", closed_at=closed_at)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    body = metrics(client, world["official@village"], **MARCH).get_json()
    assert body["measures"]["village_retention"] == ratio(1, 1, 1.0)
    april = metrics(client, world["official@village"], **{"from": "2026-04-01", "to": "2026-04-01"})
    assert april.get_json()["measures"]["village_retention"] == ratio(1, 1, 1.0)


def test_review_cases_do_not_count_twice_in_level_measures(client, world, clock):
    """A 复查 case opened at the town is the same matter: county share counts the parent only."""
    clock.at(3, 2)
    parent = report(client, world["grid_worker@village"], "petition").get_json()["number"]
    db.session.execute(
        update(Case)
        .where(Case.number == parent)
        .values(state="resolved", resolved_at=clock.moment, outcome="explained")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    clock.at(3, 3)
    child = report(client, world["mediator@town"], "petition", level="town").get_json()["number"]
    db.session.execute(
        update(Case)
        .where(Case.number == child)
        .values(review_stage="review", max_level="county")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    body = metrics(client, world["official@town"], **MARCH).get_json()
    assert body["measures"]["county_share"] == ratio(0, 1, 0.0)
    assert body["measures"]["backlog"]["open"] == 1  # the review case is open work
