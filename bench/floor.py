"""The floor reference of bench/run.py: the least any HTTP service costs here.

A bare WSGI app answering fixed bytes, served by gunicorn under the app's own configuration
(`--config python:app.ops.gunicorn_conf` when it exists), so what the app adds over it is the
app's own: Flask's request cycle, authentication, the database and the answer.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qs

BODY = b'{"status":"ok"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


@functools.lru_cache(maxsize=1024)
def sized(body: int, headers: int, header_bytes: int) -> tuple[list, bytes]:
    """An answer of `body` bytes with `headers` headers of `header_bytes` bytes in all (names,
    values and their ": " and CRLF, as on the wire), its Content-Type and Content-Length among
    them: what the app's cached tile puts on the wire, answered with no work at all."""
    data = b"\0" * body
    head = [("Content-Type", "application/vnd.mapbox-vector-tile"), ("Content-Length", str(body))]
    used = sum(len(k) + len(v) + 4 for k, v in head)
    pads = max(0, headers - len(head))
    for i in range(pads):
        name = f"X-Pad-{i}"
        share = (header_bytes - used) // (pads - i)  # what is left, spread over the rest
        value = "x" * max(1, share - len(name) - 4)
        head.append((name, value))
        used += len(name) + len(value) + 4
    return head, data


def app(environ, start_response):
    """200 with the same few bytes, whatever was asked; `/sized?body=&headers=&header_bytes=`
    answers that many bytes and headers instead (W4's floor: a cached tile's answer, sent)."""
    if environ.get("PATH_INFO") == "/sized":
        args = {k: int(v[0]) for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        head, data = sized(args["body"], args["headers"], args["header_bytes"])
        start_response("200 OK", list(head))
        return [data]
    start_response("200 OK", HEADERS)
    return [BODY]
