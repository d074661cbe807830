"""The deadline engine is pure Python: its tests need no database."""

import pytest


@pytest.fixture(autouse=True)
def _rollback():
    """Stand in for the suite's per-test rollback, which would start the database session."""
    yield
