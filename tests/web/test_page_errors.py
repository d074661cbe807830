"""Every page's forms, submitted empty and with invalid values, in Chinese and English: the
answers speak to people (no JSON, code names, table names, section references or version
numbers), each field's message is beside its field, and what was typed is still there."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from app.deadlines.models import DeadlinePolicy
from app.extensions import db
from app.risks.models import RiskCategory
from app.web import labels
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.geo.factories import VILLAGE
from tests.risks.factories import make_point
from tests.web.test_pages import action
from tests.web.test_pages import reported


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


CATALOGUE = Path(__file__).resolve().parents[2] / "app/translations/en/LC_MESSAGES/messages.po"
VOID = {"input", "br", "meta", "link", "img", "hr", "source", "area", "base", "col", "wbr"}
LONG_TEXT = "长" * 6001  # longer than any text field takes

# --- a small HTML tree (the standard library's parser) --------------------------------------------


@dataclass
class Node:
    """An element: tag, attributes, children (elements and text), parent."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list = field(default_factory=list)

    def walk(self):
        """This element and every element inside it."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def text(self, skip=("script", "style", "textarea")) -> list[str]:
        """The visible text inside (a list of text pieces)."""
        pieces = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag not in skip:
                    pieces += child.text(skip)
            elif child.strip():
                pieces.append(child.strip())
        return pieces

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class TreeBuilder(HTMLParser):
    """HTML → Node tree (lenient: an end tag closes up to its element)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    return builder.root


# --- what must never be shown --------------------------------------------------------------------


def table_names() -> set[str]:
    return set(db.metadata.tables)


def codes() -> set[str]:
    """Every code the labels translate (states, actions, clocks, levels, ...), ASCII only."""
    return {code for table in labels.TABLES.values() for code in table if code.isascii()}


def translated_msgids() -> set[str]:
    """Chinese messages that have an English translation (whole messages, no placeholders)."""
    with CATALOGUE.open("rb") as f:
        return {
            m.id
            for m in read_po(f)
            if m.id
            and m.string
            and m.string != m.id
            and "%(" not in m.id
            and re.search(r"[\u4e00-\u9fff]", m.id)
        }


ENGLISH_PHRASES = re.compile(
    r"Missing data|Not a valid|Must be|Length must|Shorter than|Longer than|Field may not"
    r"|Unknown field|Invalid value"
)
JSON_LIKE = re.compile(r"""\{\s*["']|\[\s*["']""")
SECTIONS = re.compile(r"DOMAIN\s*(§|第)|§\s*\d")
VERSIONS = re.compile(r"第\s*\d+\s*版|\bversion\s+\d+", re.I)


def word(name: str) -> re.Pattern:
    return re.compile(rf"(?<![\w.\-]){re.escape(name)}(?![\w.\-])")


def leaks(html: str, lang: str, input_names: set[str]) -> list[str]:
    """What the page shows that is not for people."""
    root = parse(html)
    main = next((n for n in root.walk() if n.tag == "main"), root)
    pieces = main.text()
    text = "\n".join(pieces)
    found = []
    if JSON_LIKE.search(text):
        found.append(f"JSON: {JSON_LIKE.search(text).group(0)!r}")
    if SECTIONS.search(text):
        found.append(f"section reference: {SECTIONS.search(text).group(0)!r}")
    if VERSIONS.search(text):
        found.append(f"version number: {VERSIONS.search(text).group(0)!r}")
    if lang == "zh" and ENGLISH_PHRASES.search(text):
        found.append(f"English on a Chinese page: {ENGLISH_PHRASES.search(text).group(0)!r}")
    if lang == "en":
        chinese = translated_msgids()
        for piece in pieces:
            if piece in chinese:
                found.append(f"Chinese on an English page: {piece!r}")

    # On English pages, plain English words ("name", "cases") are words: only compound codes.
    def checked(names):
        return {n for n in names if lang == "zh" or "_" in n or "." in n}

    for name in checked(input_names):
        if word(name).search(text):
            found.append(f"field code name: {name!r}")
    for name in checked(table_names()):
        if word(name).search(text):
            found.append(f"table name: {name!r}")
    for name in checked(codes()):
        if len(name) > 2 and word(name).search(text):
            found.append(f"code: {name!r}")
    return found


