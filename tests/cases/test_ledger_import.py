"""Historical ledger import (issue 17 item 3): `flask cases import-ledger` and /admin/imports."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy import text

from app import pii
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.cases.models import Party
from app.extensions import db
from app.imports import jobs
from app.imports import services
from app.imports.models import LedgerImport
from app.imports.models import LedgerTemplate
from app.privacy import freetext
from app.web import imports as import_pages
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.cases.ledger_fixtures import TWIN_COUNTY
from tests.cases.ledger_fixtures import build_twin_county
from tests.cases.ledger_fixtures import messy_ledger
from tests.factories import COUNTY
from tests.factories import bearer
from tests.factories import make_user

# Every imported case's timeline explains it (as tests/test_demo_history.py checks the demo's):
# it starts with the report, each step leaves from where the last arrived, it ends in the
# case's state, and the version counts the steps.
UNEXPLAINED = """
WITH ev AS (
    SELECT e.case_id, e.action, e.from_state, e.to_state,
           row_number() OVER w AS n, lag(e.to_state) OVER w AS previous,
           count(*) OVER (PARTITION BY e.case_id) AS total
      FROM case_events e JOIN cases c ON c.id = e.case_id
     WHERE e.to_state IS NOT NULL AND c.import_id IS NOT NULL
    WINDOW w AS (PARTITION BY e.case_id ORDER BY e.id)),
per_case AS (
    SELECT case_id, max(total) AS steps,
           bool_or(n = 1 AND action <> 'report') AS bad_start,
           bool_or(n > 1 AND from_state IS DISTINCT FROM previous) AS broken,
           max(to_state) FILTER (WHERE n = total) AS last_state
      FROM ev GROUP BY case_id)
SELECT count(*) FROM cases c LEFT JOIN per_case p ON p.case_id = c.id
 WHERE c.import_id IS NOT NULL
   AND (p.case_id IS NULL OR p.bad_start OR p.broken
        OR p.last_state <> c.state OR p.steps <> c.version)
