"""The public progress lookup (`POST /api/v1/public/progress`) outside Flask's cycle (issue 18).

Residents check their matter with the number and code on the receipt, and every lookup is rate-
limited and audited. Through Flask that was the cycle, five Redis calls, five statements and a
commit of its own for the audit entry: ten times a plain read. For a plain request — JSON with
exactly the number and the code, no cookie (so the default language), no token, nothing else —
this handler counts it on Flask-Limiter's own counters in one Redis round trip (throttle.begin:
sent before the statement, read after it), then reads the receipt, its case, the handling unit,
the rating and the timeline in one statement and writes the answer with the view's own
`queries.case_answer` and the schema's compiled dump. The audit entry is queued for the
process's next batch (app/audit/deferred.py, AUDIT_PUBLIC_DEFER_MS), or with the setting 0
appended by that same statement, which commits by itself (autocommit; only when the receipt and
code matched).

What it does not answer goes to the Flask view, unchanged and counted there: a wrong code or
an unknown number (the 404, its counting on the number and its audit), a self-report without a
case yet, a limit reached (429), a body the schema would refuse. The count is given back first
(throttle.give_back), so Flask counts each request once. The code is compared in SQL with `=`
on its keyed hash: timing there says nothing, since nobody can choose an input's HMAC without
the key. tests/resident/test_fast.py holds the answers to the view's.
"""

from __future__ import annotations

import io

import orjson
from flask import Flask

from app.audit import deferred
from app.audit import services as audit
from app.core import fast
from app.core.dump import dump
from app.core.sqltext import driver_sql
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.resident import queries
from app.resident import receipts
from app.resident import throttle
from app.resident.schemas import ProgressOut

PATH = r"/api/v1/public/progress"
ROUTE = "/api/v1/public/progress"
PROGRESS_OUT = ProgressOut()
# Far above a lookup's body; anything larger is Flask's (and its 422 or 413).
BODY_LIMIT = 512
FIELDS = {"number": 24, "code": 20}  # schemas.LookupIn's lengths

# The receipt in force whose code matched, its case, the lead unit of an open dispatch, the name
# of the region at the case's level, the current resolution's rating and the timeline. With the
# audit entry appended (audit_append, migration 0028) only when the receipt matched (the CTE
# runs when the outer row reads it); or, when public reads are audited in batches
# (app/audit/deferred.py), without it.
PROGRESS_SQL = """
WITH r AS (
  SELECT case_id FROM receipts
   WHERE number = %(number)s AND superseded_at IS NULL
     AND code_hash IN (%(hash)s, %(series_hash)s)
     AND case_id IS NOT NULL
), logged AS (
  SELECT {logged} AS n FROM r
)
SELECT (SELECT n FROM logged),
       c.number, c.state, c.level, c.origin_level, c.accept_due, c.resolve_due,
       c.reported_at, c.resolved_at, c.public_outcome,
       (SELECT p.name FROM dispatches d JOIN departments p ON p.id = d.department_id
         WHERE d.case_id = c.id AND d.role = 'lead' AND d.state = ANY(%(open)s) LIMIT 1),
       (SELECT g.name FROM regions g
         WHERE g.id = CASE c.level WHEN 'village' THEN c.village_id
                                   WHEN 'town' THEN c.town_id ELSE c.county_id END),
       (SELECT t.rating FROM resident_ratings t
         WHERE t.case_id = c.id AND t.resolved_at = c.resolved_at),
       e.times, e.states, e.levels
  FROM r JOIN cases c ON c.id = r.case_id
  CROSS JOIN LATERAL (
        SELECT array_agg(e.at ORDER BY e.id) AS times,
               array_agg(e.to_state ORDER BY e.id) AS states,
               array_agg(e.to_level ORDER BY e.id) AS levels
          FROM case_events e WHERE e.case_id = c.id AND e.to_state IS NOT NULL) e
"""
AUDITED = PROGRESS_SQL.format(logged=driver_sql(audit.APPEND_CALL))
READ = PROGRESS_SQL.format(logged="1")
CASE_COLUMNS = (
    "number",
    "state",
    "level",
    "origin_level",
    "accept_due",
    "resolve_due",
    "reported_at",
    "resolved_at",
    "public_outcome",
)


