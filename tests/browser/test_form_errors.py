"""Script-driven forms say what was wrong as the server-rendered ones do: each field's message
beside its field (aria-invalid, described by the message), by its label, in the page's
language, with a summary at the top linking to the fields; what was typed stays. Also for a
report the outbox kept offline and the server refused later, once it is opened again."""

from __future__ import annotations

import pytest

from app import pii
from tests.browser.conftest import PHONE
from tests.browser.test_journeys import cases_titled

MESSAGES = {
    "zh": {
        "required": "必填",
        "long": "长度应为 1 到 5000",
        "id": "身份证号无效：校验位不符（GB 11643）",
        "notes": "立案时必填：请填写排查情况",
        "party": "当事人 1：身份证号",
        "title": "标题",
    },
    "en": {
        "required": "required",
        "long": "length must be 1 to 5000",
        "id": "The ID number is not valid: its check digit is wrong (GB 11643)",
        "notes": "required to open a case: fill in the findings",
        "party": "Party 1: ID number",
        "title": "Title",
    },
}
LONG = "长" * 5001


def bad_id_number() -> str:
    """18 characters whose check digit is wrong."""
    head = "11010119900307001"
    return next(head + c for c in "0123456789X" if not pii.id_number_valid(head + c))


def good_id_number() -> str:
    """18 characters whose check digit is right."""
    head = "11010119900307001"
    return next(head + c for c in "0123456789X" if pii.id_number_valid(head + c))


