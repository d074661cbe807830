"""节假日安排: the admin enters next year's official schedule in the browser."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core import clock
from app.deadlines import years as holiday_years
from app.deadlines.models import HolidayYear
from app.extensions import db
from app.web.holidays import as_text
from app.web.holidays import parse_dates
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login

# A plausible 2027 entry: New Year, a Spring Festival block with two make-up Saturdays/Sundays.
ENTRY = {
    "year": "2027",
    "holidays": "2027-01-01\n2027-02-06 ~ 2027-02-13\n2027-10-01~2027-10-07",
    "workdays": "2027-01-31, 2027-02-20",
    "notice": "国办发明电〔2026〕测试号",
}


@pytest.fixture
def admin(client, world, monkeypatch):
    """The county admin, signed in, on 26 November 2026 (2027 not yet covered)."""
    monkeypatch.setattr(clock, "today", lambda: dt.date(2026, 11, 26))
    assert login(client, world["admin@county"].username).status_code == 302
    return client


def entries() -> int:
    return db.session.scalar(select(func.count()).select_from(HolidayYear))


def test_page_lists_the_years_and_says_which_is_missing(admin):
    """The bundled years are listed; 2027 is missing and offered in the form."""
    html = admin.get("/admin/holidays").get_data(as_text=True)
    assert "2026" in html and "内置" in html
    assert "尚未录入 2027 年的放假安排" in html
    assert 'name="year" type="number" min="2000" max="2100" value="2027"' in html


def test_entering_a_year_saves_audits_and_counts_the_next_deadline(admin):
    """The schedule is stored with ranges expanded, audited, and used by the clocks at once."""
    page = admin.get("/admin/holidays").get_data(as_text=True)
    response = admin.post("/admin/holidays", data={**ENTRY, "csrf_token": csrf_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)
    row = db.session.get(HolidayYear, 2027)
    assert len(row.holidays) == 1 + 8 + 7 and dt.date(2027, 2, 10) in row.holidays
    assert row.workdays == [dt.date(2027, 1, 31), dt.date(2027, 2, 20)]
    assert row.notice == ENTRY["notice"]
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "deadlines.holidays"))
    assert audit is not None and audit.object_id == "2027"
    shown = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存 2027 年节假日安排：放假 16 天、调休上班 2 天" in shown
    assert "尚未录入 2027" not in shown
    # The calendar the clocks use now knows 2027: 10 February is a day off.
    assert holiday_years.calendar().is_day_off(dt.date(2027, 2, 10))
    assert not holiday_years.calendar().is_day_off(dt.date(2027, 2, 20))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("holidays", "2027-02-30", "放假日期：2027-02-30 不是日期"),
        ("holidays", "2028-01-01", "2028-01-01 不在 2027 年内"),
        ("workdays", "2027-02-08", "本是工作日，不能列为调休上班日"),
        ("workdays", "2027-02-06", "不能既是放假日又是调休上班日"),
        ("holidays", "2027-03-01~2027-02-01", "不是 31 天以内的日期区间"),
        ("year", "二〇二七", "年份：请填写四位数字年份"),
        ("holidays", "", "放假日期：至少填写一天"),
    ],
)
def test_a_wrong_schedule_is_refused_with_the_reason_and_writes_nothing(
    admin, field, value, message
):
    """Each mistake is named on the form (kept as typed); nothing is stored or audited."""
    page = admin.get("/admin/holidays").get_data(as_text=True)
    response = admin.post(
        "/admin/holidays", data={**ENTRY, field: value, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "未保存" in html
    assert entries() == 0
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "deadlines.holidays"))
        is None
    )


def test_correcting_a_year_shows_its_dates_folded_into_ranges(admin):
    """?year= fills the form with the stored dates, consecutive days as ranges."""
    page = admin.get("/admin/holidays").get_data(as_text=True)
    admin.post("/admin/holidays", data={**ENTRY, "csrf_token": csrf_from(page)})
    html = admin.get("/admin/holidays?year=2027").get_data(as_text=True)
    assert "2027-02-06~2027-02-13" in html and "2027-01-31\n2027-02-20" in html


def test_only_admins_reach_the_page(client, world):
    """A mediator is refused (403) and nothing is stored."""
    assert login(client, world["mediator@county"].username).status_code == 302
    assert client.get("/admin/holidays").status_code == 403
    assert entries() == 0


def test_date_text_parsing_and_folding():
    """Separators, padding and ranges; folding gives the ranges back."""
    dates, errors = parse_dates("2027-1-1，2027-02-06 至 2027-02-08、2027-10-01")
    assert errors == []
    assert dates == [
        dt.date(2027, 1, 1),
        dt.date(2027, 2, 6),
        dt.date(2027, 2, 7),
        dt.date(2027, 2, 8),
        dt.date(2027, 10, 1),
    ]
    assert as_text(dates) == "2027-01-01\n2027-02-06~2027-02-08\n2027-10-01"
