"""Reporting a case: placement, validation, personal data, idempotency, nearby duplicates."""

import json
import threading

import pytest
from sqlalchemy import select
from sqlalchemy import text

from app.cases import queries
from app.cases import schemas
from app.cases.models import Case
from app.cases.models import Party
from app.extensions import db
from app.geo.crs import wgs84_to_gcj02
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import case_body
from tests.cases.factories import report
from tests.factories import bearer
from tests.geo.factories import VILLAGE


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def case_count() -> int:
    """Cases in the database."""
    return db.session.scalar(text("SELECT count(*) FROM cases"))


def test_report_places_case_and_starts_clock(client, world):
    """201: the case lands in its cell, village, town and county, numbered, with a clock."""
    response = report(client, world["grid_worker@village"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["number"].startswith("371699-") and len(body["number"]) == 18
    assert body["grid_cell"]["code"] == f"{VILLAGE}001"
    assert body["village"]["code"] == VILLAGE and body["town"]["code"] == "371699101000"
    assert body["county"]["code"] == "371699000000"
    assert (body["state"], body["level"], body["origin_level"]) == (
        "reported",
        "village",
        "village",
    )
    assert body["accept_due"] is not None and body["resolve_due"] is None
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(body["number"])
    case = db.session.scalar(select(Case).where(Case.number == body["number"]))
    assert case.reporter.username == "gw-village"
    assert [e.action for e in case.events] == ["report"]


def test_numbers_are_sequential_per_county_and_year(client, world):
    """Numbers run 000001, 000002... within a county and year."""
    first = report(client, world["grid_worker@village"]).get_json()["number"]
    second = report(client, world["mediator@town"]).get_json()["number"]
    assert int(second[-6:]) == int(first[-6:]) + 1 and first[:12] == second[:12]


def test_level_follows_the_reporter(client, world):
    """A town mediator files at town level by default; cannot file above their own level."""
    body = report(client, world["mediator@town"]).get_json()
    assert body["level"] == "town" and body["origin_level"] == "town"
    low = report(client, world["official@county"], level="village").get_json()
    assert low["level"] == "village"
    high = report(client, world["mediator@village"], level="county")
    assert high.status_code == 422 and "level" in high.get_json()["errors"]["json"]


def test_point_outside_every_cell_is_422_naming_nearest_village(client, world):
    """Outside every cell: 422 with the nearest village; nothing written."""
    response = report(client, world["official@county"], lon=118.12, lat=37.32)
    assert response.status_code == 422
    body = response.get_json()
    assert "最近的村是" in body["message"]
    assert body["errors"]["nearest_village"]["code"] == "371699102200"
    assert case_count() == 0


def test_point_outside_every_cell_never_names_a_village_outside_jurisdiction(client, world):
    """Outside every cell, a town's mediator is told of a village of their town only (or none)."""
    response = report(client, world["mediator@town"], lon=118.12, lat=37.32)
    assert response.status_code == 422
    body = response.get_json()
    nearest = body["errors"]["nearest_village"]
    assert nearest is None or nearest["code"].startswith("371699101")
    assert "371699102200" not in body["message"]
    assert case_count() == 0


def test_point_outside_jurisdiction_is_403(client, world):
    """A point in another village of the town (for a village user) or county: 403."""
    response = report(client, world["grid_worker@village"], lon=118.07, lat=37.32)
    assert response.status_code == 403
    response = report(client, world["official@county"], **POINT_OTHER_COUNTY)
    assert response.status_code == 403
    assert case_count() == 0


def test_gcj02_point_is_converted(client, world):
    """crs=gcj02 converts the phone's point before placing it."""
    lon, lat = wgs84_to_gcj02(118.049, 37.34)
    response = report(client, world["mediator@village"], lon=lon, lat=lat, crs="gcj02")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["grid_cell"]["code"] == f"{VILLAGE}002"
    assert body["lon"] == pytest.approx(118.049, abs=1e-7)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "riot"}, "kind"),
        ({"category": "天气"}, "category"),
        ({"title": ""}, "title"),
        ({"lon": 200}, "lon"),
        ({"source": "rumour"}, "source"),
        (
            {"parties": [{"role": "applicant", "name": "张三", "id_number": "110101199003074478"}]},
            "parties",
        ),
        ({"parties": [{"role": "applicant", "name": "张三", "phone": "12345"}]}, "parties"),
        ({"parties": [{"role": "judge", "name": "张三"}]}, "parties"),
        (
            {
                "group_visit": True,
                "parties": [{"role": "applicant", "name": f"代表{i}"} for i in range(6)],
            },
            "parties",
        ),
    ],
)
def test_bad_report_is_422_naming_the_field(client, world, overrides, field):
    """Each kind of bad input: 422 naming the field; nothing written; values never echoed."""
    response = report(client, world["mediator@village"], **overrides)
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert field in errors, errors
    assert "110101199003074478" not in response.get_data(as_text=True)
    assert case_count() == 0


