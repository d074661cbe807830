"""Optimistic locking: concurrent actions on one case at one version, exactly one wins."""

import threading

from sqlalchemy import text

from tests.cases.factories import case_body


def test_twenty_concurrent_actions_one_succeeds(scratch_world):
    """20 simultaneous `accept`s at version 1: one 200, nineteen 409, one timeline entry."""
    app, headers = scratch_world
    created = app.test_client().post("/api/v1/cases", json=case_body(), headers=headers)
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    barrier = threading.Barrier(20)
    statuses = []

    def accept():
        client = app.test_client()
        barrier.wait(10)
        response = client.post(
            f"/api/v1/cases/{number}/actions/accept", json={"version": 1}, headers=headers
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=accept) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200] + [409] * 19
    with app.app_context():
        from app.extensions import db

        accepts = db.session.execute(
            text("SELECT count(*) FROM case_events WHERE action = 'accept'")
        ).scalar()
        version = db.session.execute(text("SELECT version FROM cases")).scalar()
        db.session.remove()
    assert (accepts, version) == (1, 2)