# --- the forms of a page, and bodies for them ----------------------------------------------------

CONTROLS = {"input", "select", "textarea"}


def forms_of(root: Node, page_url: str) -> list[Node]:
    """The page's server-posted forms that have something to fill in (a form without an
    action posts to its page)."""
    found = []
    for form in root.walk():
        if form.tag != "form" or form.attrs.get("method", "get").lower() != "post":
            continue
        form.attrs["action"] = form.attrs.get("action") or page_url
        if form.attrs.get("action", "").startswith(("/logout", "/language")):
            continue
        visible = [c for c in form.walk() if c.tag in CONTROLS and not hidden(c)]
        if visible:
            found.append(form)
    return found


def hidden(control: Node) -> bool:
    return control.tag == "input" and control.attrs.get("type") == "hidden"


def options(select: Node) -> list[str]:
    return [o.attrs.get("value", "") for o in select.walk() if o.tag == "option"]


def invalid_value(control: Node) -> str | None:
    """A value the form must refuse (None: leave the control out)."""
    kind = control.attrs.get("type", "text") if control.tag == "input" else control.tag
    if kind in ("checkbox", "radio"):
        return None
    if kind == "select":
        values = options(control)
        return values[0] if values else None
    if kind == "number":
        return "0"
    if kind == "date":
        return "2026/13/45"
    if kind == "password":
        return "short"
    if kind == "file":
        return None
    return LONG_TEXT


def body_for(form: Node, variant: str) -> tuple[dict, bool]:
    """(the body to post, whether it is multipart) for the empty or the invalid variant."""
    body: dict = {}
    multipart = form.attrs.get("enctype") == "multipart/form-data"
    for control in form.walk():
        if control.tag not in CONTROLS or not control.attrs.get("name"):
            continue
        name = control.attrs["name"]
        if hidden(control):
            body[name] = control.attrs.get("value", "")
        elif control.tag == "select":
            values = options(control)
            if values:
                body[name] = values[0]  # a browser always sends one
        elif control.attrs.get("type") == "file":
            if variant == "invalid":
                body[name] = (
                    io.BytesIO(b'{"type": "FeatureCollection", "features": [1]}'),
                    "x.json",
                )
        elif variant == "empty":
            if control.attrs.get("type") not in ("checkbox", "radio"):
                body[name] = ""
        else:
            value = invalid_value(control)
            if value is not None:
                body[name] = value
    return body, multipart


def typed_fields(form: Node, body: dict) -> dict[str, str]:
    """The typed values that must come back: text, numbers, dates, text areas (not passwords)."""
    typed = {}
    for control in form.walk():
        name = control.attrs.get("name")
        if control.tag not in ("input", "textarea") or name not in body or hidden(control):
            continue
        if control.attrs.get("type") in ("password", "file", "checkbox", "radio"):
            continue
        typed[name] = body[name]
    return typed


def control_value(root: Node, action_url: str, name: str) -> str | None:
    """The value a re-rendered form's control holds."""
    for form in root.walk():
        if form.tag == "form" and form.attrs.get("action", action_url) == action_url:
            for control in form.walk():
                if control.attrs.get("name") == name and control.tag in ("input", "textarea"):
                    if control.tag == "textarea":
                        return "".join(c for c in control.children if isinstance(c, str))
                    return control.attrs.get("value", "")
    return None