def test_group_visit_with_five_representatives_is_fine(client, world):
    """Five representatives is the legal maximum (信访工作条例 第二十条)."""
    parties = [{"role": "applicant", "name": f"代表{i}"} for i in range(5)]
    response = report(
        client,
        world["mediator@village"],
        "petition",
        group_visit=True,
        parties=parties,
        source="visit",
    )
    assert response.status_code == 201


def test_personal_data_is_encrypted_at_rest_and_masked(client, world):
    """The database holds ciphertext; answers show masked values only."""
    body = report(client, world["grid_worker@village"]).get_json()
    applicant = body["parties"][0]
    assert applicant["name"] == "张*"
    assert applicant["id_number"] == "110101********4477"
    assert applicant["phone"] == "138****5678"
    assert body["parties"][1]["phone"] == "0543****2345"
    raw = db.session.execute(text("SELECT p::text FROM parties p")).scalars().all()
    dump = " ".join(raw)
    for secret in ("张三", ID_NUMBER, PHONE, "东村12号"):
        assert secret not in dump
    party = db.session.scalar(select(Party).where(Party.role == "applicant"))
    assert party.name_enc[:1] == b"\x01" and len(party.name_enc) > 28


def test_reveal_is_authorised_and_audited(client, world):
    """A mediator in scope sees full values, audited; a grid worker may not."""
    body = report(client, world["grid_worker@village"]).get_json()
    party_id = body["parties"][0]["id"]
    path = f"/api/v1/cases/{body['number']}/parties/{party_id}/reveal"
    mediator = bearer(world["mediator@village"])
    # The purpose is required, from the list; "other" needs the words (issue 19: reveal with a
    # purpose). A refused request reveals nothing and is not audited as a reveal.
    for bad, field in (
        ({}, "purpose"),
        ({"purpose": "curious"}, "purpose"),
        ({"purpose": "other"}, "reason"),
    ):
        refused = client.post(path, json=bad, headers=mediator)
        assert refused.status_code == 422 and field in refused.get_json()["errors"]["json"]
        assert "张三" not in refused.get_data(as_text=True)
    response = client.post(
        path, json={"purpose": "mediation", "reason": "调解需要"}, headers=mediator
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "id": party_id,
        "role": "applicant",
        "name": "张三",
        "id_number": ID_NUMBER,
        "phone": PHONE,
        "address": "山东省滨州市示范县东村12号",
    }
    why = {"purpose": "contact"}
    assert (
        client.post(path, json=why, headers=bearer(world["grid_worker@village"])).status_code == 403
    )
    assert client.post(path, json=why, headers=bearer(world["outsider"])).status_code == 403
    rows = db.session.execute(
        text("SELECT actor, outcome, detail FROM audit_log WHERE action = 'cases.reveal'")
    ).all()
    assert [(r.actor, r.outcome) for r in rows] == [
        ("mediator-village", "success"),
        ("gw-village", "denied"),
        ("outsider", "denied"),
    ]
    assert rows[0].detail == {"case": body["number"], "purpose": "mediation", "reason": "调解需要"}


def test_repeat_parties_are_counted(client, world):
    """A party seen in other cases shows how many are open and past."""
    report(client, world["grid_worker@village"])
    body = report(client, world["grid_worker@village"]).get_json()
    assert body["parties"][0]["repeat"] == {"open": 1, "past": 0}
    found = client.get(
        "/api/v1/cases",
        headers={**bearer(world["mediator@village"]), "X-Party-Id-Number": ID_NUMBER},
    ).get_json()
    assert len(found["items"]) == 2


# --- idempotency ---------------------------------------------------------------------------------