"""


def count(sql: str, **params) -> int:
    return db.session.execute(text(sql), params).scalar()


# The round trip takes one quarter of the ledger (a third of the test's time otherwise).
QUARTER = {"reported_from": "2023-04-01", "reported_to": "2023-06-30"}


def export_csv(client, user, region: str) -> list[list[str]]:
    """The region's ledger for the quarter, parties in full (a revealing export is a POST)."""
    response = client.post(
        "/api/v1/cases/export.csv",
        query_string={"reveal": "true", "region": region, **QUARTER},
        headers=bearer(user),
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_a_messy_5000_row_ledger_dry_runs_imports_counts_and_round_trips(
    client, runner, world, tmp_path
):
    """Dry run: every planted problem by row and column, no case written. Apply: the other rows
    as cases with their dates, outcomes, follow-ups, encrypted parties and explained timelines,
    in their period's measures; re-importing changes nothing. Export → import into an empty
    county → export gives identical rows."""
    ledger = messy_ledger()
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger.data)
    admin = world["admin@county"].username

    dry = runner.invoke(
        args=[
            "cases",
            "import-ledger",
            str(path),
            "--dry-run",
            "--county",
            COUNTY[:6],
            "--user",
            admin,
        ]
    )
    assert dry.exit_code == 0, dry.output
    for row, column in ledger.problems.items():
        assert any(
            line.startswith(f"第 {row} 行 [") and column in line.split("]")[0]
            for line in dry.output.splitlines()
        ), (row, column, dry.output[-2000:])
    assert f"可导入 {ledger.importable} 行，已导入过 0 行，有问题 5 行" in dry.output
    assert count("SELECT count(*) FROM cases") == 0
    assert db.session.scalar(select(LedgerImport.state)) == "dry_run_done"

    # Applied in the background (the job the page queues; the command runs it inline).
    imp = db.session.scalar(select(LedgerImport))
    services.start(imp, world["admin@county"])
    db.session.commit()
    assert jobs.run_import(imp.id) == "applied"
    assert count("SELECT count(*) FROM cases WHERE import_id IS NOT NULL") == ledger.importable
    # The planner needs statistics of the rows just loaded: without them (autovacuum may not have
    # analyzed them yet) it can rerun the per-case aggregate for every case (a 60 s timeout).
    db.session.execute(text("ANALYZE cases, case_events"))
    assert count(UNEXPLAINED) == 0
    # Full-width digits and trailing spaces gone; 邻里纠纷 is 邻里; the planted rows are absent.
    first = db.session.scalar(select(Case).where(Case.external_number == "TZ-2023-00001"))
    assert first is None or first.category in {
        "婚姻家庭",
        "邻里",
        "土地山林水利权属",
        "征地拆迁安置",
        "劳资",
        "合同/经济",
        "环境污染/人居环境",
        "村(社)务管理",
        "医疗/教育",
        "其他",
    }
    assert not count("SELECT count(*) FROM cases WHERE external_number ~ '[０-９]'")
    assert count("SELECT count(*) FROM cases WHERE location_approximate") > ledger.importable / 2
    assert count("SELECT count(*) FROM cases WHERE NOT location_approximate") > 1000
    assert count("SELECT count(*) FROM follow_ups") > 1000
    # Personal data as any other: ciphertext, masked copies, keyed hashes.
    party = db.session.scalars(select(Party).order_by(Party.id)).first()
    name = pii.decrypt(party.name_enc)
    assert party.name_hash == pii.keyed_hash(name) and name.encode() not in bytes(party.name_enc)
    assert pii.id_number_valid(pii.decrypt(party.id_number_enc))
    assert "*" in party.id_number_masked
    audited = db.session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "ledger.import")
    ).all()
    assert any(d.get("step") == "applied" and d["created"] == ledger.importable for d in audited)

    # In the measures of their own period: March 2023's closed cases, all born in the village.
    official = world["official@county"]
    march = client.get(
        "/api/v1/metrics",
        query_string={"from": "2023-03-01", "to": "2023-03-31"},
        headers=bearer(official),
    ).get_json()["measures"]
    closed = ledger.closed_by_month[(2023, 3)]
    assert march["village_retention"]["denominator"] == closed
    assert march["village_retention"]["numerator"] == closed

    # The round trip: the county's ledger into an empty county with the same names.
    exported = export_csv(client, official, COUNTY)
    assert len(exported) > 400
    build_twin_county()
    make_user("twin-admin", "admin", TWIN_COUNTY)
    twin_official = make_user("twin-official", "official", TWIN_COUNTY).id
    again_path = tmp_path / "export.csv"
    again_path.write_bytes(("\ufeff" + to_csv(exported)).encode("utf-8"))
    twin_args = ["cases", "import-ledger", str(again_path), "--county", TWIN_COUNTY[:6]]
    twin_args += ["--user", "twin-admin"]
    twin = runner.invoke(args=twin_args)
    assert twin.exit_code == 0, twin.output
    quarter = len(exported) - 1
    assert f"新建 {quarter} 件" in twin.output and "有问题的 0 行" in twin.output
    # Idempotent: the same file again creates nothing and changes nothing.
    again = runner.invoke(args=twin_args)
    assert again.exit_code == 0, again.output
    assert f"新建 0 件，未变 {quarter} 件" in again.output
    assert count("SELECT count(*) FROM cases") == ledger.importable + quarter
    round_trip = export_csv(
        client, db.session.get(type(world["outsider"]), twin_official), TWIN_COUNTY
    )
    assert round_trip == exported


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


GB_LEDGER = (
    "登记日期,编号,纠纷类型,所属村,当事人姓名,联系电话,调解结果,办结日期,回访情况,简要情况\n"
    "2024年3月2日,GB-1,邻里纠纷,东村,王五,13912345678,调解成功,2024-3-9,满意,"
    "王五（电话 13912345678）与邻居因排水沟争执\n"
    "2024/03/05,GB-2,劳资,无名村,赵六,13912345679,,,,\n"
)