def check_answer(html: str, lang: str, form: Node, body: dict, status: int) -> None:
    """The checks every refused form's answer passes."""
    root = parse(html)
    names = {c.attrs["name"] for c in root.walk() if c.tag in CONTROLS and c.attrs.get("name")}
    assert not leaks(html, lang, names), leaks(html, lang, names)
    alerts = [n for n in root.walk() if n.attrs.get("role") == "alert"]
    assert alerts, "no summary or message at the top"
    generic = {"提交的数据有误", "The data sent is invalid", "Invalid data"}
    assert not any(" ".join(a.text()).strip() in generic for a in alerts), "a generic message"
    by_id = {n.attrs["id"]: n for n in root.walk() if n.attrs.get("id")}
    errors = [n for n in root.walk() if n.tag == "p" and "field-error" in n.classes()]
    for message in errors:
        ident = message.attrs["id"]
        described = [n for n in root.walk() if ident in n.attrs.get("aria-describedby", "").split()]
        assert described, f"nothing is described by {ident}"
        box = next(a for a in message.ancestors() if "field" in a.classes())
        assert any(d is box or box in list(d.ancestors()) for d in described), (
            f"{ident} is not in its field's container"
        )
        assert message.text(), f"{ident} is empty"
    for link in (
        n for n in root.walk() if n.tag == "a" and n.attrs.get("href", "").startswith("#")
    ):
        target = link.attrs["href"][1:]
        if target in ("main",):
            continue
        assert target in by_id, f"the summary links to a missing #{target}"
        assert by_id[target].attrs.get("aria-invalid") == "true", f"#{target} has no error"
    if status == 409:
        return  # someone else changed it: the current values show, not the typed ones
    for name, value in typed_fields(form, body).items():
        shown = control_value(root, form.attrs["action"], name)
        assert shown == value, f"{name} came back as {shown!r}, typed {value!r}"


# --- the pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page with forms, the role that uses it, and how to reach it (made fresh per form)."""

    key: str
    role: str | None
    url: Callable[[SimpleNamespace], str]
    # Forms repeated on the page (one per row): only the first of each is tried.
    first_of: tuple[str, ...] = ()


def fixed(path: str):
    return lambda ctx: path


def a_reported_case(ctx) -> str:
    return f"/cases/{reported(ctx.world).number}"


def an_accepted_case(ctx) -> str:
    number = reported(ctx.world).number
    response = action(ctx.client, number, "accept", {"version": "1"})
    assert response.status_code == 302, response.status_code
    return f"/cases/{number}"


def a_dispute_being_handled(ctx) -> str:
    number = reported(ctx.world).number
    for step, version in (("accept", "1"), ("start", "2")):
        response = action(ctx.client, number, step, {"version": version})
        assert response.status_code == 302, (step, response.status_code)
    return f"/cases/{number}"


def a_risk_point(ctx) -> str:
    return f"/risk-points/{make_point(ctx.world['grid_worker@village'], level='yellow').code}"


def the_user(ctx) -> str:
    return f"/admin/users/{ctx.world['mediator@village'].id}"


PAGES = [
    Page("login", None, fixed("/login")),
    Page("password", "mediator@village", fixed("/account/password")),
    Page("users", "admin@county", fixed("/admin/users")),
    Page("user", "admin@county", the_user),
    Page(
        "deadlines", "admin@county", fixed("/admin/deadlines"), first_of=(r"/admin/deadlines/\d+$",)
    ),
    Page("holidays", "admin@county", fixed("/admin/holidays")),
    Page("regions", "admin@county", fixed("/admin/regions")),
    Page(
        "categories",
        "admin@county",
        fixed("/admin/categories"),
        first_of=(r"/admin/categories/\d+$",),
    ),
    Page("case-reported", "mediator@village", a_reported_case),
    Page("case-accepted", "mediator@village", an_accepted_case),
    Page("case-in-progress", "mediator@village", a_dispute_being_handled),
    Page("case-official", "official@village", an_accepted_case),
    Page("risk-point", "mediator@village", a_risk_point),
    Page("risk-point-official", "official@village", a_risk_point),
]
# Forms that say what was wrong after a redirect (a file cannot come back in its input).
REDIRECTING = ("/admin/regions/import",)


def sign_in(client, world, role: str | None, lang: str) -> None:
    if role:
        assert login(client, world[role].username).status_code == 302
    client.get(f"/language/{lang}")


