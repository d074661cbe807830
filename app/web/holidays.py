"""The admin's holiday calendar page (节假日安排): which years the deadline clocks know, and a form
to enter a year's official schedule when the State Council publishes it (usually in November or
December for the next year). It calls the same service as PUT /api/v1/holiday-years/<year>.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core import clock
from app.core.errors import DomainError
from app.deadlines import years as holiday_years
from app.policy import requires
from app.web.admin import bp
from app.web.forms import NO_FAILURE
from app.web.forms import Failure

DATE = r"\d{4}-\d{1,2}-\d{1,2}"
RANGE = re.compile(rf"^({DATE})\s*(?:~|～|\.\.|至|到)\s*({DATE})$")
SEPARATORS = re.compile(r"[\s,，、;；]+")
# An entry like "2027-02-06 ~ 2027-02-12" may be typed with spaces around the dash.
RANGE_SPACES = re.compile(r"\s*(~|～|\.\.|至|到)\s*")


def parse_dates(text: str) -> tuple[list[dt.date], list[str]]:
    """Dates and ranges (`2027-02-06~2027-02-12`) separated by spaces, commas or new lines;
    the messages (beside the field) for what is not one."""
    dates: list[dt.date] = []
    errors: list[str] = []
    for token in SEPARATORS.split(RANGE_SPACES.sub(r"\1", text.strip())):
        if not token:
            continue
        span = RANGE.match(token)
        try:
            if span:
                first, last = (dt.date.fromisoformat(_pad(part)) for part in span.groups())
                if last < first or (last - first).days > 31:
                    errors.append(_("%(value)s 不是 31 天以内的日期区间", value=token))
                    continue
                dates += [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
            else:
                dates.append(dt.date.fromisoformat(_pad(token)))
        except ValueError:
            errors.append(
                _("%(value)s 不是日期（应为 YYYY-MM-DD 或 YYYY-MM-DD~YYYY-MM-DD）", value=token)
            )
    return dates, errors


def _pad(value: str) -> str:
    """2027-2-6 → 2027-02-06."""
    year, month, day = value.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


def as_text(days) -> str:
    """Dates for the form, consecutive days folded into ranges."""
    days = sorted(dt.date.fromisoformat(str(d)) for d in days)
    runs: list[list[dt.date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return "\n".join(
        r[0].isoformat() if len(r) == 1 else f"{r[0].isoformat()}~{r[-1].isoformat()}" for r in runs
    )


def field_names() -> dict[str, str]:
    """Display names of the form's fields."""
    return {
        "year": _("年份"),
        "holidays": _("放假日期"),
        "workdays": _("调休上班日期"),
        "notice": _("通知文号"),
    }


def missing_years(years: list[dict]) -> list[int]:
    """This year and the next, if the calendar does not know them yet."""
    covered = {y["year"] for y in years}
    today = clock.today()
    return [y for y in (today.year, today.year + 1) if y not in covered]


def render_holidays(form: dict, status: int = 200, failed: Failure = NO_FAILURE):
    """The page: the years covered, those missing, and the form (`failed` as typed)."""
    years = holiday_years.holiday_years()
    missing = [] if failed else missing_years(years)
    page = render_template(
        "admin/holidays.html", years=years, missing=missing, form=form, failed=failed
    )
    return page, status


@bp.route("/holidays")
@requires("deadlines.manage")
def holidays():
    """The years the calendar covers, and the form for a year (?year= to correct one)."""
    years = holiday_years.holiday_years()
    missing, today = missing_years(years), clock.today()
    wanted = request.args.get("year", type=int) or (missing[0] if missing else today.year + 1)
    current = next((y for y in years if y["year"] == wanted), None)
    form = {
        "year": wanted,
        "holidays": as_text(current["holidays"]) if current else "",
        "workdays": as_text(current["workdays"]) if current else "",
        "notice": (current or {}).get("notice") or "",
    }
    return render_holidays(form)


def service_field(message: str, workdays: list[dt.date], holidays: list[dt.date]) -> str:
    """Which field a calendar check's message is about: the date it starts with decides."""
    head = message.split(" ", 1)[0]
    try:
        day = dt.date.fromisoformat(head)
    except ValueError:
        return "holidays"
    return "workdays" if day in workdays and day not in holidays else "holidays"


@bp.route("/holidays", methods=["POST"])
@requires("deadlines.manage")
def save_holidays():
    """Enter or correct a year (as PUT /api/v1/holiday-years/<year> does); nothing on errors."""
    form = {k: request.form.get(k, "").strip() for k in ("year", "holidays", "workdays", "notice")}
    errors: dict[str, list[str]] = {}
    year = int(form["year"]) if form["year"].isdigit() else None
    if year is None:
        errors["year"] = [_("请填写四位数字年份")]
    holiday_list, bad = parse_dates(form["holidays"])
    if bad:
        errors["holidays"] = bad
    workday_list, bad_workdays = parse_dates(form["workdays"])
    if bad_workdays:
        errors["workdays"] = bad_workdays
    if not holiday_list and not bad:
        errors["holidays"] = [_("至少填写一天")]
    if len(form["notice"]) > 200:
        errors["notice"] = [_("不超过 200 字")]
    message = ""
    if not errors:
        try:
            _row, check = holiday_years.save_holiday_year(
                year, holiday_list, workday_list, form["notice"] or None, current_user
            )
        except DomainError as exc:
            message = exc.message
            detail = exc.errors.get("json", {}).get("holidays", [])
            for text in detail:
                name = service_field(str(text), workday_list, holiday_list)
                errors.setdefault(name, []).append(text)
            if exc.errors.get("path", {}).get("year"):
                errors["year"] = [_("应在 2000–2100 之间")]
                message = ""
        else:
            flash(
                _(
                    "已保存 %(year)s 年节假日安排：放假 %(h)s 天、调休上班 %(w)s 天",
                    year=year,
                    h=len(check.holidays),
                    w=len(check.workdays),
                ),
                "success",
            )
            for warning in check.warnings:
                flash(warning, "warning")
            return redirect(url_for("admin.holidays", year=year))
    failed = Failure.of(
        "year",
        lambda reason: _("未保存：%(reason)s", reason=reason),
        field_names(),
        errors=errors,
        message=message,
    )
    return render_holidays(form, 422, failed)