class Row:
    """The case's columns the answer reads, by name (what case_answer takes of a case)."""

    __slots__ = CASE_COLUMNS

    def __init__(self, values) -> None:
        for name, value in zip(CASE_COLUMNS, values, strict=True):
            setattr(self, name, value)


def same(text: str) -> str:
    """The words as the default language (Chinese, the messages' own text) says them."""
    return text


def body_of(environ: dict) -> bytes | None:
    """The request's body when it is a small JSON one, read and put back for Flask; else None."""
    if (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower() != "application/json":
        return None
    length = environ.get("CONTENT_LENGTH") or ""
    if not length.isdigit() or not 0 < int(length) <= BODY_LIMIT:
        return None
    data = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(data)  # Flask reads it again if the view answers
    return data


def lookup_of(data: bytes) -> tuple[str, str] | None:
    """(number, code) of a body LookupIn takes as it is, else None (the view answers)."""
    try:
        given = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(given, dict) or given.keys() != FIELDS.keys():
        return None
    for name, longest in FIELDS.items():
        value = given[name]
        if not isinstance(value, str) or not 0 < len(value) <= longest:
            return None
    return given["number"], given["code"]


def read(cursor, app: Flask, sql: str, params: dict):
    fast.execute(app, cursor, sql, params)
    return cursor.fetchone() or ()


def progress(app: Flask, environ: dict, match) -> fast.Answer | None:
    """The view's answer for a right number and code of a case, or None (Flask answers)."""
    if environ.get("HTTP_COOKIE") or environ.get("HTTP_AUTHORIZATION"):
        return None
    if environ.get("QUERY_STRING") or environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    data = body_of(environ)
    given = lookup_of(data) if data is not None else None
    if given is None:
        return None
    number = receipts.normalise_number(given[0])
    pending = throttle.begin(app, environ, number)
    if pending is None:
        return None
    entry = audit.make_entry(
        "resident.progress",
        object_type="receipt",
        object_id=number,
        client_addr=environ.get("REMOTE_ADDR"),
    )
    by_number, by_series = receipts.code_hashes(number, given[1], app.config)
    params = {
        "number": number,
        "hash": by_number,
        "series_hash": by_series,
        "open": list(OPEN_DISPATCH_STATES),
    }
    if app.config["AUDIT_PUBLIC_DEFER_MS"] > 0:
        # The statement only reads: it runs while Redis counts, and the entry is queued once
        # both said yes (a lookup the limiter refuses is never audited as answered).
        row = fast.fetch(app, lambda cursor: read(cursor, app, READ, params))
        counted = pending.result()
        if counted is None:
            return None
        if not row or row[0] != 1 or not deferred.record(app, entry):
            throttle.give_back(counted)
            return None
    else:
        counted = pending.result()
        if counted is None:
            return None
        params |= {"entries": audit.append_argument([entry]), "k": audit.AUDIT_LOCK_KEY}
        row = fast.fetch(app, lambda cursor: read(cursor, app, AUDITED, params))
        if not row or row[0] != 1:
            throttle.give_back(counted)
            return None
    case = Row(row[1:10])
    unit, region, rating, times, states, levels = row[10:16]
    answer = queries.case_answer(
        number,
        case,
        queries.unit_words(unit, region, case.level, same),
        rating,
        queries.steps(
            zip(times or (), states or (), levels or (), strict=True),
            case.origin_level,
            same,
        ),
        same,
    )
    body = fast.json_body(app, dump(PROGRESS_OUT, answer))
    headers = [("Content-Type", fast.JSON), ("Content-Length", str(len(body)))]
    return "200 OK", headers, body, counted.headers
