"""The floor reference of bench/run.py: the least any HTTP service costs here.

A bare WSGI app answering fixed bytes, served by gunicorn under the app's own configuration
(`--config python:app.ops.gunicorn_conf` when it exists), so what the app adds over it is the
app's own: Flask's request cycle, authentication, the database and the answer.
"""

from __future__ import annotations

BODY = b'{"status":"ok"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    """200 with the same few bytes, whatever was asked."""
    start_response("200 OK", HEADERS)
    return [BODY]
