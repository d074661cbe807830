"""The fast paths' prepared statements (app/core/fast.py `execute`): once per connection, the
same rows as the plain statement, prepared again when the server lost it, off by configuration."""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2 import errors as pg_errors
from sqlalchemy import text

from app.core import fast
from app.extensions import db
from tests.dispatch.test_dispatch import town_case
from tests.dispatch.test_fast import compare
from tests.factories import bearer

SQL = "SELECT %(a)s::int + %(b)s::int, %(a)s::int * 2, '50%%' || %(c)s::text"
PARAMS = {"a": 20, "b": 1, "c": " done"}


def test_the_prepared_form_numbers_each_parameter_once_in_order():
    name, prepare, run = fast.prepared_form(SQL)
    assert name.startswith("gg_") and fast.prepared_form(SQL)[0] == name
    assert prepare == (
        f"PREPARE {name} AS SELECT $1::int + $2::int, $1::int * 2, '50%' || $3::text"
    )
    assert run == f"EXECUTE {name}(%(a)s, %(b)s, %(c)s)"
    assert fast.prepared_form("SELECT 1")[2].endswith(fast.prepared_form("SELECT 1")[0])


def prepared_on(cursor) -> list[tuple]:
    cursor.execute("SELECT name, prepare_time FROM pg_prepared_statements ORDER BY name")
    return cursor.fetchall()


@pytest.fixture
def raw(app):
    """A connection of its own (never one a test transaction or the pool holds: this test
    deallocates its statements), in autocommit as the fast paths use it."""
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dbapi = psycopg2.connect(url)
    dbapi.autocommit = True
    try:
        yield dbapi
    finally:
        dbapi.close()


def test_prepared_once_answers_as_the_plain_statement_and_again_when_lost(app, raw):
    name = fast.prepared_form(SQL)[0]
    with raw.cursor() as cursor:
        cursor.execute(SQL, PARAMS)
        plain = cursor.fetchall()
        fast.execute(app, cursor, SQL, PARAMS)
        assert cursor.fetchall() == plain == [(21, 40, "50% done")]
        first = prepared_on(cursor)
        assert [row[0] for row in first] == [name]
        fast.execute(app, cursor, SQL, {"a": 1, "b": 2, "c": "!"})
        assert cursor.fetchall() == [(3, 2, "50%!")]
        assert prepared_on(cursor) == first  # not prepared a second time

        cursor.execute("DEALLOCATE ALL")  # the server forgot it: prepared again, answered
        fast.execute(app, cursor, SQL, PARAMS)
        assert cursor.fetchall() == plain
        assert [row[0] for row in prepared_on(cursor)] == [name]

        # In a transaction a lost statement fails the call (the transaction is aborted) and
        # the next call prepares it again.
        cursor.execute("DEALLOCATE ALL")
        raw.autocommit = False
        with pytest.raises(pg_errors.InvalidSqlStatementName):
            fast.execute(app, cursor, SQL, PARAMS)
        raw.rollback()
        fast.execute(app, cursor, SQL, PARAMS)
        assert cursor.fetchall() == plain
        raw.rollback()
        raw.autocommit = True


def test_off_behind_a_transaction_pooler(app, raw, monkeypatch):
    monkeypatch.setitem(app.config, "FAST_PATH_PREPARED", False)
    with raw.cursor() as cursor:
        fast.execute(app, cursor, SQL, PARAMS)
        assert cursor.fetchall() == [(21, 40, "50% done")]
        assert prepared_on(cursor) == []


def test_the_dispatch_list_runs_its_statement_prepared(app, client, world):
    """The fast dispatch list answers as the view does with its statement prepared on the
    connection it read through."""
    number = town_case(client, world)
    compare(app, client, bearer(world["official@town"]), number)
    statements = db.session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any("LEFT JOIN dispatches d ON d.case_id = c.id" in s for s in statements), statements
