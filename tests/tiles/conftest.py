"""Every tile test starts with an empty tile cache (versions repeat after each rollback)."""

import pytest

from app.tiles.api import cache


@pytest.fixture(autouse=True)
def _empty_tile_cache(app):
    """Forget tiles cached by earlier tests, whose rolled-back data reused the same versions."""
    with app.test_request_context():
        cache().clear()


# Shared by test_tiles.py and test_keys.py.
from tests.tiles.test_tiles import cases_in_tile  # noqa: E402, F401
