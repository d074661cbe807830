"""Prometheus metrics: request counts and latency by route, gauges computed at scrape time.

Under gunicorn with several workers each worker counts on its own; set PROMETHEUS_MULTIPROC_DIR
(an empty directory, wiped before gunicorn starts, see docs/deployment.md) so that a scrape,
whichever worker answers it, adds up every worker's figures. prometheus_client reads that variable
when it is first imported, so it must be in gunicorn's environment, not set later.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.core.errors import NotFound
from app.policy import public

log = logging.getLogger(__name__)

# Module level, so that several apps in one process (the tests) share one set of metrics.
REQUESTS = Counter(
    "gridgov_http_requests",
    "HTTP requests answered, by method, route rule and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "gridgov_http_request_duration_seconds",
    "Time to answer an HTTP request, by route rule",
    ["route"],
    # Up to the default 15 s statement timeout and a little past it.
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
)
# Anything else would let a client create label values (and time series) at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

GaugeFunction = Callable[[], float | Iterable[tuple[Sequence[str], float]]]
_gauges: dict[str, tuple[str, Sequence[str], GaugeFunction]] = {}


def register_gauge(
    name: str, documentation: str, fn: GaugeFunction, labels: Sequence[str] = ()
) -> None:
    """Publish a gauge whose value fn computes at each scrape (registering again replaces it).

    Without labels fn returns a number; with labels it returns (label values, number) pairs.
    fn runs inside the /metrics request, so it may query the database.
    """
    _gauges[name] = (documentation, tuple(labels), fn)


class _ScrapeTimeGauges(Collector):
    """Calls the registered gauge functions when Prometheus scrapes."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """One gauge family per registered function; a failing function is logged and skipped."""
        for name, (documentation, labels, fn) in sorted(_gauges.items()):
            try:
                value = fn()
                family = GaugeMetricFamily(name, documentation, labels=labels or None)
                if labels:
                    for label_values, number in value:  # type: ignore[union-attr]
                        family.add_metric(list(label_values), float(number))
                else:
                    family.add_metric([], float(value))  # type: ignore[arg-type]
            except Exception:
                log.exception("gauge %s failed", name)
                continue
            yield family


_scrape_time_gauges = _ScrapeTimeGauges()


class _DefaultRegistry(Collector):
    """The default registry (our counters, process and GC metrics) as one collector."""

    def collect(self):
        """Everything registered in the default registry."""
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The directory of prometheus_client's multiprocess mode, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape_registry() -> CollectorRegistry:
    """What a scrape reports: this process's metrics, or every worker's in multiprocess mode."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistry())
    registry.register(_scrape_time_gauges)
    return registry


def route_label() -> str:
    """The matched URL rule (/api/v1/regions/<code>), never the raw path."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (and ::ffff:127.x.x.x)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def scrape_allowed() -> bool:
    """With METRICS_TOKEN: the right bearer token; without: a loopback client only."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    return is_loopback(request.remote_addr)


bp = Blueprint("metrics", __name__)


@bp.route("/metrics")
@public  # it guards itself: METRICS_TOKEN, or loopback callers only
def metrics() -> Response:
    """Prometheus text exposition; 404 (as if absent) to anyone not allowed to scrape."""
    if not scrape_allowed():
        raise NotFound()
    return Response(generate_latest(scrape_registry()), mimetype=CONTENT_TYPE_LATEST)


def count(method: str, route: str, status: int, started: float | None) -> None:
    """Count and time one answer (also the cached-tile path's, app/tiles/fast.py)."""
    method = method if method in KNOWN_METHODS else "OTHER"
    REQUESTS.labels(method, route, str(status)).inc()
    if started is not None:
        LATENCY.labels(route).observe(time.perf_counter() - started)


def init_metrics(app: Flask) -> None:
    """Count and time every request (after init_request_logging), and serve /metrics."""

    @app.after_request
    def record(response: Response) -> Response:
        # Started by the request-id hook, which runs before every other hook (app/ops/logging.py).
        count(request.method, route_label(), response.status_code, g.get("request_started"))
        return response

    app.register_blueprint(bp)
