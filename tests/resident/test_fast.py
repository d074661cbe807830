"""The public progress lookup outside Flask's cycle (app/resident/fast.py): Flask's very answer,
counted and audited as Flask counts and audits it."""

from __future__ import annotations

import pytest
from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func
from sqlalchemy import select

from app.audit import deferred
from app.audit import services as audit
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.core import fast as core_fast
from app.extensions import db
from app.extensions import limiter
from app.ops.metrics import REQUESTS
from app.resident import fast
from app.resident import receipts
from app.resident import throttle
from app.resident.models import Receipt
from tests.accounts.test_throttle import redis_url  # noqa: F401 - the private Redis fixture
from tests.cases.factories import POINT
from tests.cases.factories import act
from tests.dispatch.test_dispatch import send
from tests.dispatch.test_dispatch import town_case
from tests.dispatch.test_fast import Seen
from tests.dispatch.test_fast import flask_app
from tests.factories import bearer
from tests.resident.factories import make_self_report
from tests.resident.test_progress import PROGRESS
from tests.resident.test_progress import registered
from tests.resident.test_progress import resolve
from tests.tiles.test_fast import PlainClient
from tests.tiles.test_fast import answer

RID = {"X-Request-ID": "req-progress"}


@pytest.fixture
def world(module_world):
    return module_world


def lookups(number: str, outcome: str = "success") -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == "resident.progress",
            AuditEntry.object_id == number,
            AuditEntry.outcome == outcome,
        )
    )


def split(response) -> tuple:
    """(status, headers without the limiter's volatile ones, bytes), and those ones."""
    status, headers, data = answer(response)
    volatile = {"X-RateLimit-Remaining", "Retry-After"}
    kept = [(k, v) for k, v in headers if k not in volatile]
    return (status, kept, data), {k: int(v) for k, v in headers if k in volatile}


def compare(app, client, number: str, code: str, step: int = 1) -> dict:
    """A lookup with the fast path equals Flask's answer to the next one (whose limiter counts
    `step` more: 0 when the headers describe the number's limit, which a success does not
    count); the fast one ran no Flask request and wrote its audit entry."""
    body = {"number": number, "code": code}
    before = lookups(number)
    with Seen(app) as seen:
        got = client.post(PROGRESS, json=body, headers=RID)
    assert seen.count == 0, got.get_json()
    assert lookups(number) == before + 1
    plain = PlainClient(flask_app(app), app.response_class)
    expected = plain.post(PROGRESS, json=body, headers=RID)
    assert lookups(number) == before + 2
    (mine, my_counts), (theirs, their_counts) = split(got), split(expected)
    assert mine == theirs
    assert my_counts["X-RateLimit-Remaining"] == their_counts["X-RateLimit-Remaining"] + step
    assert abs(my_counts["Retry-After"] - their_counts["Retry-After"]) <= 1
    return got.get_json()


def test_the_fast_lookup_answers_what_the_view_answers(app, client, world):
    """Reported, accepted with a unit leading a dispatch, resolved with its public outcome and
    rated: each stage's answer is the view's, audited once per lookup, the chain intact."""
    number, code, _ = registered(client, world)
    first = compare(app, client, number, code)
    assert first["stage"] == "registered" and first["accept_due"] and first["can_rate"] is False
    assert first["unit"].endswith("（村级）")

    assert act(client, world["mediator@village"], number, "accept").status_code == 200
    assert compare(app, client, number, code)["stage"] == "accepted"
    up = act(client, world["mediator@village"], number, "escalate", {"reason": "村级无法化解"})
    assert up.status_code == 200
    referred = compare(app, client, number, code)
    assert referred["stage"] == "referred_up" and referred["unit"].endswith("（镇级）")
    assert act(client, world["mediator@town"], number, "accept").status_code == 200
    resolve(client, world, number, "mediator@town", public_outcome="双方已达成协议")
    resolved = compare(app, client, number, code)
    assert resolved["stage"] == "resolved" and resolved["can_rate"] is True
    assert resolved["public_outcome"] == "双方已达成协议"
    assert [step["stage"] for step in resolved["timeline"]][-1] == "resolved"
    rated = client.post(
        "/api/v1/public/rating", json={"number": number, "code": code, "rating": "satisfied"}
    )
    assert rated.status_code == 201, rated.get_json()
    after = compare(app, client, number, code)
    assert after["rating"] == "满意" and after["can_rate"] is False

    counted = REQUESTS.labels("POST", fast.ROUTE, "200")
    seen = counted._value.get()
    compare(app, client, number, code.lower())  # what residents type: case does not matter
    assert counted._value.get() == seen + 2  # the fast one and Flask's, under the view's route
    assert audit.verify().ok


