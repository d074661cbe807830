"""The dispatch list (`GET /api/v1/cases/<number>/dispatches`) outside Flask's cycle (issue 18).

A 综治中心 desk polls a case's dispatches; the answer is small and Flask's cycle cost more than
the rest of it. For a bearer token the authentication cache holds (app/core/fast.py), this
handler reads the case in the caller's scope with its dispatches, their units, senders,
handlers and files and the accounts version in one statement, then the routing suggestion
(queries.SUGGESTION), and assembles the answer with the view's own functions
(queries.assemble, the workflow's rules, the compiled dump of schemas.DispatchList). A case not
in scope (Flask's 404 and its audit), a role without `dispatch.read` (403), a changed accounts
version or anything unusual in the request goes to the Flask view instead.
tests/dispatch/test_fast.py holds the answers to the view's.
"""

from __future__ import annotations

import functools
import re
from types import SimpleNamespace

from flask import Flask
from sqlalchemy.dialects import postgresql as pg

from app.cases.queries import scope_sql
from app.core import fast
from app.core.dump import dump
from app.core.sqltext import driver_sql
from app.dispatch import queries
from app.dispatch.schemas import DispatchList
from app.policy import allows

PATH = r"/api/v1/cases/([A-Za-z0-9_-]{1,40})/dispatches"
ROUTE = "/api/v1/cases/<number>/dispatches"
DISPATCH_LIST = DispatchList()

# What the listing reads of the case (the workflow's `dispatch` rule and can_dispatch included).
CASE_COLUMNS = [
    "id",
    "number",
    "version",
    "state",
    "level",
    "kind",
    "reporter_id",
    "resolve_due",
    "category",
    "town_id",
    "county_id",
]
# What it shows of each dispatch, and what dispatch_permits reads (department_id).
DISPATCH_COLUMNS = [
    "id",
    "department_id",
    "role",
    "state",
    "round",
    "instructions",
    "centre_level",
    "dispatched_by_id",
    "dispatched_at",
    "sign_due",
    "return_due",
    "report_due",
    "next_due",
    "warning",
    "signed_at",
    "signed_on_time",
    "returned_at",
    "return_reason",
    "reported_at",
    "reported_on_time",
    "report_note",
    "reviewed_at",
    "review_note",
    "redo_count",
    "handler_id",
    "version",
]


# SUGGESTION's rows by (region, category), units' (code, name) by id: kept per process at the
# routing version (migration 0031: every write to departments or routing_rules bumps it).
# People's names by id: at the accounts version (every write to users bumps it).
SUGGESTIONS, UNITS, PEOPLE = "dispatch_suggestions", "dispatch_units", "dispatch_people"
UNITS_SQL = "SELECT id, code, name FROM departments WHERE id = ANY(%(keys)s)"
PEOPLE_SQL = "SELECT id, display_name FROM users WHERE id = ANY(%(keys)s)"


@functools.cache
def suggestion_sql() -> tuple[str, dict]:
    """queries.SUGGESTION as psycopg2 takes it, and its own literal parameters."""
    compiled = queries.SUGGESTION.compile(dialect=pg.psycopg2.dialect())
    return compiled.string, dict(compiled.params)


# The case and its dispatches with their files, and the two versions; units, people and the
# suggestion come from what this process keeps (joined or as subqueries, planning them cost
# more than the rest of the statement: 0.86 against 0.68 ms, the reference's 0.61).
LISTING = f"""
SELECT {fast.version_sql("accounts")}, {fast.version_sql("routing")},
       {", ".join("c." + name for name in CASE_COLUMNS)},
       {", ".join("d." + name for name in DISPATCH_COLUMNS)},
       (SELECT json_agg(json_build_array(a.id, a.content_type, a.size, a.original_name)
                        ORDER BY a.id)
          FROM attachments a WHERE a.owner_type = 'dispatch' AND a.owner_id = d.id)
  FROM cases c
  LEFT JOIN dispatches d ON d.case_id = c.id
 WHERE c.number = :number AND {{scope}}
 ORDER BY d.id
"""
CASE_AT = 2
DISPATCH_AT = CASE_AT + len(CASE_COLUMNS)
FILES_AT = DISPATCH_AT + len(DISPATCH_COLUMNS)


def person(people: dict, user_id: int | None) -> SimpleNamespace | None:
    """A sender or handler by id (None: none), with the name kept or read."""
    return None if user_id is None else SimpleNamespace(id=user_id, display_name=people[user_id][0])


def read(cursor, sql: str, params: dict, app: Flask):
    """(accounts version, case, dispatches with units and people, their files by dispatch id,
    suggestion row), or None for no case in scope."""
    fast.execute(app, cursor, sql, params)
    rows = cursor.fetchall()
    if not rows:
        return None
    first = rows[0]
    accounts, routing = first[0], first[1]
    case = SimpleNamespace(**dict(zip(CASE_COLUMNS, first[CASE_AT:DISPATCH_AT], strict=True)))
    items, files = [], {}
    for row in rows:
        if row[DISPATCH_AT] is None:
            continue  # the case has none (the LEFT JOIN's one row)
        d = SimpleNamespace(**dict(zip(DISPATCH_COLUMNS, row[DISPATCH_AT:FILES_AT], strict=True)))
        files[d.id] = [
            SimpleNamespace(id=i, content_type=t, size=s, original_name=n)
            for i, t, s, n in row[FILES_AT] or ()
        ]
        items.append(d)
    units = fast.lookup(
        cursor, fast.kept(app, UNITS), routing, {d.department_id for d in items}, UNITS_SQL
    )
    wanted = {d.dispatched_by_id for d in items} | {d.handler_id for d in items}
    wanted.discard(None)
    people = fast.lookup(cursor, fast.kept(app, PEOPLE), accounts, wanted, PEOPLE_SQL)
    for d in items:
        code, name = units[d.department_id]
        d.department = SimpleNamespace(id=d.department_id, code=code, name=name)
        d.dispatched_by = person(people, d.dispatched_by_id)
        d.handler = person(people, d.handler_id)
    suggestion = None
    centre = queries.suggestion_params(case)
    if centre is not None:
        store, key = fast.kept(app, SUGGESTIONS), (centre["region_id"], centre["category"])
        suggestion = store.get(routing, key)
        if suggestion is fast.MISSING:
            statement, literals = suggestion_sql()
            cursor.execute(statement, literals | centre)
            suggestion = cursor.fetchone()
            store.put(routing, key, suggestion)
    return accounts, case, items, files, suggestion


def listing(app: Flask, environ: dict, match: re.Match) -> fast.Answer | None:
    """The view's answer for a cached bearer token's case in scope, or None (Flask answers)."""
    if not fast.plain(environ):
        return None
    held = fast.bearer(app, environ)
    if held is None:
        return None
    version, principal = held
    user = fast.user_of(principal)
    if not allows(user.role, "dispatch.read"):
        return None
    condition, params = scope_sql(principal.scope, "c")
    sql = driver_sql(LISTING.format(scope=condition))
    found = fast.fetch(app, lambda cursor: read(cursor, sql, params | {"number": match[1]}, app))
    if found is None or found[0] != version:
        return None
    _, case, items, files, suggestion = found
    body = dump(
        DISPATCH_LIST,
        queries.assemble(case, user, items, files, queries.suggested(suggestion)),
    )
    data = fast.json_body(app, body)
    headers = [
        ("Content-Type", fast.JSON),
        ("Content-Length", str(len(data))),
        ("ETag", f'"{body["case_version"]}"'),
    ]
    return "200 OK", headers, data
