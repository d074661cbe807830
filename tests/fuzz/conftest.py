"""Known findings of the schema fuzzer in code that other people are changing right now.

An operation listed here is still fuzzed on every run; when it fails, the failure is reported as
an expected failure (xfail) naming the finding, instead of failing the suite. Anything else that
fails fails. Remove an entry as soon as its owner fixes it: the operation then has to pass.
"""

from __future__ import annotations

import pytest

KNOWN_ISSUES = {
    "GET /api/v1/risk-points.geojson": (
        "app/risks/api.py documents its 200 answer as an empty object (schemas.Schema, "
        "additionalProperties false); use app.geo.schemas.FeatureCollectionSchema"
    ),
    "GET /api/v1/grid-cells/risk": (
        "app/risks/api.py documents its 200 answer as an empty object (schemas.Schema, "
        "additionalProperties false); use app.geo.schemas.FeatureCollectionSchema"
    ),
    "POST /api/v1/risk-categories": (
        "app/risks/schemas.py: JSON bodies take lenient marshmallow numbers and booleans "
        '(sort_order 2.5 or "3" accepted); use app.jsonfields'
    ),
    "PUT /api/v1/risk-categories/{category_id}": (
        "app/risks/schemas.py: JSON bodies take lenient marshmallow numbers and booleans; "
        "use app.jsonfields"
    ),
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Report a failure of a known-issue operation as xfail with the finding as its reason."""
    report = yield
    reason = KNOWN_ISSUES.get(getattr(item, "operation_label", None))
    if reason and call.when == "call" and report.failed:
        report.outcome = "skipped"
        report.wasxfail = f"known fuzzer finding: {reason}"
    return report