def test_the_unit_leading_a_dispatch_is_the_one_shown(app, client, world):
    number = town_case(client, world)
    case_id = db.session.scalar(select(Case.id).where(Case.number == number))
    case_code = receipts.issue(number=number, case_id=case_id)
    db.session.commit()
    official = bearer(world["official@town"])
    unit_id = world.department_ids["town-labour"]
    sent = send(client, official, number, {"lead_department_id": unit_id})
    assert sent.status_code == 201, sent.get_json()
    shown = compare(app, client, number, case_code)
    assert shown["unit"] == sent.get_json()["items"][0]["department"]["name"]


def test_what_the_fast_lookup_leaves_to_flask_is_counted_once(app, client, world):
    """A wrong code (404, counted on the number and on the address once), a self-report with no
    case yet, a cookie, an extra field, a form body: Flask's answers, the limiter's counts as
    Flask's alone would be."""
    number, code, _ = registered(client, world)
    right = client.post(PROGRESS, json={"number": number, "code": code})
    left = int(right.headers["X-RateLimit-Remaining"])

    with Seen(app) as seen:
        wrong = client.post(PROGRESS, json={"number": number, "code": "WRONG23456"})
    assert seen.count == 1 and wrong.status_code == 404
    assert int(wrong.headers["X-RateLimit-Remaining"]) == left - 1
    assert lookups(number, "denied") == 1

    report_number, _photo = make_self_report(POINT)
    db.session.commit()
    receipt = db.session.scalar(select(Receipt).where(Receipt.number == report_number))
    assert receipt.case_id is None
    with Seen(app) as seen:
        pending = client.post(PROGRESS, json={"number": report_number, "code": "WRONG23456"})
    assert seen.count == 1 and pending.status_code == 404
    assert int(pending.headers["X-RateLimit-Remaining"]) == left - 2

    for kwargs in (
        {"json": {"number": number, "code": code, "extra": 1}},
        {"data": {"number": number, "code": code}},
        {"json": {"number": number, "code": code}, "headers": {"Authorization": "Bearer x"}},
        {"json": {"number": number, "code": code}, "query_string": "x=1"},
    ):
        with Seen(app) as seen:
            got = client.post(PROGRESS, **kwargs)
        assert seen.count == 1, kwargs
        assert got.status_code in (200, 401, 415, 422), (kwargs, got.get_json())
    # A language chosen with the header's switch (its cookie): Flask's, in that language.
    client.set_cookie("gridgov_lang", "en")
    with Seen(app) as seen:
        english = client.post(PROGRESS, json={"number": number, "code": code})
    assert seen.count == 1 and english.get_json()["stage_name"] == "Registered"
    client.delete_cookie("gridgov_lang")


@pytest.mark.parametrize(
    ("address", "number", "step"),
    [
        ("50 per minute", "40 per minute", 0),  # a tie: the number's limit comes first
        ("5 per day; 50 per minute", "9 per hour", 1),
        ("1000000 per minute", "1000000 per minute", 0),  # what the bench configures
    ],
)
def test_the_headers_describe_the_limit_flask_limiter_picks(
    app, client, world, monkeypatch, address, number, step
):
    monkeypatch.setitem(app.config, "RESIDENT_LIMIT_ADDRESS", address)
    monkeypatch.setitem(app.config, "RESIDENT_LIMIT_NUMBER", number)
    receipt, code, _ = registered(client, world)
    got = compare(app, client, receipt, code, step)
    assert got["stage"] == "registered"


