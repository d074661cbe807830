"""工作简报: a briefing's documents carry the numbers of /api/v1/metrics; scope, bad periods and
template edits (docs/briefings.md)."""

from __future__ import annotations

import datetime as dt
import io

import docx
import pypdf

from app.briefings import jobs
from app.briefings.models import BriefingJob
from app.core import clock
from app.extensions import db
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.factories import act
from tests.cases.factories import commit
from tests.cases.factories import report
from tests.factories import COUNTY
from tests.factories import OTHER_VILLAGE
from tests.factories import bearer
from tests.geo.factories import TOWN

RATE_NAMES = {
    "小事不出村率": "village_retention",
    "大事不出镇率": "town_retention",
    "矛盾上交率": "county_share",
    "受理及时率": "on_time_acceptance",
    "按期办结率": "on_time_resolution",
    "化解成功率": "success_rate",
    "满意率": "satisfaction",
}


def some_cases(client, world) -> None:
    """A closed agreement with a follow-up, an open case, one escalated to the town."""
    gw, mv, mt = world["grid_worker@village"], world["mediator@village"], world["mediator@town"]
    today = clock.today().isoformat()
    numbers = [report(client, gw).get_json()["number"] for _ in range(2)]
    numbers.append(report(client, mv).get_json()["number"])
    agreement = {
        "facts": "楼上漏水",
        "responsibilities": "楼上负责维修",
        "terms": "七日内修复",
        "performance_method": "现金",
        "performance_due": (clock.today() + dt.timedelta(days=10)).isoformat(),
        "signed_on": today,
        "signed_by_parties": True,
        "signed_by_mediator": True,
    }
    steps = [
        (numbers[0], mv, "accept", {}),
        (
            numbers[0],
            mv,
            "resolve",
            {"outcome": "agreement", "note": "调解成功", "agreement": agreement},
        ),
        (numbers[0], gw, "follow_up", {"method": "phone", "satisfaction": "satisfied"}),
        (numbers[0], mv, "close", {}),
        (numbers[2], mv, "escalate", {"reason": "涉及两村"}),
        (numbers[2], mt, "accept", {}),
    ]
    for number, user, action, body in steps:
        response = act(client, user, number, action, body)
        assert response.status_code == 200, response.get_json()
    commit()


def brief(client, headers, region: str, date_from, date_to):
    """POST /api/v1/briefings with the caller's headers."""
    return client.post(
        "/api/v1/briefings",
        json={"region": region, "from": str(date_from), "to": str(date_to)},
        headers=headers,
    )


def docx_of(client, headers, job_id: int) -> docx.Document:
    """A finished briefing's .docx, read back."""
    response = client.get(f"/api/v1/briefings/{job_id}.docx", headers=headers)
    assert response.status_code == 200
    return docx.Document(io.BytesIO(response.data))