def test_retry_with_same_key_replays_the_answer(client, world):
    """The same key and body: the first answer again, and still one case."""
    headers = {**bearer(world["grid_worker@village"]), "Idempotency-Key": "phone-1-abc"}
    first = report(client, None, headers=headers)
    again = report(client, None, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    # The receipt's code is answered once and never stored in clear: the replay lacks it.
    replayed, answered = again.get_json(), first.get_json()
    assert replayed.pop("receipt") == {**answered.pop("receipt"), "code": None}
    assert replayed == answered
    assert case_count() == 1


def test_same_key_other_body_is_422(client, world):
    """Reusing a key for a different report is refused and writes nothing."""
    headers = {**bearer(world["grid_worker@village"]), "Idempotency-Key": "phone-1-xyz"}
    assert report(client, None, headers=headers).status_code == 201
    other = report(client, None, headers=headers, title="另一件事")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["errors"]["headers"]
    assert case_count() == 1


def test_keys_are_per_user(client, world):
    """Two users may use the same key for their own reports."""
    for key in ("grid_worker@village", "mediator@village"):
        headers = {**bearer(world[key]), "Idempotency-Key": "shared-key"}
        assert report(client, None, headers=headers).status_code == 201
    assert case_count() == 2


def test_failed_report_does_not_burn_the_key(client, world):
    """A 422 (outside every cell) leaves the key free for the corrected retry."""
    headers = {**bearer(world["mediator@village"]), "Idempotency-Key": "fix-and-retry"}
    bad = client.post("/api/v1/cases", json=case_body(lon=118.12, lat=37.32), headers=headers)
    assert bad.status_code in (403, 422)
    good = client.post("/api/v1/cases", json=case_body(), headers=headers)
    assert good.status_code == 201


def test_bad_key_format_is_422(client, world):
    """Keys are 1–100 characters of a safe alphabet."""
    headers = {**bearer(world["mediator@village"]), "Idempotency-Key": "空格 不行"}
    assert report(client, None, headers=headers).status_code == 422


def test_concurrent_duplicates_make_one_case(app, scratch_world):
    """Eight simultaneous sends of one report with one key: exactly one case."""
    client_app, headers = scratch_world
    headers = {**headers, "Idempotency-Key": "concurrent-1"}
    body = json.dumps(case_body())
    barrier = threading.Barrier(8)
    statuses = []

    def send():
        client = client_app.test_client()
        barrier.wait(10)
        response = client.post(
            "/api/v1/cases", data=body, headers={**headers, "Content-Type": "application/json"}
        )
        statuses.append((response.status_code, response.get_json().get("number")))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(statuses) == 8
    assert all(s in (201, 409) for s, _ in statuses), statuses
    numbers = {n for s, n in statuses if s == 201}
    assert len(numbers) == 1
    with client_app.app_context():
        from app.extensions import db as scratch_db

        assert scratch_db.session.execute(text("SELECT count(*) FROM cases")).scalar() == 1
        scratch_db.session.remove()


# --- nearby --------------------------------------------------------------------------------------


def test_nearby_lists_open_cases_within_200_m(client, world):
    """A report 100 m away is listed; one 1 km away, closed, or another category is not."""
    headers = bearer(world["grid_worker@village"])
    near = report(client, None, headers=headers).get_json()["number"]
    report(client, None, headers=headers, lon=118.01 + 0.0113, lat=37.32)  # about 1 km east
    query = "/api/v1/cases/nearby?lon=118.0111&lat=37.32&category=邻里"
    listed = client.get(query, headers=headers).get_json()
    assert [c["number"] for c in listed] == [near]
    other = client.get(
        "/api/v1/cases/nearby?lon=118.0111&lat=37.32&category=劳资", headers=headers
    ).get_json()
    assert other == []
    db.session.execute(text("UPDATE cases SET state = 'closed'"))
    db.session.commit()
    assert client.get(query, headers=headers).get_json() == []


def test_linked_risk_point_must_be_visible(client, world):
    """A case may link a risk point of the caller's scope; another's answers 422, writes nothing."""
    from app.risks import services as risks
    from tests.risks.factories import risk_body

    mine = risks.register(risk_body(), world["mediator@village"]).id
    other = {"type": "Point", "coordinates": [118.32, 37.32]}
    theirs = risks.register(risk_body(geometry=other), world["outsider"]).id
    db.session.commit()
    linked = report(client, world["mediator@village"], risk_point_id=mine)
    assert linked.status_code == 201 and linked.get_json()["risk_point_id"] == mine
    refused = report(client, world["mediator@village"], risk_point_id=theirs)
    assert refused.status_code == 422
    assert "risk_point_id" in refused.get_json()["errors"]["json"]
    assert case_count() == 1


def test_repeat_counts_only_cases_the_caller_may_see(client, world):
    """A count over the whole database told anyone who typed an ID number whether that person
    had cases in another jurisdiction (issue 19 item 2): only visible cases count."""
    outsider = report(client, world["outsider"], **POINT_OTHER_COUNTY)
    assert outsider.status_code == 201, outsider.get_json()
    report(client, world["grid_worker@village"])
    body = report(client, world["grid_worker@village"]).get_json()
    # Two other cases name the person; one is in another county.
    assert body["parties"][0]["repeat"] == {"open": 1, "past": 0}
    seen_there = client.get(
        f"/api/v1/cases/{outsider.get_json()['number']}", headers=bearer(world["outsider"])
    ).get_json()
    assert seen_there["parties"][0]["repeat"] == {"open": 0, "past": 0}


def test_report_answer_is_the_schemas_dump(client, world):
    """The report's answer (built without marshmallow or queries, app/cases/reported.py) is,
    byte for byte, what CaseOut dumps for the same case loaded afresh: parties with repeat
    counts, a likely same matter's second event, each caller's allowed actions."""
    for key in ("grid_worker@village", "official@county"):
        response = report(client, world[key], "petition")
        assert response.status_code == 201, response.get_json()
        answer = json.loads(response.get_data(as_text=True))
        del answer["receipt"]
        db.session.expunge_all()  # the plain path loads everything from the database
        case = db.session.scalar(select(Case).where(Case.number == answer["number"]))
        plain = schemas.CaseOut().dump(queries.detail(case, world[key]))
        assert json.dumps(answer, ensure_ascii=False) == json.dumps(plain, ensure_ascii=False)
    assert [e["action"] for e in answer["events"]] == ["report", "same_matter"]
    assert answer["parties"][0]["repeat"]["open"] == 1 and answer["allowed_actions"]
