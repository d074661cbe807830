"""The pool hands out the connection used last (issue 18: warm backends for quiet requests)."""

from __future__ import annotations

from app.extensions import db


def test_the_pool_gives_back_the_connection_returned_last(app):
    with app.app_context():
        first, second = db.engine.raw_connection(), db.engine.raw_connection()
        first_pid = first.dbapi_connection.get_backend_pid()
        second_pid = second.dbapi_connection.get_backend_pid()
        assert first_pid != second_pid
        first.close()  # returned first: idle the longest
        second.close()  # returned last
        again = db.engine.raw_connection()
        try:
            # LIFO: the backend just used, not the one idle longest (FIFO would give first's).
            assert again.dbapi_connection.get_backend_pid() == second_pid
        finally:
            again.close()