def test_a_reached_limit_is_flasks_429_and_nothing_is_looked_up(app, client, world, monkeypatch):
    number, code, _ = registered(client, world)
    monkeypatch.setitem(app.config, "RESIDENT_LIMIT_ADDRESS", "3 per 10 minutes")
    statuses = [
        client.post(PROGRESS, json={"number": number, "code": code}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert lookups(number) == 3


def test_the_count_is_flask_limiters_own_on_redis(app, redis_url, monkeypatch):  # noqa: F811
    """On Redis, `throttle.count` moves the very counters Flask-Limiter reads (its keys, its
    windows) in one script, and `give_back` undoes it."""
    storage = RedisStorage(redis_url)
    strategy = FixedWindowRateLimiter(storage)
    address = parse_many(app.config["RESIDENT_LIMIT_ADDRESS"])
    number_limit = parse_many(app.config["RESIDENT_LIMIT_NUMBER"])[0]
    environ = {"REMOTE_ADDR": "10.1.2.3"}
    monkeypatch.setattr(limiter, "_limiter", strategy)
    try:
        counted = throttle.count(app, environ, "371699-2026-000042")
        assert counted is not None
        for item in address:
            stats = strategy.get_window_stats(item, "10.1.2.3", throttle.ADDRESS_SCOPE)
            assert stats.remaining == item.amount - 1
        headers = dict(counted.headers)
        assert headers["X-RateLimit-Limit"] == str(address[0].amount)
        assert headers["X-RateLimit-Remaining"] == str(address[0].amount - 1)
        throttle.give_back(counted)
        stats = strategy.get_window_stats(address[0], "10.1.2.3", throttle.ADDRESS_SCOPE)
        assert stats.remaining == address[0].amount
        # A number Flask-Limiter has locked (its failures counted) is not counted here.
        for _ in range(number_limit.amount):
            strategy.hit(number_limit, "receipt:371699-2026-000042", throttle.NUMBER_SCOPE)
        assert throttle.count(app, environ, "371699-2026-000042") is None
        stats = strategy.get_window_stats(address[0], "10.1.2.3", throttle.ADDRESS_SCOPE)
        assert stats.remaining == address[0].amount
    finally:
        storage.reset()


def test_public_lookups_audited_in_batches(app, client, world, monkeypatch):
    """With AUDIT_PUBLIC_DEFER_MS the answer is the same, the entry waits in the process's queue
    and the batch appends it to the chain, in order; a failed append keeps the entries; a full
    queue sends the lookup to Flask, which audits it at once."""
    number, code, _ = registered(client, world)
    monkeypatch.setitem(app.config, "AUDIT_PUBLIC_DEFER_MS", 600_000)  # no timed batch here
    queue = deferred.deferred(app)
    queue.flush()
    before = lookups(number)
    with Seen(app) as seen:
        first = client.post(PROGRESS, json={"number": number, "code": code}, headers=RID)
        second = client.post(PROGRESS, json={"number": number, "code": code}, headers=RID)
    assert seen.count == 0 and first.status_code == second.status_code == 200
    assert first.get_data() == second.get_data()
    assert lookups(number) == before and queue.pending() == 2

    monkeypatch.setattr(core_fast, "fetch", lambda *args, **kwargs: None)
    assert queue.flush() == 0 and queue.pending() == 2  # the database away: kept
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "AUDIT_PUBLIC_DEFER_MS", 600_000)
    assert deferred.flush(app) == 2 and queue.pending() == 0
    assert lookups(number) == before + 2
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "resident.progress", AuditEntry.object_id == number)
        .order_by(AuditEntry.id.desc())
        .limit(2)
    ).all()
    assert {(e.actor_id, e.outcome, e.object_type, e.client_addr) for e in entries} == {
        (None, "success", "receipt", "127.0.0.1")
    }
    assert audit.verify().ok

    monkeypatch.setattr(deferred, "QUEUE_LIMIT", 0)
    with Seen(app) as seen:
        full = client.post(PROGRESS, json={"number": number, "code": code})
    assert seen.count == 1 and full.status_code == 200
    assert lookups(number) == before + 3 and queue.pending() == 0


def test_a_counter_store_that_fails_leaves_the_lookup_to_flask(app, client, world, monkeypatch):
    number, code, _ = registered(client, world)

    def broken(*args, **kwargs):
        raise ConnectionError("redis is away")

    monkeypatch.setattr(throttle, "_begin", broken)
    with Seen(app) as seen:
        got = client.post(PROGRESS, json={"number": number, "code": code})
    assert seen.count == 1 and got.status_code == 200
    assert lookups(number) == 1


@pytest.mark.parametrize("defer_ms", [0, 600_000])
def test_on_redis_the_lookup_is_the_views_and_counted_once(
    app,
    client,
    world,
    redis_url,  # noqa: F811 - the fixture
    monkeypatch,
    defer_ms,
):
    """With Flask-Limiter on Redis (as installed), the fast lookup — its count sent before its
    statement runs and read after — answers as the view, counts once, and a wrong code costs one
    count; audited at once or in a batch."""
    storage = RedisStorage(redis_url)
    monkeypatch.setattr(limiter, "_limiter", FixedWindowRateLimiter(storage))
    monkeypatch.setitem(app.config, "AUDIT_PUBLIC_DEFER_MS", defer_ms)
    try:
        number, code, _ = registered(client, world)
        before = lookups(number)
        got = compare(app, client, number, code) if defer_ms == 0 else None
        if got is None:
            with Seen(app) as seen:
                got = client.post(PROGRESS, json={"number": number, "code": code}).get_json()
            assert seen.count == 0
            assert deferred.flush(app) == 1
        assert got["stage"] == "registered"
        assert lookups(number) == before + (2 if defer_ms == 0 else 1)
        left = int(
            client.post(PROGRESS, json={"number": number, "code": code}).headers[
                "X-RateLimit-Remaining"
            ]
        )
        wrong = client.post(PROGRESS, json={"number": number, "code": "WRONG23456"})
        assert wrong.status_code == 404
        assert int(wrong.headers["X-RateLimit-Remaining"]) == left - 1
        deferred.flush(app)
    finally:
        storage.reset()
