"""The case list outside Flask's cycle (app/cases/fast.py): Flask's very answer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy import text

from app.accounts import services as accounts
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.cases import fast
from app.cases.models import Case
from app.extensions import db
from app.ops.metrics import REQUESTS
from tests.cases.test_keyset import many_cases
from tests.dispatch.test_dispatch import send
from tests.dispatch.test_dispatch import town_case
from tests.dispatch.test_fast import RID
from tests.dispatch.test_fast import Seen
from tests.dispatch.test_fast import flask_app
from tests.factories import bearer
from tests.tiles.test_fast import PlainClient
from tests.tiles.test_fast import answer

# Queries the fast path answers: the common filters, pages and limits.
ANSWERED = (
    "",
    "limit=5",
    "kind=dispute",
    "kind=incident&limit=3",
    "state=reported",
    "state=reported&state=accepted&level=village",
    "level=town",
    "category=劳资纠纷",
    "warning=none&limit=200",
    "archived=true",
    "archived=false&kind=dispute",
)


def compare(app, client, headers: dict, url: str, *, fast_expected: bool = True):
    """The answer with the fast path equals Flask's; whether Flask ran is as expected."""
    client.get(url, headers=headers)  # the first request fills the authentication cache
    with Seen(app) as seen:
        got = client.get(url, headers={**headers, **RID})
    assert seen.count == (0 if fast_expected else 1), url
    plain = PlainClient(flask_app(app), app.response_class)
    expected = plain.get(url, headers={**headers, **RID})
    assert answer(got) == answer(expected), url
    return got


def walk(app, client, headers: dict, query: str) -> list[str]:
    """Every page of a query through the fast path, each compared with Flask's; the numbers."""
    numbers, after = [], None
    for _ in range(100):
        url = "/api/v1/cases?" + "&".join(
            part for part in (query, f"after={after}" if after else "") if part
        )
        body = compare(app, client, headers, url).get_json()
        numbers += [item["number"] for item in body["items"]]
        after = body["next"]
        if after is None:
            return numbers
    raise AssertionError("paging did not end")


def test_the_fast_list_answers_what_the_view_answers(app, client, world):
    """Every reading role, every answered filter, each page to the end (cursors after a
    deadline and after none), an empty page; counted under the view's route."""
    many_cases(world, 23)
    db.session.execute(
        text("UPDATE cases SET archived_at = now() WHERE id IN (SELECT min(id) FROM cases)")
    )
    number = town_case(client, world)
    sent = send(
        client,
        bearer(world["official@town"]),
        number,
        {"lead_department_id": world.department_ids["town-labour"]},
    )
    assert sent.status_code == 201, sent.get_json()
    db.session.commit()
    counted = REQUESTS.labels("GET", fast.ROUTE, "200")
    before = counted._value.get()
    seen = {}
    for name in (
        "official@county",
        "official@town",
        "mediator@town",
        "mediator@village",
        "grid_worker@village",  # bound to cells: the scope's cell condition
        "department_staff@town",  # the cases dispatched to the unit
        "outsider",  # another county: nothing
    ):
        headers = bearer(world[name])
        for query in ANSWERED:
            seen[name, query] = walk(app, client, headers, query)
    assert counted._value.get() > before + 2 * len(ANSWERED)
    total = db.session.scalar(select(db.func.count()).select_from(Case))
    everything = seen["official@county", ""]
    assert len(everything) == total - 1  # all but the archived one
    assert len(seen["official@county", "archived=true"]) == 1
    assert seen["official@county", "limit=5"] == everything
    assert seen["department_staff@town", ""] == [number]
    assert seen["outsider", ""] == []
    assert 0 < len(seen["mediator@village", ""]) < len(everything)
    due = db.session.scalars(select(Case.next_due).where(Case.next_due.isnot(None))).all()
    assert due and len(due) < total  # pages crossed cases with deadlines and without


def test_what_the_fast_list_leaves_to_flask(app, client, world):
    """Other filters, a repeated parameter, the party header, invalid values (Flask's 400),
    a cookie, a conditional request, a role without the permission, a revoked token and a
    deactivated user: each answered by Flask, at once."""
    many_cases(world, 5)
    official = bearer(world["official@town"])
    compare(app, client, official, "/api/v1/cases")
    today = dt.date(2026, 5, 1).isoformat()
    for url in (
        "/api/v1/cases?region=371699101200",
        "/api/v1/cases?q=纠纷",
        "/api/v1/cases?mine=reported",
        "/api/v1/cases?overdue=true",
        f"/api/v1/cases?reported_from={today}",
        "/api/v1/cases?kind=dispute&kind=incident",
        "/api/v1/cases?unknown=1",
    ):
        compare(app, client, official, url, fast_expected=False)
    for url, field in (
        ("/api/v1/cases?kind=other", "kind"),
        ("/api/v1/cases?limit=500", "limit"),
        ("/api/v1/cases?limit=x", "limit"),
        ("/api/v1/cases?after=%%%", "after"),
        ("/api/v1/cases?state=lost", "state"),
    ):
        got = compare(app, client, official, url, fast_expected=False)
        assert got.status_code == 400 and field in str(got.get_json()), url
    admin = compare(app, client, bearer(world["admin@town"]), "/api/v1/cases", fast_expected=False)
    assert admin.status_code == 403
    party = {**official, "X-Party-Id-Number": "110101199003071234"}
    with Seen(app) as flask_ran:
        assert client.get("/api/v1/cases", headers=party).get_json()["items"] == []
        assert client.get("/api/v1/cases", headers={**official, "If-None-Match": '"1"'})
    assert flask_ran.count == 2

    # Revoked: the next request is a 401, not the cached principal's answer.
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == accounts.hash_token(official["Authorization"].split()[1])
        )
    )
    accounts.revoke_token(token, db.session.get(User, world.user_ids["admin@town"]))
    db.session.commit()
    assert client.get("/api/v1/cases?kind=dispute", headers=official).status_code == 401

    mediator = bearer(world["mediator@town"])
    compare(app, client, mediator, "/api/v1/cases?kind=dispute")
    user = db.session.get(User, world.user_ids["mediator@town"])
    user.active = False
    db.session.commit()
    assert client.get("/api/v1/cases?kind=dispute", headers=mediator).status_code == 401


def test_a_connection_the_pool_cannot_make_leaves_the_request_to_flask(
    app, client, world, monkeypatch
):
    """The database restarting or out of reach when the fast path checks a connection out:
    Flask answers (here from the test's own transaction), never a bare 500 from the server.
    `make soak` met this one: a list request right after `pg_ctl restart -m immediate`."""
    from sqlalchemy import create_engine

    from app.core import fast as fast_paths

    many_cases(world, 3)
    official = bearer(world["official@town"])
    expected = client.get("/api/v1/cases", headers=official)  # fills the authentication cache
    assert expected.status_code == 200 and expected.get_json()["items"]
    unreachable = create_engine("postgresql+psycopg2://nobody@127.0.0.1:9/none")
    monkeypatch.delitem(app.extensions, fast_paths.CONNECTION_SOURCE)
    monkeypatch.setitem(app.extensions, "gridgov_fast_engine", unreachable)
    assert fast_paths.fetch(app, lambda cursor: cursor.execute("SELECT 1")) is None
    with Seen(app) as seen:
        got = client.get("/api/v1/cases", headers=official)
    assert seen.count == 1  # Flask ran it
    assert got.status_code == 200
    assert got.get_json()["items"] == expected.get_json()["items"]
    unreachable.dispose()