def selected_forms(root: Node, page: Page, page_url: str) -> list[str]:
    """The actions of the page's forms (only the first of a repeated kind)."""
    seen, chosen = set(), []
    for form in forms_of(root, page_url):
        url = form.attrs["action"]
        kind = next((pattern for pattern in page.first_of if re.match(pattern, url)), url)
        if kind not in seen:
            seen.add(kind)
            chosen.append(url)
    return chosen


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("variant", ["empty", "invalid"])
@pytest.mark.parametrize("page", PAGES, ids=[p.key for p in PAGES])
def test_refused_forms_speak_to_people_beside_each_field(client, world, page, variant, lang):
    """Each form refused: people's words in the page's language, messages by their fields,
    the summary linking to them, the typed values kept; nothing for developers leaks."""
    sign_in(client, world, page.role, lang)
    ctx = SimpleNamespace(world=world, client=client)
    url = page.url(ctx)
    root = parse(client.get(url).get_data(as_text=True))
    actions = selected_forms(root, page, url)
    assert actions, f"no forms on {page.key}"
    for index, form_url in enumerate(actions):
        if index:  # a fresh subject (a success before would have changed it)
            url = page.url(ctx)
            root = parse(client.get(url).get_data(as_text=True))
            form_url = next(
                (
                    f.attrs["action"]
                    for f in forms_of(root, url)
                    if same_kind(f.attrs["action"], form_url)
                ),
                None,
            )
            if form_url is None:
                continue
        form = next(f for f in forms_of(root, url) if f.attrs["action"] == form_url)
        body, multipart = body_for(form, variant)
        response = client.post(
            form_url,
            data=body,
            content_type="multipart/form-data" if multipart else None,
        )
        where = f"{page.key} {form_url} ({variant}, {lang})"
        html = response.get_data(as_text=True)
        if response.status_code in (302, 303):
            required = [c for c in form.walk() if "required" in c.attrs and not hidden(c)]
            assert form_url.startswith(REDIRECTING) or (variant == "empty" and not required), (
                f"{where}: accepted"
            )
            html = client.get(response.headers["Location"]).get_data(as_text=True)
            names = {c.attrs["name"] for c in parse(html).walk() if c.attrs.get("name")}
            assert not leaks(html, lang, names), (where, leaks(html, lang, names))
            continue
        if response.status_code == 200:
            # Only a token's form may succeed on a page (its secret is shown once), and a
            # receipt's (its new query code is shown once, docs/resident.md).
            assert "/tokens" in form_url or form_url.endswith("/receipt"), f"{where}: accepted"
            continue
        assert response.status_code in (401, 409, 422), (where, response.status_code)
        try:
            check_answer(html, lang, form, body, response.status_code)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None


def same_kind(a: str, b: str) -> bool:
    """Two form actions of the same kind on fresh subjects (/cases/N/act/x, /risk-points/...)."""
    return re.sub(r"/(cases|risk-points)/[^/]+/", "/", a) == re.sub(
        r"/(cases|risk-points)/[^/]+/", "/", b
    )


def test_deadline_clock_names_and_no_codes(client, world):
    """期限规则 names each clock for people (复核决定期限), not by its code."""
    sign_in(client, world, "admin@county", "zh")
    html = client.get("/admin/deadlines").get_data(as_text=True)
    assert "复核决定期限" in html and "re_review_decision" not in html
    assert not leaks(html, "zh", set())


