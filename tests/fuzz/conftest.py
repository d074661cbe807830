"""Known findings of the schema fuzzer in code that other people are changing right now.

An operation listed here is still fuzzed on every run; when it fails, the failure is reported as
an expected failure (xfail) naming the finding, instead of failing the suite. Anything else that
fails fails. Remove an entry as soon as its owner fixes it: the operation then has to pass.
"""

from __future__ import annotations

import pytest

KNOWN_ISSUES: dict[str, str] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Report a failure of a known-issue operation as xfail with the finding as its reason."""
    report = yield
    reason = KNOWN_ISSUES.get(getattr(item, "operation_label", None))
    if reason and call.when == "call" and report.failed:
        report.outcome = "skipped"
        report.wasxfail = f"known fuzzer finding: {reason}"
    return report