def open_report(page, base: str, lang: str) -> None:
    page.goto(f"{base}/language/{lang}")
    page.goto(f"{base}/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    page.locator("#report-map").tap()
    page.wait_for_selector("#placed.ok")
    page.select_option("#kind", "dispute")
    page.select_option("#category", "邻里")


def message_beside(page, control: str) -> str:
    """The message describing a control (which is marked invalid), from beside it."""
    assert page.get_attribute(control, "aria-invalid") == "true", control
    described = page.get_attribute(control, "aria-describedby").split()
    ident = next(i for i in described if i.startswith("err-"))
    # Beside the field: the message follows the control's label.
    assert page.evaluate(
        "([c, i]) => document.querySelector(c).closest('label').nextElementSibling.id === i",
        [control, ident],
    ), control
    return page.text_content(f"#{ident}")


def summary_links(page, summary: str) -> list[str]:
    return page.eval_on_selector_all(f"{summary} a", "links => links.map(a => a.hash)")


def too_long_with_a_party(page, title: str, id_number: str) -> None:
    """A description past the API's limit (the page's maxlength removed: only the API checks
    it) and a party with the given ID number (the page checks its check digit itself)."""
    page.fill("#title", title)
    page.eval_on_selector("#description", "t => t.removeAttribute('maxlength')")
    page.fill("#description", LONG)
    page.click("#add-party")
    page.fill("#parties [data-name=name]", "王五")
    page.fill("#parties [data-name=id_number]", id_number)


PARTY_ID = "#parties .party-form [data-name=id_number]"


def check_bad_id_refused_beside_it(page, lang: str) -> None:
    """The page's own check (app/static/js/checks.js): the party's bad ID number, in the API's
    words, beside the field and in the summary; nothing sent or queued."""
    said = MESSAGES[lang]
    page.wait_for_selector(f"{PARTY_ID}[aria-invalid=true]")
    assert message_beside(page, PARTY_ID) == said["id"]
    summary = page.text_content("#form-error")
    assert said["party"] in summary and "parties" not in summary and "id_number" not in summary
    assert summary_links(page, "#form-error") == [f"#{page.get_attribute(PARTY_ID, 'id')}"]


def check_report_errors(page, lang: str, title: str) -> None:
    """The API's 422 for the description, beside it; what was typed is still there."""
    said = MESSAGES[lang]
    assert message_beside(page, "#description") == said["long"]
    assert page.get_attribute(PARTY_ID, "aria-invalid") is None
    assert summary_links(page, "#form-error") == ["#description"]
    assert page.input_value("#title") == title
    assert page.input_value("#description") == LONG
    assert page.input_value("#parties [data-name=name]") == "王五"
    assert page.input_value("#parties [data-name=id_number]") == good_id_number()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_report_says_each_field_beside_it(open_as, live_server, lang):
    """A missing title (the page's own check), then a too-long description and a party's bad
    ID number (the API's 422): each message beside its field, in the page's language."""
    base, database = live_server
    said = MESSAGES[lang]
    page = open_as("cun_wangge", PHONE)
    open_report(page, base, lang)
    page.fill("#description", "院墙排水")
    page.click("#submit-report")
    page.wait_for_selector("#form-error:not([hidden])")
    assert message_beside(page, "#title") == said["required"]
    assert summary_links(page, "#form-error") == ["#title"]
    assert said["title"] in page.text_content("#form-error")

    title = f"字段错误（浏览器测试 {lang}）"
    too_long_with_a_party(page, title, bad_id_number())
    page.click("#submit-report")
    check_bad_id_refused_beside_it(page, lang)
    assert page.evaluate("Outbox.all().then(items => items.length)") == 0
    page.fill("#parties [data-name=id_number]", good_id_number())
    page.click("#submit-report")
    page.wait_for_selector("#err-description")
    assert page.get_attribute("#title", "aria-invalid") is None  # fixed: its message is gone
    check_report_errors(page, lang, title)
    assert cases_titled(database, title) == []


def test_an_offline_report_refused_later_opens_with_its_messages(open_as, live_server):
    """Queued offline, refused (422) when the network returns: the stored report says why in
    people's words, and opened again it is back in the form with each message beside it."""
    base, database = live_server
    page = open_as("cun_wangge", PHONE)
    open_report(page, base, "zh")
    title = "离线后被拒（浏览器测试）"
    too_long_with_a_party(page, title, good_id_number())
    page.context.set_offline(True)
    page.click("#submit-report")
    page.wait_for_selector("#outbox-list li.pending")
    page.context.set_offline(False)
    page.evaluate("Outbox.flush()")
    page.wait_for_selector("#outbox-list li.failed", timeout=20000)
    page.reload()
    page.wait_for_selector("#report-map[data-ready=true]")
    item = page.locator("#outbox-list li.failed", has_text=title)
    listed = item.text_content()
    assert "描述：长度应为 1 到 5000" in listed
    assert "description" not in listed and "Length" not in listed
    item.locator("button.open-report").click()
    page.wait_for_selector("#err-description")
    check_report_errors(page, "zh", title)
    assert cases_titled(database, title) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_inspection_without_notes_says_so_beside_the_notes(open_as, live_server, lang):
    """An abnormal inspection opening a case without notes: the message beside 排查情况."""
    base, _ = live_server
    page = open_as("cun_wangge", PHONE)
    page.goto(f"{base}/language/{lang}")
    page.goto(f"{base}/inspections")
    form = page.locator("form.inspect-form").first
    form_id = form.get_attribute("id")
    form.locator("input[name=result][value=abnormal]").check()
    form.locator("input[name=open_case]").check()
    form.locator("input[name=title]").fill("排查未填情况（浏览器测试）")
    form.locator("button[type=submit]").click()
    notes = f"#{form_id} textarea[name=notes]"
    page.wait_for_selector(f"{notes}[aria-invalid=true]")
    assert message_beside(page, notes) == MESSAGES[lang]["notes"]
    notes_id = page.get_attribute(notes, "id")
    assert summary_links(page, f"#{form_id} .form-summary") == [f"#{notes_id}"]
    summary = page.text_content(f"#{form_id} .form-summary")
    assert "notes" not in summary and "description" not in summary
    assert form.locator("input[name=title]").input_value() == "排查未填情况（浏览器测试）"
    assert form.locator("input[name=open_case]").is_checked()
