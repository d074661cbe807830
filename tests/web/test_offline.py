"""离线 (issue 19): the service worker script, the client checks mirroring the API's rules, and
the Idempotency-Key the outbox's inspections and 回访 retry with (docs/field.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import text

from app import pii
from app.extensions import db
from app.web import forms
from tests.accounts.helpers import login
from tests.cases.factories import act
from tests.cases.factories import report
from tests.cases.test_workflow import BODIES
from tests.factories import bearer
from tests.risks.factories import make_point

CHECKS_JS = Path(__file__).resolve().parents[2] / "app" / "static" / "js" / "checks.js"


def test_service_worker_is_served_at_the_root_with_its_precache(client):
    """/sw.js: JS, root scope allowed, revalidated each time; it precaches the field pages and
    static files, and no /api/ URL."""
    answer = client.get("/sw.js")
    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    assert answer.headers["Service-Worker-Allowed"] == "/"
    assert answer.headers["Cache-Control"] == "no-cache"
    source = answer.get_data(as_text=True)
    first = source.splitlines()[0]
    assert first.startswith("self.GRIDGOV_SW = ") and first.endswith(";")
    config = json.loads(first[len("self.GRIDGOV_SW = ") : -1])
    assert config["pages"] == ["/field", "/report", "/inspections", "/field/visits/new"]
    # By their hashed URLs, as the pages ask for them (app/assets.py).
    assets = [url.split("?v=")[0] for url in config["assets"]]
    assert "/static/js/outbox.js" in assets and "/static/vendor/leaflet/leaflet.js" in assets
    assert "/static/js/sw.js" not in assets
    assert not [url for url in config["pages"] + assets if url.startswith("/api/")]
    assert "/api/" not in source.split("\n", 1)[1].replace("every /api/ request", "")
    assert len(config["version"]) == 12


def run_checks(calls: list[list]) -> list:
    """Run checks.js under node with the rules the page is given; one answer per call."""
    rules = json.dumps(forms.check_rules(), ensure_ascii=False)
    script = (
        f"globalThis.CHECK_RULES = {rules};\n{CHECKS_JS.read_text()}\n"
        f"const calls = {json.dumps(calls)};\n"
        "const out = calls.map(([fn, arg]) => fn === 'occurredAt' ?"
        " Checks.occurredAt(new Date(arg)) : Checks[fn](arg));\n"
        "console.log(JSON.stringify(out));"
    )
    done = subprocess.run(["node", "-"], input=script, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_client_checks_agree_with_the_api(app):
    """The page's ID and phone checks answer as app.pii does, for good and bad values alike;
    an occurred_at in the future or before 1949-10-01 is refused with the API's message."""
    ids = ["11010519491231002X", "110105194912310021", "440524188001010014", "44052418800101001"]
    ids += ["110101199003074514", "110101199003074515", "11010119900307451x", "ABCDEFGHIJKLMNOPQR"]
    phones = ["13912345678", "12912345678", "0543-3312345", "05433312345", "543-3312345", "1391234"]
    with app.test_request_context():
        answers = run_checks(
            [["idNumber", v] for v in ids]
            + [["phone", v] for v in phones]
            + [["occurredAt", "2999-01-01T00:00:00Z"], ["occurredAt", "1900-01-01T00:00:00Z"]]
            + [["occurredAt", "2020-01-01T00:00:00Z"]]
        )
        messages = forms.check_rules()["messages"]
    id_answers, phone_answers = answers[: len(ids)], answers[len(ids) : len(ids) + len(phones)]
    assert [a is None for a in id_answers] == [pii.id_number_valid(v.upper()) for v in ids]
    assert sum(a is None for a in id_answers) >= 3  # the sample has valid numbers too
    assert [a is None for a in phone_answers] == [pii.phone_valid(v) for v in phones]
    assert answers[-3:] == [messages["future"], messages["too_early"], None]


def test_inspection_and_follow_up_retried_with_a_key_are_recorded_once(client, world):
    """The outbox sends an inspection (multipart, with its key) and a 回访 again when it never
    saw the answer: the retry replays the first answer and nothing is recorded twice; the same
    key with another body is 422."""
    worker = world["grid_worker@village"]
    point_id = make_point(worker).id
    headers = {**bearer(worker), "Idempotency-Key": "r-inspect-1"}
    path = f"/api/v1/risk-points/{point_id}/inspections"
    form = {"result": "normal", "notes": "消防通道畅通"}
    first = client.post(path, data=form, headers=headers, content_type="multipart/form-data")
    assert first.status_code == 201, first.get_json()
    again = client.post(path, data=form, headers=headers, content_type="multipart/form-data")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = client.post(
        path, data={**form, "notes": "另一次"}, headers=headers, content_type="multipart/form-data"
    )
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["errors"]["headers"]
    assert db.session.scalar(text("SELECT count(*) FROM inspections")) == 1

    number = report(client, worker).get_json()["number"]
    for action in ("accept", "start", "resolve"):
        act(client, world["mediator@village"], number, action, BODIES[action])
    version = client.get(f"/api/v1/cases/{number}", headers=bearer(worker)).get_json()["version"]
    body = {**BODIES["follow_up"], "version": version}
    keyed = {**bearer(worker), "Idempotency-Key": "r-follow-1"}
    url = f"/api/v1/cases/{number}/actions/follow_up"
    followed = client.post(url, json=body, headers=keyed)
    assert followed.status_code == 200 and followed.get_json()["state"] == "followed_up"
    replayed = client.post(url, json=body, headers=keyed)
    assert replayed.status_code == 200 and replayed.get_json()["state"] == "followed_up"
    count = "SELECT count(*) FROM follow_ups f JOIN cases c ON c.id = f.case_id WHERE c.number = :n"
    assert db.session.scalar(text(count), {"n": number}) == 1
    # Without a key, the stale retry is still refused as before.
    assert client.post(url, json=body, headers=bearer(worker)).status_code == 409


def test_a_warm_fetch_leaves_the_flash_and_the_cookie_alone(client, world):
    """The service worker's warm fetch of a field page (sw.js sends X-GridGov-Warm) runs beside
    what the person does: it neither shows nor takes a message flashed for the person's next
    page, nor sets the session cookie. The page the person opens next shows the message."""
    assert "'X-GridGov-Warm': '1'" in client.get("/sw.js").get_data(as_text=True)
    assert login(client, world["grid_worker@village"].username).status_code == 302
    client.get("/report")  # the sign-in's own messages, if any, shown and gone
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "已提交（测试）")]
    warm = client.get("/report", headers={"X-GridGov-Warm": "1"})
    assert warm.status_code == 200
    assert "已提交（测试）" not in warm.get_data(as_text=True)
    assert "Set-Cookie" not in warm.headers
    with client.session_transaction() as session:
        assert session["_flashes"] == [("success", "已提交（测试）")]
    page = client.get("/report")
    assert 'class="flash flash-success"' in page.get_data(as_text=True)
    assert "已提交（测试）" in page.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_flashes" not in session
