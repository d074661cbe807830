"""Open311 GeoReport v2: services, definitions, requests in JSON and XML; errors; no personal
data in any answer."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import select

from app.accounts import services as accounts
from app.audit.models import AuditEntry
from app.cases import services as case_services
from app.cases.models import Case
from app.extensions import db
from tests.cases.factories import ID_NUMBER
from tests.cases.factories import PHONE
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import case_body

PERSONAL = ("张三", "李四", PHONE, ID_NUMBER, "0543-3312345", "东村12号")


def key_of(user, name: str = "open311 县12345平台") -> str:
    """A live Open311 key of `user` (an API token named open311…)."""
    _token, secret = accounts.create_token(user, name)
    db.session.commit()
    return secret


def no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, value


def test_services_and_definitions_in_json_and_xml(client):
    """Categories are services; a definition lists its attributes; unknown codes are 404."""
    services = client.get("/open311/v2/services.json")
    assert services.status_code == 200
    items = services.get_json()
    neighbours = next(s for s in items if s["service_name"] == "邻里" and s["group"] == "矛盾纠纷")
    assert neighbours["service_code"] == "D02" and neighbours["metadata"] is True
    root = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert root.tag == "services"
    assert len(root.findall("service")) == len(items)
    assert root.find("service/service_code").text == items[0]["service_code"]
    definition = client.get("/open311/v2/services/D02.json").get_json()
    assert [a["code"] for a in definition["attributes"]] == ["title", "occurred_at"]
    xml = ET.fromstring(client.get("/open311/v2/services/D02.xml").data)
    assert xml.tag == "service_definition"
    assert xml.find("attributes/attribute/required").text == "false"
    missing = client.get("/open311/v2/services/Z99.json")
    assert missing.status_code == 404
    assert missing.get_json() == [
        {"code": 404, "description": missing.get_json()[0]["description"]}
    ]
    missing_xml = ET.fromstring(client.get("/open311/v2/services/Z99.xml").data)
    assert missing_xml.tag == "errors" and missing_xml.find("error/code").text == "404"


def test_create_query_and_read_requests_without_personal_data(client, world):
    """POST with a key files a case as its owner; GET answers keyed (masked) and public
    (coarse); the parties' names and phones never appear."""
    worker = world["grid_worker@village"]
    key = key_of(worker)
    created = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "D02",
            "lat": "37.32",
            "long": "118.01",
            "description": f"张三（电话 {PHONE}，身份证 {ID_NUMBER}）反映楼上漏水",
            "first_name": "三",
            "last_name": "张",
            "phone": PHONE,
            "attribute[title]": "楼上漏水",
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    number = created.get_json()[0]["service_request_id"]
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert (case.kind, case.category, case.source, case.reporter_id) == (
        "dispute",
        "邻里",
        "online",
        worker.id,
    )
    assert case.title == "楼上漏水" and case.parties[0].role == "applicant"
    other = case_services.report(
        {**case_body(), **POINT_OTHER_COUNTY, "title": "邻县事件"}, world["outsider"]
    )
    db.session.commit()
    other_number = other.number

    keyed = client.get(f"/open311/v2/requests.json?api_key={key}")
    assert keyed.status_code == 200
    found = {r["service_request_id"]: r for r in keyed.get_json()}
    assert set(found) == {number}  # the owner's jurisdiction only
    mine = found[number]
    assert mine["status"] == "open" and mine["service_code"] == "D02"
    assert (mine["lat"], mine["long"]) == (37.32, 118.01)
    assert "漏水" in mine["description"] and mine["requested_datetime"].endswith("+08:00")
    no_personal_data(keyed.get_data(as_text=True))

    public = client.get("/open311/v2/requests.json?status=open")
    ids = {r["service_request_id"]: r for r in public.get_json()}
    assert {number, other_number} <= set(ids)
    assert ids[number]["description"] is None
    assert (ids[number]["lat"], ids[number]["long"]) != (37.32, 118.01)  # the cell's point
    no_personal_data(public.get_data(as_text=True))
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []

    one = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml?api_key={key}").data)
    assert one.tag == "service_requests"
    assert one.find("request/service_request_id").text == number
    assert "漏水" in one.find("request/description").text
    no_personal_data(ET.tostring(one, encoding="unicode"))
    listed = ET.fromstring(client.get(f"/open311/v2/requests.xml?service_request_id={number}").data)
    assert [r.find("status").text for r in listed.findall("request")] == ["open"]
    outside = client.get(f"/open311/v2/requests/{other_number}.json?api_key={key}")
    assert outside.status_code == 404 and outside.get_json()[0]["code"] == 404


def test_errors_in_the_spec_shape_and_nothing_written(client, world):
    """No key, a plain (non-Open311) token, a bad code or point: the spec's error list, no case."""
    before = db.session.scalar(select(db.func.count()).select_from(Case))
    form = {"service_code": "D02", "lat": "37.32", "long": "118.01", "description": "漏水"}
    no_key = client.post("/open311/v2/requests.json", data=form)
    assert no_key.status_code == 400 and no_key.get_json()[0]["code"] == 400
    plain = key_of(world["grid_worker@village"], "手机")
    refused = client.post("/open311/v2/requests.xml", data={**form, "api_key": plain})
    assert refused.status_code == 403
    assert ET.fromstring(refused.data).find("error/code").text == "403"
    failures = (
        select(db.func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "auth.token", AuditEntry.outcome == "failure")
    )
    assert db.session.scalar(failures) == 1
    key = key_of(world["grid_worker@village"])
    for bad in (
        {"service_code": "Z99"},
        {"lat": "", "long": ""},
        {"lat": "37.32", "long": "118.32"},  # the other county: outside the owner's scope
        {"description": ""},
    ):
        answer = client.post("/open311/v2/requests.json", data={**form, "api_key": key, **bad})
        assert answer.status_code in (400, 404), (bad, answer.get_data(as_text=True))
        assert set(answer.get_json()[0]) == {"code", "description"}
    too_long = client.get("/open311/v2/requests.json?start_date=2026-01-01&end_date=2026-06-01")
    assert too_long.status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(Case)) == before


def test_address_string_places_the_request_in_its_village(client, world):
    """Without lat/long, an address naming a village of the owner's jurisdiction places it."""
    key = key_of(world["grid_worker@village"])
    created = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "I01",
            "address_string": "示范县甲镇东村村委会旁",
            "description": "路灯不亮",
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    number = created.get_json()[0]["service_request_id"]
    case = db.session.scalar(select(Case).where(Case.number == number))
    assert case.region_code.startswith("371699101200")
