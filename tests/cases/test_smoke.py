"""Smoke: report and accept."""

from tests.cases.factories import act
from tests.cases.factories import report


def test_report_and_accept(client, world):
    """A grid worker reports; the village mediator accepts."""
    response = report(client, world["grid_worker@village"])
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["number"]
    accepted = act(client, world["mediator@village"], number, "accept")
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["state"] == "accepted"