def test_briefing_numbers_equal_metrics_and_follow_the_template(client, world):
    """202 + a queued job; run → progress 100; the .docx's measures table equals /api/v1/metrics
    and its sentences are the template's; the PDF's text has them too; a template edit (409 when
    stale, 422 when broken) shows in the next briefing."""
    some_cases(client, world)
    official, admin = bearer(world["official@county"]), bearer(world["admin@county"])
    commit()
    date_to = clock.today()
    date_from = date_to - dt.timedelta(days=29)
    created = brief(client, official, COUNTY, date_from, date_to)
    assert created.status_code == 202, created.get_json()
    job = created.get_json()
    assert job["state"] == "queued" and job["progress"] == 0 and job["links"] == {}
    pending = client.get(f"/api/v1/briefings/{job['id']}.docx", headers=official)
    assert pending.status_code == 409
    commit()

    assert jobs.run_briefing(job["id"]) == "done"
    polled = client.get(f"/api/v1/briefings/{job['id']}", headers=official).get_json()
    assert polled["state"] == "done" and polled["progress"] == 100
    assert set(polled["links"]) == {"docx", "pdf"}

    metrics = client.get(
        f"/api/v1/metrics?region={COUNTY}&from={date_from}&to={date_to}", headers=official
    ).get_json()["measures"]
    document = docx_of(client, official, job["id"])
    measures_table, towns_table = document.tables[0], document.tables[1]
    rows = [[c.text for c in row.cells] for row in measures_table.rows]
    assert rows[0] == ["指标", "分子", "分母", "比率"]
    for name, numerator, denominator, rate in rows[1:]:
        expected = metrics[RATE_NAMES[name]]
        assert (int(numerator), int(denominator)) == (
            expected["numerator"],
            expected["denominator"],
        )
        shown = "—" if expected["rate"] is None else f"{expected['rate'] * 100:.1f}%"
        assert rate == shown
    assert metrics["county_share"]["denominator"] == 3
    text = "\n".join(p.text for p in document.paragraphs)
    assert "受理矛盾纠纷和信访事项 3 件" in text
    retention = metrics["village_retention"]
    assert f"小事不出村率 {retention['rate'] * 100:.1f}%" in text
    assert towns_table.rows[0].cells[0].text == "乡镇"
    assert len(document.inline_shapes) == 3  # the three charts

    pdf = client.get(f"/api/v1/briefings/{job['id']}.pdf", headers=official)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pdf_text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "受理矛盾纠纷和信访事项 3 件" in pdf_text.replace("\n", "")
    assert "主要指标" in pdf_text

    # The template: stale → 409, broken → 422 naming the field, a good one → the next briefing.
    current = client.get("/api/v1/briefing-template", headers=admin).get_json()
    new_body = current["body"] + "\n\n本期特别说明：调解成功 {{ cases.agreements }} 件。"
    edit = {"title": current["title"], "body": new_body, "version": current["version"]}
    stale = client.put("/api/v1/briefing-template", json={**edit, "version": 0}, headers=admin)
    assert stale.status_code == 409
    broken = client.put(
        "/api/v1/briefing-template",
        json={**edit, "body": "{{ cases.no_such_number }}"},
        headers=admin,
    )
    assert broken.status_code == 422 and "body" in broken.get_json()["errors"]["json"]
    saved = client.put("/api/v1/briefing-template", json=edit, headers=admin)
    assert saved.status_code == 200 and saved.get_json()["version"] == current["version"] + 1
    commit()
    again = brief(client, official, COUNTY, date_from, date_to).get_json()
    commit()
    jobs.run_briefing(again["id"])
    text = "\n".join(p.text for p in docx_of(client, official, again["id"]).paragraphs)
    assert "本期特别说明：调解成功 1 件。" in text
    assert db.session.get(BriefingJob, again["id"]).template_version == current["version"] + 1


def test_briefing_scope_and_period(client, world):
    """Outside scope: 404 (asking and reading); a bad period: 422 naming the field, no job;
    the page shows the form and its jobs."""
    town_official = bearer(world["official@town"])
    county_official = bearer(world["official@county"])
    commit()
    today = clock.today()
    outside = brief(client, town_official, OTHER_VILLAGE, today, today)
    assert outside.status_code == 404
    above = brief(client, town_official, COUNTY, today, today)
    assert above.status_code == 404
    backwards = brief(client, town_official, TOWN, today, today - dt.timedelta(days=1))
    assert backwards.status_code == 422
    assert "from" in backwards.get_json()["errors"]["json"]
    future = brief(client, town_official, TOWN, today, today + dt.timedelta(days=1))
    assert future.status_code == 422 and "to" in future.get_json()["errors"]["json"]
    assert db.session.query(BriefingJob).count() == 0

    county_job = brief(client, county_official, COUNTY, today, today).get_json()
    commit()
    hidden = client.get(f"/api/v1/briefings/{county_job['id']}", headers=town_official)
    assert hidden.status_code == 404
    town_job = brief(client, town_official, TOWN, today, today).get_json()
    commit()
    login(client, world["official@town"].username)
    page = client.get("/briefings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-job="{town_job["id"]}"' in html
    assert f'data-job="{county_job["id"]}"' not in html
    refused = client.post(
        "/briefings",
        data={
            "csrf_token": csrf_from(html),
            "region": TOWN,
            "from": str(today),
            "to": "2020-01-01",
        },
    )
    assert refused.status_code == 422
    assert 'id="err-briefing-from"' in refused.get_data(as_text=True)
    assert db.session.query(BriefingJob).count() == 2
