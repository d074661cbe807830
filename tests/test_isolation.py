"""Each test runs in a transaction rolled back afterwards, even when the app commits."""

from sqlalchemy import text

from app.extensions import db
from tests.geo.factories import build_county

MARK = "371699000000"


def test_a_commit_inside_a_test(runner, tmp_path):
    """A command that commits: its rows are visible within the test."""
    build_county()
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM regions")).scalar() == 6


def test_b_nothing_left_behind():
    """Runs after the test above: the committed rows are gone."""
    assert db.session.execute(text("SELECT count(*) FROM regions")).scalar() == 0


def test_c_other_connections_never_saw_it(fsa_session):
    """A separate connection sees an empty table too."""
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM regions")).scalar() == 0
