"""Keyset pages of the case list: complete, without duplicates, equal to the plain ORM query."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy import text

from app.cases import queries
from app.cases import schemas
from app.cases import services
from app.cases.models import Case
from app.extensions import db
from app.scoping import scope_for
from tests.cases.factories import POINT
from tests.cases.factories import POINT_VILLAGE_B
from tests.cases.factories import case_body
from tests.factories import bearer


def many_cases(world, count: int = 37) -> None:
    """Cases in two villages with next_due values that tie, and some without any."""
    rng = random.Random(5)
    for i in range(count):
        point = POINT if i % 3 else POINT_VILLAGE_B
        data = {**case_body(rng.choice(["dispute", "incident"])), **point}
        data.pop("parties")
        services.report(data, world["mediator@town"])
    db.session.flush()
    today = dt.date(2026, 5, 1)
    for case_id in db.session.scalars(select(Case.id)):
        due = None if rng.random() < 0.3 else today + dt.timedelta(days=rng.randint(0, 4))
        db.session.execute(
            text("UPDATE cases SET next_due = :d WHERE id = :id"), {"d": due, "id": case_id}
        )
    db.session.commit()


def all_pages(client, headers, query: str, limit: int) -> list[dict]:
    """Every item, following `next` to the end."""
    items, after = [], None
    for _ in range(100):
        url = f"/api/v1/cases?limit={limit}&{query}" + (f"&after={after}" if after else "")
        body = client.get(url, headers=headers).get_json()
        items += body["items"]
        after = body["next"]
        if after is None:
            return items
    raise AssertionError("paging did not end")


def test_keyset_pages_are_complete_and_unique(client, world):
    """Walking the pages gives every visible case once, nearest deadline first."""
    many_cases(world)
    user = world["mediator@town"]
    headers = bearer(user)
    for query, limit in (("", 5), ("kind=dispute", 4), ("state=reported", 50), ("", 1)):
        items = all_pages(client, headers, query, limit)
        numbers = [item["number"] for item in items]
        assert len(numbers) == len(set(numbers))
        stmt = queries.scoped(select(Case), scope_for(user))
        if "kind=" in query:
            stmt = stmt.where(Case.kind == "dispute")
        expected = db.session.scalars(
            stmt.order_by(Case.next_due.asc().nulls_last(), Case.id)
        ).all()
        assert numbers == [case.number for case in expected], query
        # Field for field what CaseSummary makes of the ORM objects (the old, slower path).
        assert items == schemas.CaseSummary(many=True).dump(expected)


def test_a_village_user_pages_only_their_village(client, world):
    """Keyset pages stay inside the jurisdiction."""
    many_cases(world, 12)
    items = all_pages(client, bearer(world["mediator@village"]), "", 5)
    assert items and {item["village"]["code"] for item in items} == {"371699101200"}


def test_list_items_are_exactly_what_case_summary_dumps(client, world):
    """The list builds its JSON without marshmallow: every item equals CaseSummary's dump of the
    same case, field for field (warnings, supervision and dates included)."""
    many_cases(world, count=12)
    case = db.session.scalars(select(Case).order_by(Case.id)).first()
    db.session.execute(
        text("UPDATE cases SET warning = 'yellow', supervision = 'red' WHERE id = :id"),
        {"id": case.id},
    )
    db.session.commit()
    user = world["mediator@town"]
    items = all_pages(client, bearer(user), "", 50)
    assert len(items) == 12
    cases = {c.number: c for c in db.session.scalars(select(Case))}
    for item in items:
        expected = schemas.CaseSummary().dump(cases[item["number"]])
        assert item == expected
    assert any(item["warning"] == "yellow" for item in items)
