"""Logs: plain text for development, one JSON object per line for production; request ids."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC
from datetime import datetime

from flask import Flask
from flask import Response
from flask import g
from flask import has_request_context
from flask import request

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is a short, harmless token: it goes into every log line.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Probes hit these every few seconds; their successes would drown the log at INFO.
QUIET_PATHS = ("/healthz", "/metrics")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

request_log = logging.getLogger("gridgov.request")

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a single line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # default=str: an odd extra (a date, a Decimal) must never cost us the log line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Stamp every record with the current request's id ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add request_id unless the caller gave one."""
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when the record is emitted (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        """The current standard error."""
        return sys.stderr


def configure_logging(level: str, fmt: str = "text") -> None:
    """Install GridGov's single stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "text":
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        raise RuntimeError(f"LOG_FORMAT must be text or json, not {fmt!r}")
    root.setLevel(level)


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return g.get("request_id") if has_request_context() else None


def incoming_request_id() -> str:
    """The client's (or proxy's) X-Request-ID when it is sane, else a new random id."""
    return request_id_from(request.headers.get(REQUEST_ID_HEADER, ""))


def request_id_from(given: str) -> str:
    """The id given when it is sane, else a new random id."""
    return given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def init_request_logging(app: Flask) -> None:
    """Give every request an id (echoed in X-Request-ID) and log one line per request."""

    def start_request() -> None:
        g.request_id = incoming_request_id()
        g.request_started = time.perf_counter()

    # First of all before_request hooks, so that a request stopped by another hook (a rate limit,
    # a CSRF check) is still logged with its id and timed from the start.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)

    @app.after_request
    def log_request(response: Response) -> Response:
        if "request_id" not in g:
            g.request_id = incoming_request_id()
        request_id = g.request_id
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        log_answer(request.method, request.path, response.status_code, request_id, duration_ms)
        return response


def log_answer(
    method: str, path: str, status: int, request_id: str, duration_ms: float | None
) -> None:
    """The one line logged per request (also by the cached-tile path, app/tiles/fast.py)."""
    quiet = status < 400 and path.startswith(QUIET_PATHS)
    # The path, never the full URL: query strings may carry personal data.
    request_log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
        },
    )
