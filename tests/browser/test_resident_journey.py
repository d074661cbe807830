"""Issue 15's "done when" in the browser, on a 360-pixel phone: a resident self-reports (随手拍)
with a confirmed phone and a photo, the cell's grid worker verifies it, the resident's progress
page follows the case as the village mediator accepts and resolves it, the resident rates it
不满意 and the village official's inbox shows it.

The resident has no account (an anonymous browser context). The confirmation code is read from
the queued text message (sms_messages: residents' texts have no user); the database is read
directly.
"""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.browser.conftest import DESKTOP
from tests.browser.conftest import PHONE
from tests.browser.server import submitted
from tests.browser.test_dispatch_journeys import act
from tests.browser.test_dispatch_journeys import open_case
from tests.browser.test_dispatch_journeys import sql  # noqa: F401 (the fixture)

CELL = "371699101200001"  # cun_wangge's first cell (demo county)
MOBILE = "13905391577"
DESCRIPTION = "村口小桥旁有人私搭彩钢棚，占了半边路（随手拍浏览器测试）"
NOTE = "内部记录：联系村委会主任督促当事人三日内拆除"
OUTCOME = "彩钢棚已拆除，道路恢复通行。"
COMMENT = "拆了又搭起来了，问题没解决"


def photo() -> bytes:
    """A small real PNG (the upload is checked by its content)."""
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (90, 140, 200)).save(out, format="PNG")
    return out.getvalue()


def fits_phone(page) -> None:
    """No sideways scrolling on a 360-pixel screen."""
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def look_up(page, base: str, number: str, code: str) -> str:
    """Open the progress page of the number (the QR code's target), type the code; the stage."""
    page.goto(f"{base}/q/{number}")
    page.fill("#lookup-form input[name=code]", code)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#result")
    fits_phone(page)
    return page.text_content("#result [data-stage]").strip()


def test_resident_reports_follows_and_rates(open_as, open_public, live_server, sql):  # noqa: F811
    """随手拍 → 核实立案 → 已受理 → 已办结 with the public text → 不满意 → the inbox."""
    base, _ = live_server

    # 1. The resident reports on the phone: code by SMS, a point in the cell, a photo.
    resident = open_public(PHONE)
    resident.goto(f"{base}/report/public")
    resident.wait_for_selector("#selfreport-map[data-ready=true]")
    fits_phone(resident)
    resident.fill("#phone", MOBILE)
    resident.click("#send-code")
    resident.wait_for_selector("#code-status >> text=验证码已发送")
    (sms,) = sql(
        "SELECT text FROM sms_messages WHERE phone = :p AND user_id IS NULL"
        " AND text LIKE '%验证码%' ORDER BY id DESC LIMIT 1",
        p=MOBILE,
    )
    resident.fill("#code", re.search(r"验证码是 (\d{6})", sms[0]).group(1))

    lat, lon = sql(
        "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cells"
        " WHERE code = :c) s",
        c=CELL,
    )[0]
    resident.locator("#selfreport-map").scroll_into_view_if_needed()
    # The resident zooms to the place, then taps it.
    x, y = resident.evaluate(
        """([lat, lon]) => {
          const map = window.GridGovMaps.report.map;
          map.setView([lat, lon], 17, {animate: false});
          const p = map.latLngToContainerPoint([lat, lon]);
          const box = map.getContainer().getBoundingClientRect();
          return [box.left + p.x, box.top + p.y];
        }""",
        [lat, lon],
    )
    resident.touchscreen.tap(x, y)
    resident.wait_for_selector("#placed >> text=已选位置")
    resident.select_option("#category", "乱占乱建")
    resident.fill("#description", DESCRIPTION)
    resident.set_input_files(
        "#photos", files=[{"name": "shed.png", "mimeType": "image/png", "buffer": photo()}]
    )
    resident.click("#submit-selfreport")
    resident.wait_for_selector("#receipt:not([hidden])")
    fits_phone(resident)
    number = resident.text_content("#receipt-number").strip()
    code = resident.text_content("#receipt-code").strip()
    assert re.fullmatch(r"SP371699\d{10}", number)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{10}", code)
    assert sql(
        "SELECT r.state, g.code, (SELECT count(*) FROM self_report_photos p"
        " WHERE p.self_report_id = r.id) FROM self_reports r"
        " JOIN grid_cells g ON g.id = r.grid_cell_id WHERE r.number = :n",
        n=number,
    ) == [("pending", CELL, 1)]
    assert resident.get_attribute("#receipt-link", "href").endswith(f"/q/{number}")
    assert look_up(resident, base, number, code) == "待核实"

    # 2. The cell's grid worker finds it in 我的待办 and verifies it: it becomes a case.
    worker = open_as("cun_wangge", PHONE)
    worker.goto(f"{base}/tasks")
    worker.click(f"tr[data-task='self_report:verify'] a[href='/self-reports/{number}']")
    worker.wait_for_url(f"{base}/self-reports/{number}")
    assert DESCRIPTION in worker.text_content("main")
    worker.wait_for_selector("img.photo")
    submitted(worker, "button:has-text('核实并立案')")
    ((case_number, kind, state),) = sql(
        "SELECT c.number, c.kind, c.state FROM self_reports r JOIN cases c ON c.id = r.case_id"
        " WHERE r.number = :n AND r.state = 'verified'",
        n=number,
    )
    assert (kind, state) == ("incident", "reported")
    assert look_up(resident, base, number, code) == "已登记"

    # 3. The village mediator accepts, then resolves with the text meant for the public.
    mediator = open_as("cun_tiaojie", DESKTOP)
    open_case(mediator, base, case_number)
    act(mediator, "accept")
    assert look_up(resident, base, number, code) == "已受理"

    def resolve(form):
        form.locator("select[name=outcome]").select_option("handled")
        form.locator("textarea[name=note]").fill(NOTE)
        form.locator("textarea[name=public_outcome]").fill(OUTCOME)

    act(mediator, "resolve", resolve)
    assert look_up(resident, base, number, code) == "已办结"
    shown = resident.text_content("main")
    assert OUTCOME in shown
    assert "村级" in resident.text_content("#result")  # the unit: the village
    staff = [name for (name,) in sql("SELECT display_name FROM users")]
    leaks = [NOTE, MOBILE, MOBILE[-4:], "随手拍群众", *staff]
    assert [text for text in leaks if text in shown] == []

    # 4. The resident rates 不满意 with a comment; the village official is told.
    form = resident.locator("#rating-form")
    form.locator("input[name=rating][value=dissatisfied]").check()
    form.locator("textarea[name=comment]").fill(COMMENT)
    submitted(resident, form.locator("button[type=submit]"))
    fits_phone(resident)
    assert resident.locator("#rating-form").count() == 0
    assert sql(
        "SELECT r.rating, r.comment FROM resident_ratings r JOIN cases c ON c.id = r.case_id"
        " WHERE c.number = :n",
        n=case_number,
    ) == [("dissatisfied", COMMENT)]

    official = open_as("cun_ganbu", PHONE)
    official.goto(f"{base}/notifications")
    told = official.locator("#notification-list li", has_text=case_number).filter(
        has_text="群众评价不满意"
    )
    assert told.count() == 1
    assert COMMENT in told.text_content()
