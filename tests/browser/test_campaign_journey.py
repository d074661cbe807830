"""Issue 16 item 2 in the browser: the town's official launches a 专项排查 over 黄河镇, the grid
worker records a finding on the phone from their task list, and the official sees the progress
on the map and the table and downloads the ledger.

The database is read directly; the demo county's seed provides the accounts and the cells.
"""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from tests.browser.conftest import PHONE
from tests.browser.server import submitted
from tests.browser.test_dispatch_journeys import sql  # noqa: F401 (the fixture)

TOWN = "371699101000"
TITLE = "年前欠薪专项排查（浏览器）"


def test_campaign_runs_from_launch_to_ledger(open_as, live_server, sql):  # noqa: F811
    """Launch → a task in the worker's list → finding recorded → progress and ledger."""
    base, _ = live_server
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()

    official = open_as("zhen_ganbu")
    official.goto(f"{base}/campaigns")
    form = official.locator("#launch-form")
    form.locator("input[name=title]").fill(TITLE)
    form.locator("select[name=region]").select_option(TOWN)
    form.locator("input[name=category]").fill("欠薪")
    form.locator("textarea[name=checklist]").fill("是否拖欠农民工工资\n是否签订劳动合同")
    form.locator("input[name=deadline]").fill((today + dt.timedelta(days=7)).isoformat())
    submitted(official, form.locator("button[type=submit]"))
    campaign_id = int(official.url.rstrip("/").split("/")[-1])
    total = sql("SELECT count(*) FROM campaign_tasks WHERE campaign_id = :c", c=campaign_id)[0][0]
    cells = sql("SELECT count(*) FROM grid_cells WHERE code LIKE '371699101%'")[0][0]
    assert total == cells > 0
    official.wait_for_selector(f'#campaign-map[data-loaded="{total}"]')

    worker = open_as("cun_wangge", PHONE)
    worker.goto(f"{base}/tasks")
    task_ids = [
        row[0]
        for row in sql(
            "SELECT t.id FROM campaign_tasks t"
            " JOIN user_grid_cells ug ON ug.grid_cell_id = t.cell_id"
            " JOIN users u ON u.id = ug.user_id WHERE u.username = 'cun_wangge'"
            " AND t.campaign_id = :c ORDER BY t.id",
            c=campaign_id,
        )
    ]
    link = worker.locator(f'a[href="/campaign-tasks/{task_ids[0]}"]')
    link.click()
    worker.wait_for_selector("#finding-form")
    worker.check("input[name=a-0][value=no]")
    worker.check("input[name=a-1][value=yes]")
    worker.check("input[name=result][value=none]")
    worker.fill("textarea[name=note]", "走访工地，工资已按月发放")
    submitted(worker, "#finding-form button[type=submit]")
    assert worker.get_attribute("#task-state", "data-state") == "done"
    assert sql("SELECT result FROM campaign_findings WHERE task_id = :t", t=task_ids[0]) == [
        ("none",)
    ]

    official.goto(f"{base}/campaigns/{campaign_id}")
    assert official.get_attribute("#campaign-progress", "data-done") == "1"
    assert official.locator('#by-cell tr[data-state="done"]').count() == 1
    with official.expect_download() as download:
        official.click("#ledger-link")
    assert download.value.suggested_filename.endswith(".xlsx")
    # The download's temporary file has no extension: openpyxl reads it from memory.
    with open(download.value.path(), "rb") as saved:
        workbook = load_workbook(io.BytesIO(saved.read()))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:6] == ("镇", "村", "网格", "网格员", "完成时间", "发现")
    found = [r for r in rows[1:] if r[5] == "未发现问题"]
    assert len(found) == 1 and found[0][8] == "走访工地，工资已按月发放"
    assert len(rows) - 1 == total
