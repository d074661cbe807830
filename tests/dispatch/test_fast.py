"""The dispatch list outside Flask's cycle (app/dispatch/fast.py): Flask's very answer."""

from __future__ import annotations

import io

from flask import request_started
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from app.accounts import services as accounts
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.cases.models import Case
from app.core.fast import FastPaths
from app.dispatch import fast
from app.dispatch.models import Department
from app.dispatch.models import RoutingRule
from app.extensions import db
from app.ops.metrics import REQUESTS
from tests.dispatch.test_dispatch import PNG
from tests.dispatch.test_dispatch import send
from tests.dispatch.test_dispatch import step
from tests.dispatch.test_dispatch import town_case
from tests.factories import bearer
from tests.factories import make_department
from tests.geo.factories import TOWN
from tests.tiles.test_fast import PlainClient
from tests.tiles.test_fast import answer

RID = {"X-Request-ID": "req-dispatch"}


def flask_app(app):
    """The app's WSGI callable without its fast paths (the tile path wraps this module's)."""
    inner = app.wsgi_app
    while not isinstance(inner, FastPaths):
        inner = inner.wsgi_app
    return inner.wsgi_app


class Seen:
    """Counts the requests Flask's own cycle ran."""

    def __init__(self, app):
        self.app, self.count = app, 0

    def __call__(self, sender, **extra):
        self.count += 1

    def __enter__(self):
        request_started.connect(self, self.app)
        return self

    def __exit__(self, *exc):
        request_started.disconnect(self, self.app)


def compare(app, client, headers: dict, number: str, *, fast_expected: bool = True):
    """The answer with the fast path equals Flask's; whether Flask ran is as expected."""
    path = f"/api/v1/cases/{number}/dispatches"
    client.get(path, headers=headers)  # the first request fills the authentication cache
    with Seen(app) as seen:
        got = client.get(path, headers={**headers, **RID})
    assert seen.count == (0 if fast_expected else 1), path
    plain = PlainClient(flask_app(app), app.response_class)
    expected = plain.get(path, headers={**headers, **RID})
    assert answer(got) == answer(expected)
    return got


def test_the_fast_list_answers_what_the_view_answers(app, client, world):
    """Every role that may read it, before and after dispatching, signing and a report with a
    file; the metrics count it under the view's route."""
    unit_id = world.department_ids["town-labour"]
    police = make_department("town-police", TOWN, "police", ("治安",), "甲镇派出所")
    number = town_case(client, world)
    case = db.session.scalar(select(Case).where(Case.number == number))
    db.session.add(RoutingRule(region_id=case.town_id, category="劳资", department_id=unit_id))
    db.session.commit()
    readers = {
        name: bearer(world[name])
        for name in (
            "official@town",
            "mediator@town",
            "official@county",
            "mediator@village",
            "grid_worker@village",  # bound to cells: the scope's cell condition
        )
    }
    staff = bearer(world["department_staff@town"])
    for headers in readers.values():
        before = compare(app, client, headers, number).get_json()
        assert before["items"] == [] and before["suggestion"]["source"] == "rule"
    assert compare(app, client, readers["official@town"], number).get_json()["can_dispatch"]

    official = readers["official@town"]
    sent = send(
        client,
        official,
        number,
        {"lead_department_id": unit_id, "informed_department_ids": [police.id]},
    )
    assert sent.status_code == 201, sent.get_json()
    lead = sent.get_json()["items"][0]
    signed = step(client, staff, number, lead, "sign").get_json()
    reported = step(
        client,
        staff,
        number,
        signed,
        "report",
        data={"note": "已督促", "photos": (io.BytesIO(PNG), "receipt.png")},
    )
    assert reported.status_code == 200, reported.get_json()

    counted = REQUESTS.labels("GET", fast.ROUTE, "200")
    before = counted._value.get()
    for headers in [*readers.values(), staff]:
        got = compare(app, client, headers, number).get_json()
        assert [d["role"] for d in got["items"]] == ["lead", "informed"]
        assert got["items"][0]["attachments"][0]["original_name"] == "receipt.png"
    # Each compare: the cache-filling request (fast too, its token known from the requests
    # before) and the compared one; Flask's own answer is not counted by this app's path.
    assert counted._value.get() >= before + 5
    centre = compare(app, client, official, number).get_json()
    assert centre["items"][0]["allowed_actions"] == ["accept", "redo"]
    assert centre["items"][0]["handler"]["id"] == world.user_ids["department_staff@town"]
    assert centre["can_dispatch"] is False  # the lead is open
    assert centre["suggestion"]["id"] == unit_id

    # The suggestion kept for the town and category follows a change of the rules at once.
    db.session.execute(delete(RoutingRule))
    db.session.commit()
    assert compare(app, client, official, number).get_json()["suggestion"] is None
    db.session.execute(
        update(Department).where(Department.id == police.id).values(categories=["劳资"])
    )
    db.session.commit()
    changed = compare(app, client, official, number).get_json()
    assert changed["suggestion"] == {
        "id": police.id,
        "code": "town-police",
        "name": "甲镇派出所",
        "source": "category",
    }

    # Units' and people's names kept by the process follow a rename at once.
    db.session.execute(update(Department).where(Department.id == unit_id).values(name="人社所"))
    db.session.execute(
        update(User).where(User.id == world.user_ids["official@town"]).values(display_name="王")
    )
    db.session.commit()
    renamed = compare(app, client, official, number).get_json()["items"][0]
    assert renamed["department"]["name"] == "人社所"
    assert renamed["dispatched_by"] == {"id": world.user_ids["official@town"], "name": "王"}


def test_what_the_fast_list_leaves_to_flask(app, client, world):
    """Out of scope (404 and its audit), a role without the permission, a query string, a
    cookie, a revoked token and a deactivated user: each answered by Flask, at once."""
    number = town_case(client, world)
    path = f"/api/v1/cases/{number}/dispatches"
    outsider = bearer(world["outsider"])
    compare(app, client, outsider, number, fast_expected=False)
    assert client.get(path, headers=outsider).status_code == 404

    official = bearer(world["official@town"])
    compare(app, client, official, number)
    for extra in ({"query_string": "x=1"}, {"headers": {**official, "If-None-Match": '"1"'}}):
        with Seen(app) as seen:
            got = client.get(path, **{"headers": official, **extra})
        assert seen.count == 1 and got.status_code == 200

    # Revoked: the next request is a 401, not the cached principal's answer.
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == accounts.hash_token(official["Authorization"].split()[1])
        )
    )
    accounts.revoke_token(token, db.session.get(User, world.user_ids["admin@town"]))
    db.session.commit()
    assert client.get(path, headers=official).status_code == 401

    mediator = bearer(world["mediator@town"])
    compare(app, client, mediator, number)
    user = db.session.get(User, world.user_ids["mediator@town"])
    user.active = False
    db.session.commit()
    assert client.get(path, headers=mediator).status_code == 401