def test_the_admin_page_maps_dry_runs_applies_in_the_background_and_shows_approximate(
    app, client, world
):
    """Upload a GB18030 CSV: the dry run lists the bad row; a mapping saved as a template;
    apply queues a job whose progress the status endpoint tells; the case is at 东村's
    representative point, marked approximate on its page and in the map layer."""
    admin = world["admin@county"]
    login(client, admin.username)
    page = client.get("/admin/imports")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    refused = client.post(
        "/admin/imports",
        data={"csrf_token": token, "county": COUNTY},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "请选择" in refused.get_data(as_text=True)
    upload = client.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "county": COUNTY,
            "file": (io.BytesIO(GB_LEDGER.encode("gb18030")), "ledger.csv"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302, upload.get_data(as_text=True)[:2000]
    import_id = db.session.scalar(select(LedgerImport.id))
    assert count("SELECT count(*) FROM cases") == 0
    status = client.get(f"/admin/imports/{import_id}/status").get_json()
    assert status["state"] == "dry_run_done" and status["problem_rows"] == 1
    assert status["problems"][0]["row"] == 3 and status["problems"][0]["column"] == "所属村"

    shown = client.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    assert "无名村" in shown and "导入没有问题的行" in shown
    mapping = {f"map:{h}": f for h, f in db.session.get(LedgerImport, import_id).mapping.items()}
    mapping["map:回访情况"] = ""  # not imported, then saved as a template
    saved = client.post(
        f"/admin/imports/{import_id}/mapping",
        data={"csrf_token": token, "template_name": "示范县旧台账", **mapping},
    )
    assert saved.status_code == 302
    template = db.session.scalar(select(LedgerTemplate))
    assert template.name == "示范县旧台账" and "回访情况" not in template.mapping

    queued = client.post(f"/admin/imports/{import_id}/apply", data={"csrf_token": token})
    assert queued.status_code == 302
    assert client.get(f"/admin/imports/{import_id}/status").get_json()["state"] == "queued"
    assert jobs.run_import(import_id) == "applied"
    status = client.get(f"/admin/imports/{import_id}/status").get_json()
    assert (status["state"], status["created"], status["progress"]) == ("applied", 1, 100)
    case = db.session.scalar(select(Case).where(Case.external_number == "GB-1"))
    assert case.location_approximate and case.state == "closed" and case.category == "邻里"
    assert count("SELECT count(*) FROM follow_ups") == 0
    number = case.number
    # The bulk load masks a phone typed into the text like any write; the clear text is kept
    # encrypted for the audited reveal (docs/privacy.md).
    assert case.description == "王五（电话 139****5678）与邻居因排水沟争执"
    assert [o["text"] for o in freetext.originals(case.id)] == [
        "王五（电话 13912345678）与邻居因排水沟争执"
    ]

    reader = app.test_client()
    login(reader, world["official@county"].username)
    assert "位置为村代表点（近似）" in reader.get(f"/cases/{number}").get_data(as_text=True)
    layer = client.get(
        "/api/v1/cases.geojson",
        query_string={"state": "closed"},
        headers=bearer(world["official@county"]),
    )
    assert layer.status_code == 200, layer.get_data(as_text=True)[:300]
    props = [f["properties"] for f in layer.get_json()["features"]]
    assert [p["location_approximate"] for p in props if p["number"] == number] == [True]


def test_a_large_file_is_checked_in_the_background(app, client, world, monkeypatch):
    """Past the inline size the upload only queues the dry run: the page says it is checking,
    nothing is listed yet; the job lists the problems and the page can then apply."""
    monkeypatch.setattr(import_pages, "INLINE_CHECK_BYTES", 0)
    admin = world["admin@county"]
    login(client, admin.username)
    token = csrf_from(client.get("/admin/imports").get_data(as_text=True))
    upload = client.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "county": COUNTY,
            "file": (io.BytesIO(GB_LEDGER.encode("gb18030")), "ledger.csv"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    import_id = db.session.scalar(select(LedgerImport.id))
    status = client.get(f"/admin/imports/{import_id}/status").get_json()
    assert (status["state"], status["problem_rows"], status["problems"]) == ("checking", 0, [])
    page = client.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    assert "检查中" in page and "导入没有问题的行" not in page
    assert count("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'imports.check'") == 1

    assert jobs.run_check(import_id) == "dry_run_done"
    status = client.get(f"/admin/imports/{import_id}/status").get_json()
    assert status["problem_rows"] == 1 and status["problems"][0]["column"] == "所属村"
    assert "导入没有问题的行" in client.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    assert count("SELECT count(*) FROM cases") == 0