def test_a_refused_number_keeps_the_form_and_names_the_field(client, world):
    """days=0 on a deadline: 422, the message beside 天数 says what is allowed, the summary
    links to it, and the row keeps 0 (nothing saved)."""
    sign_in(client, world, "admin@county", "zh")
    page = client.get("/admin/deadlines").get_data(as_text=True)
    policy = db.session.scalars(select(DeadlinePolicy).order_by(DeadlinePolicy.id)).first()
    policy_id, days = policy.id, policy.days
    response = client.post(
        f"/admin/deadlines/{policy_id}",
        data={"csrf_token": csrf_from(page), "days": "0", "unit": "days"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<a href="#policy-{policy_id}-days">' in html
    assert f'id="err-policy-{policy_id}-days">应在 1 到 366 之间</p>' in html
    assert '{"' not in "\n".join(parse(html).text()) and "Must be" not in html
    db.session.expire_all()
    assert db.session.get(DeadlinePolicy, policy_id).days == days


def test_replacing_used_grid_cells_names_what_uses_them(client, world):
    """生成网格 over cells in use: the page says what uses them, never the table's name."""
    reported(world)  # a case in the village's cell
    sign_in(client, world, "admin@county", "zh")
    page = client.get("/admin/regions").get_data(as_text=True)
    response = client.post(
        "/admin/regions/make-grid",
        data={
            "csrf_token": csrf_from(page),
            "village": VILLAGE,
            "shape": "square",
            "cell_size": "500",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "不能替换" in html
    assert not re.search(r"\b(cases|risk_points|user_grid_cells)\b", "\n".join(parse(html).text()))


def test_categories_page_has_no_section_reference(client, world):
    """类别设置 explains the case categories without pointing at DOMAIN §3."""
    sign_in(client, world, "admin@county", "zh")
    assert db.session.scalar(select(RiskCategory.id).limit(1)) is not None
    html = client.get("/admin/categories").get_data(as_text=True)
    assert "DOMAIN" not in html


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("mediator@village", "/cases?warning=purple"),
        ("mediator@village", "/workbench?from=2026/13/45"),
        ("mediator@village", "/workbench?from=2026-05-01&to=2026-01-01"),
    ],
)
def test_refused_filters_answer_a_page_for_people(client, world, role, path, lang):
    """A filter the queue or the workbench cannot take: 400, said in people's words."""
    sign_in(client, world, role, lang)
    response = client.get(path)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert not leaks(html, lang, {"warning", "from", "to", "states", "level", "kind"})


FILTERS = [
    # (page, the filter form's fields as typed, {field: (Chinese message, English message)})
    (
        "/cases",
        {"warning": "purple", "q": "长" * 51, "kind": "dispute"},
        {
            "warning": ("请从列表中选择", "choose one from the list"),
            "q": ("长度应为 1 到 50", "length must be 1 to 50"),
        },
    ),
    (
        "/workbench",
        {"from": "2026-13-01", "to": "2026-02-01"},
        {"from": ("应为日期（年-月-日）", "must be a date (year-month-day)")},
    ),
    (
        "/workbench",
        {"from": "2026-05-01", "to": "2026-01-01", "kind": "petition"},
        {"from": ("不能晚于截止日", "may not be later than the end date")},
    ),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("path", "typed", "expected"), FILTERS)
def test_a_refused_filter_keeps_the_form_and_names_the_filter(
    client, world, path, typed, expected, lang
):
    """The queue or the workbench with a filter it cannot take: the page again (400) with the
    filter form as typed, the message beside each bad filter (aria-invalid, described by it),
    the summary at the top linking to them; nothing listed or measured."""
    sign_in(client, world, "mediator@village", lang)
    response = client.get(path, query_string=typed)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    root = parse(html)
    form_name = "queue" if path == "/cases" else "workbench"
    by_id = {n.attrs["id"]: n for n in root.walk() if n.attrs.get("id")}
    for name, (zh, en) in expected.items():
        ident = f"{form_name}-{name}"
        control = by_id[ident]
        assert control.attrs.get("aria-invalid") == "true"
        assert f"err-{ident}" in control.attrs.get("aria-describedby", "").split()
        message = by_id[f"err-{ident}"]
        assert message.text() == [zh if lang == "zh" else en]
        box = next(a for a in message.ancestors() if "field" in a.classes())
        assert box in list(control.ancestors())
    summary = by_id["form-summary"]
    assert summary.attrs.get("role") == "alert"
    links = [n.attrs["href"] for n in summary.walk() if n.tag == "a"]
    assert links == [f"#{form_name}-{name}" for name in expected]
    for name, value in typed.items():
        control = next(n for n in root.walk() if n.attrs.get("name") == name)
        if control.tag == "select":
            chosen = [o.attrs["value"] for o in control.walk() if "selected" in o.attrs]
            assert chosen == ([value] if value in options(control) else [])
        else:
            assert control.attrs.get("value") == value
    names = {n.attrs["name"] for n in root.walk() if n.attrs.get("name")}
    assert not leaks(html, lang, names | {"from", "to", "after", "state"})
    # Nothing is listed or measured with filters the page could not take.
    assert "queue-caption" not in by_id and "measures-h" not in by_id
