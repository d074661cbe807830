"""The case list (`GET /api/v1/cases`) outside Flask's cycle (issue 18).

Officials and mediators page through the list all day; the page's statement is a seek on
`ix_cases_due_key` and Flask's cycle cost more than the rest of the answer (bench/NOTES.md, W7).
For a bearer token the authentication cache holds (app/core/fast.py) and a query of the
common filters only, this handler validates the query with the view's own schema
(schemas.CaseQuery), builds the view's own statement (queries.summary_statement: the
filters, the scope, the keyset) once per filter shape with bound parameters, runs it with the
accounts version beside it in one round trip, and writes the rows with the view's own
`queries.summary_items`. Anything else — another filter (region, q, mine, dates, overdue...),
the X-Party-Id-Number header, a repeated parameter, a value the schema refuses (Flask's 400),
a role without `cases.read` (403), a changed accounts version — goes to the Flask view.
tests/cases/test_fast_list.py holds the answers to the view's.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from urllib.parse import parse_qsl

from flask import Flask
from marshmallow import ValidationError
from sqlalchemy import Date
from sqlalchemy import Integer
from sqlalchemy import bindparam
from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql as pg

from app.cases import queries
from app.cases.schemas import CaseQuery
from app.core import fast
from app.core import paging
from app.core.errors import BadRequest
from app.policy import allows

PATH = r"/api/v1/cases"
ROUTE = "/api/v1/cases"

# The filters answered here (the rest are the view's): equality ones, then the others.
EQUAL = ("kind", "category", "level", "warning")
ANSWERED = frozenset((*EQUAL, "state", "archived", "limit", "after"))
CASE_QUERY = CaseQuery()
VERSION = "accounts_version"
# Statements compiled per (scope, filter shape); the scopes in use are the callers'.
SHAPES_LIMIT = 512


class Shapes:
    """Compiled page statements by (scope, shape), the least recently used dropped first."""

    def __init__(self) -> None:
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, build):
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                return found
        found = build()
        with self.lock:
            self.items[key] = found
            if len(self.items) > SHAPES_LIMIT:
                self.items.popitem(last=False)
        return found


SHAPES = Shapes()


def query_of(environ: dict) -> dict | None:
    """The query string as the schema's input, or None for anything this path leaves to the
    view: another parameter, one given twice (but `state`), the party header."""
    if environ.get("HTTP_X_PARTY_ID_NUMBER") is not None:
        return None
    given: dict = {}
    for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        if name not in ANSWERED:
            return None
        if name == "state":
            given.setdefault("state", []).append(value)
        elif name in given:
            return None
        else:
            given[name] = value
    return given


def shape_of(args: dict, after: tuple | None) -> tuple:
    """What the statement's text depends on, besides the scope."""
    return (
        tuple(name for name in EQUAL if args.get(name)),
        len(args.get("state") or ()),
        bool(args.get("archived")),
        args["limit"],
        None if after is None else after[0] is None,
    )


def slot(name: str, type_=None):
    """A parameter a filter's value fills at each request (`parameters`)."""
    return bindparam(name, None, type_=type_, required=False)


def compile_shape(user, shape: tuple) -> tuple[str, dict, tuple]:
    """(SQL for psycopg2, its literal parameters, the columns' names) of the view's statement
    for this shape, the filters' values as parameters `f_<name>` (`f_state_<i>`)."""
    equal, states, archived, limit, after = shape
    args: dict = {name: slot(f"f_{name}") for name in equal}
    if states:
        args["state"] = [slot(f"f_state_{i}") for i in range(states)]
    args["archived"], args["limit"] = archived, limit
    if after is not None:
        due = None if after else slot("f_after_due", Date())
        after = (due, slot("f_after_id", Integer()))
    stmt = queries.summary_statement(args, user, after)
    stmt = stmt.add_columns(literal_column(fast.version_sql("accounts")).label(VERSION))
    # The scope's lists (a grid worker's cells) rendered as parameters of their own.
    compiled = stmt.compile(
        dialect=pg.psycopg2.dialect(), compile_kwargs={"render_postcompile": True}
    )
    return compiled.string, dict(compiled.params), tuple(stmt.selected_columns.keys())


def parameters(args: dict, after: tuple | None) -> dict:
    """The filters' values for a compiled shape's parameters."""
    values = {f"f_{name}": args[name] for name in EQUAL if args.get(name)}
    for i, state in enumerate(args.get("state") or ()):
        values[f"f_state_{i}"] = state
    if after is not None:
        values["f_after_due"], values["f_after_id"] = after
    return values


def listing(app: Flask, environ: dict, match: re.Match) -> fast.Answer | None:
    """The view's answer for a cached bearer token's plain list query, or None (Flask)."""
    if not fast.plain(environ, query=True):
        return None
    given = query_of(environ)
    if given is None:
        return None
    held = fast.bearer(app, environ)
    if held is None:
        return None
    version, principal = held
    user = fast.user_of(principal)
    if not allows(user.role, "cases.read"):
        return None
    try:
        args = CASE_QUERY.load(given)
        after = paging.decode_cursor(args["after"]) if args.get("after") else None
    except (ValidationError, BadRequest):
        return None  # the view answers the 400
    shape = shape_of(args, after)
    sql, literals, names = SHAPES.get((principal.scope, shape), lambda: compile_shape(user, shape))

    def read(cursor):
        cursor.execute(sql, literals | parameters(args, after))
        return cursor.fetchall()

    rows = fast.fetch(app, read)
    if rows is None:
        return None
    if rows and rows[0][-1] != version:  # the version is the last column
        return None
    if not rows and not fast.fetch(app, lambda cursor: same_version(cursor, version)):
        return None
    items, next_cursor = queries.summary_items(
        rows, args["limit"], lambda row: dict(zip(names, row, strict=True))
    )
    data = fast.json_body(app, {"items": items, "next": next_cursor})
    return "200 OK", [("Content-Type", fast.JSON), ("Content-Length", str(len(data)))], data


def same_version(cursor, version: int) -> bool:
    """The accounts version is still `version` (an empty page carries no version column)."""
    cursor.execute(f"SELECT {fast.version_sql('accounts')}")
    return cursor.fetchone()[0] == version
