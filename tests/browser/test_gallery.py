"""The page gallery: every page of the URL map, as each role that may see it, on a desktop and a phone,
and printed on A4 — looked at by machine, and kept for a person to look at (issue 11).

The demo village (``seed/demo``, plus a sale, an objection and a stocktake) is served by waitress with
CSRF on, as in production; a county instance holds that village's ledger, pushed there by real sync.
For each page × role × size (1366×768 and 390×844) the test fails on:

- **status**: the page does not answer 200;
- **overflow**: the document is wider than the window (something to scroll sideways);
- **table**: a body cell is not under its header cell on the rendered page (see ``TABLES_JS``);
- **tap** (phone only): a tap target under 40 px tall (what counts is defined at ``TAPS_JS``);
- **axe**: a serious or critical accessibility violation found by axe-core;
- **console**: any console error (script errors, CSP violations, failed loads);

and on the desktop case also:

- **print**: the page in print media at A4 width overflows or has a table out of line; it is printed
  to PDF (``page.pdf``, A4);
- **english**: the English page shows Chinese that is not data (the rule of ``tests/test_i18n.py``:
  Han characters and CJK punctuation, once every text value stored in the database is taken out).

Screenshots and PDFs land in ``gallery/`` (git-ignored; ``make gallery`` runs only this file), with
``gallery/index.html`` to browse them and ``gallery/results.txt`` listing each case's problems.
axe-core comes from the npm registry at test time (``make js-deps``: ``npm ci`` in ``tests/js``).

The gallery is about rendering, not database behaviour: it runs in the SQLite pass of ``make test``
only.
"""

import html
import re
import shutil

import pytest
from flask import url_for

from pointsmart import create_app
from pointsmart.county.opening import MARKS as OPENING_MARKS
from pointsmart.extensions import db

from ..conftest import DB, IN_CI
from ..live import serving
from ..test_i18n import _chinese_left
from .gallery_support import (
    AXE,
    AXE_JS,
    CHAIR,
    COUNTY_REVIEWER,
    EXCLUDED,
    GALLERY,
    OVERFLOW_JS,
    PAGES,
    PHONE,
    PUBLIC,
    SIZES,
    TABLES_JS,
    TAPS_JS,
    TEXT_JS,
    USERS,
    build_county,
    build_village,
    data_values,
)

pytestmark = pytest.mark.skipif(
    DB != "sqlite",
    reason="the page gallery checks rendering, not database behaviour: it runs once, in the SQLite pass",
)

TAP_MINIMUM = 40
#: print media at the width of an A4 sheet's printable area (210 mm less 2 × 10 mm margins, at 96 dpi)
A4_PRINT_WIDTH = 718
TIMEOUT_MS = 15_000

CASES = [
    pytest.param(page, role, size, id=f"{page.tier}:{page.name}-{role}-{size}")
    for page in PAGES
    for role in page.roles
    for size in SIZES
]


# --- the servers and the tabs --------------------------------------------------------------------------


class Gallery:
    """Both instances, served; one logged-in tab per tier × role × size × language, opened when first used."""

    def __init__(self, browser, urls: dict, apps: dict, ids, data: set[str]):
        self.browser, self.urls, self.apps, self.ids, self.data = browser, urls, apps, ids, data
        self._states: dict = {}
        self._tabs: dict = {}
        self.results: list[tuple[str, list[str]]] = []

    def path(self, page) -> str:
        app = self.apps[page.tier]
        with app.test_request_context():
            return url_for(page.endpoint, **page.args(self.ids))

    def _state(self, tier: str, role: str):
        """Log in once per tier and role (through the real form, with its CSRF token); share the cookie."""
        if (tier, role) not in self._states:
            context = self.browser.new_context(base_url=self.urls[tier])
            if role != PUBLIC:
                form = context.request.get("/login").text()
                token = html.unescape(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1))
                username, password = USERS[role]
                answer = context.request.post(
                    "/login",
                    form={"csrf_token": token, "username": username, "password": password},
                    max_redirects=0,
                )
                assert answer.status == 302, f"log-in as {role} on the {tier} answered {answer.status}"
            self._states[tier, role] = context.storage_state()
            context.close()
        return self._states[tier, role]

    def tab(self, tier: str, role: str, size: str, language: str = "zh"):
        key = (tier, role, size, language)
        if key not in self._tabs:
            context = self.browser.new_context(
                base_url=self.urls[tier],
                locale="zh-CN" if language == "zh" else "en-US",
                timezone_id="Asia/Shanghai",
                storage_state=self._state(tier, role),
                **SIZES[size],
            )
            if language == "zh":
                # axe-core, in every page of the tab before the page's own scripts: the DevTools protocol
                # adds it, so the page's CSP (rightly forbidding inline script) does not apply to it
                context.add_init_script(path=str(AXE))
            else:
                context.add_cookies([{"name": "lang", "value": "en", "url": self.urls[tier]}])
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.errors = []
            page.on("console", lambda msg, page=page: msg.type == "error" and page.errors.append(msg.text))
            page.on("pageerror", lambda exc, page=page: page.errors.append(str(exc)))
            self._tabs[key] = (context, page)
        return self._tabs[key][1]

    def close(self) -> None:
        for context, _page in self._tabs.values():
            context.close()


@pytest.fixture(scope="module")
def gallery(request, browser, database, tmp_path_factory):
    _kind, template = database
    if not AXE.exists():
        message = f"axe-core is not installed at {AXE}: run `make js-deps` (npm ci in tests/js)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("gallery")
    apps = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POINTSMART_INSTANCE", str(folder / "instance"))
        for tier in ("village", "county"):
            shutil.copy(template, folder / f"{tier}.sqlite3")
            apps[tier] = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / tier}.sqlite3",
                    "TESTING": True,
                    "POINTSMART_MODE": tier,
                    "POINTSMART_BASE_URL": "http://pointsmart.test",
                    "POINTSMART_SESSION_DAYS": 90,
                }
            )
        ids = build_village(apps["village"])
        build_county(apps["county"], apps["village"], ids.village_code)
        # and the reason words that mark an opening balance, which the English rule quotes as typed
        data = data_values(apps["village"]) | data_values(apps["county"]) | set(OPENING_MARKS)
        with (
            serving(apps["village"], threads=4) as village_url,
            serving(apps["county"], threads=4) as county_url,
        ):
            if sum(item.originalname == "test_page" for item in request.session.items) == len(CASES):
                shutil.rmtree(GALLERY, ignore_errors=True)  # a whole run starts afresh; a -k run adds
            GALLERY.mkdir(exist_ok=True)
            found = Gallery(browser, {"village": village_url, "county": county_url}, apps, ids, data)
            try:
                yield found
            finally:
                found.close()
                _write_index(found.results)
        for app in apps.values():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _write_index(results) -> None:
    """``gallery/results.txt`` (a line per case: ok, or its problems) and ``gallery/index.html`` (each page
    and role: its screenshots, its PDF and its problems). A partial run (``-k``) updates its own cases."""
    listing = GALLERY / "results.txt"
    known = {}
    if listing.exists():
        for line in listing.read_text(encoding="utf-8").splitlines():
            name, _tab, outcome = line.partition("\t")
            known[name] = outcome
    known.update((name, " | ".join(problems) or "ok") for name, problems in results)
    lines = "".join(f"{name}\t{outcome}\n" for name, outcome in sorted(known.items()))
    listing.write_text(lines, encoding="utf-8")
    stems: dict[str, list[str]] = {}
    for name, outcome in sorted(known.items()):
        stem, _sep, size = name.rpartition("--")
        stems.setdefault(stem, []).append(f"{size} px: {outcome}")
    failing = sum(outcome != "ok" for outcome in known.values())
    sections = []
    for stem, outcomes in stems.items():
        files = sorted(p.name for p in GALLERY.glob(f"{stem}--*") if p.suffix in {".png", ".pdf"})
        links = " · ".join(f'<a href="{html.escape(f)}">{html.escape(f[len(stem) + 2 :])}</a>' for f in files)
        pngs = [f for f in files if f.endswith(".png")]
        images = "".join(f'<img src="{html.escape(f)}" loading="lazy" alt="">' for f in pngs)
        notes = "".join(f"<li>{html.escape(o)}</li>" for o in outcomes)
        sections.append(
            f"<section><h2>{html.escape(stem)}</h2><p>{links}</p><ul>{notes}</ul>{images}</section>"
        )
    (GALLERY / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>PointsMart page gallery</title>'
        "<style>body{font-family:sans-serif}img{max-width:48%;vertical-align:top;border:1px solid #ccc;"
        "margin:4px}section{border-top:1px solid #999}</style><h1>PointsMart page gallery</h1>"
        f"<p>{len(known)} cases, {failing} with problems (gallery/results.txt).</p>" + "".join(sections),
        encoding="utf-8",
    )


# --- the inventory is complete ------------------------------------------------------------------------


def test_every_page_of_the_url_map_is_in_the_gallery_or_excluded_for_a_reason(gallery):
    app = gallery.apps["village"]
    get_rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    in_gallery = {page.rule for page in PAGES}
    missing = sorted(set(get_rules) - in_gallery - set(EXCLUDED))
    assert not missing, (
        "GET rules neither in the gallery (tests/browser/gallery_support.py PAGES) nor excluded with a "
        f"reason (EXCLUDED): {missing}"
    )
    stale = sorted((in_gallery | set(EXCLUDED)) - set(get_rules))
    assert not stale, f"the gallery names rules the URL map no longer has: {stale}"
    both = sorted(in_gallery & set(EXCLUDED))
    assert not both, f"rules both in the gallery and excluded: {both}"
    for page in PAGES:
        assert get_rules[page.rule] == page.endpoint, page


def test_the_gallery_opens_each_page_as_every_role_that_may_see_it(gallery):
    """A role the gallery leaves out of a page must be refused it (so no role's view goes unlooked-at)."""
    unexpected = []
    for tier in ("village", "county"):
        app = gallery.apps[tier]
        pages = [p for p in PAGES if p.tier == tier and PUBLIC not in p.roles and not p.others_see_the_same]
        for role in sorted({role for p in pages for role in p.roles}):
            client = _logged_in(app, role)
            for page in pages:
                path = gallery.path(page)
                if role not in page.roles and client.get(path).status_code == 200:
                    unexpected.append(
                        f"{tier} {path} answers 200 to {role}, who is not in the gallery for it"
                    )
    assert not unexpected, "\n".join(unexpected)


def _logged_in(app, role: str):
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = html.unescape(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1))
    username, password = USERS[role]
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    assert answer.status_code == 302, f"log-in as {role} answered {answer.status_code}"
    return client


def test_the_checks_catch_what_they_look_for(browser):
    """The instrument itself, on pages made to fail: the register's old fault (three cells stacked in one,
    the figures under the wrong headers), a page wider than a phone, small tap targets."""
    context = browser.new_context(**SIZES[PHONE])
    try:
        tab = context.new_page()
        tab.set_content(
            """<meta name="viewport" content="width=device-width, initial-scale=1">
            <style>td.who { display: flex; } button { height: 20px; } .wide { width: 900px; }</style>
            <table><thead><tr><th>户号</th><th>户主</th><th>村民小组</th><th colspan="2">积分</th></tr>
            </thead><tbody><tr><td class="who">01-001</td><td class="who">王秀兰</td><td class="who">一社</td>
            <td>10</td><td>5</td></tr>
            <tr><td colspan="5">合计</td></tr></tbody></table>
            <table><thead><tr><th>户号</th><th colspan="2">积分</th></tr></thead>
            <tbody><tr><td>01-002</td><td>1</td><td>2</td></tr>
            <tr><td colspan="3">合计</td></tr></tbody></table>
            <p>请看 <a href="/help">使用说明</a> 里的第三步。</p>
            <table><tbody><tr><th>户号</th><th>户主</th></tr>
            <tr><td><a href="/h/1">01-001</a></td><td>王</td></tr></tbody></table>
            <button>退出</button><div class="wide">宽</div>"""
        )
        tables = tab.evaluate(TABLES_JS)
        assert len(tables) == 1 and "(table 1)" in tables[0] and "not under their header" in tables[0], tables
        assert tab.evaluate(OVERFLOW_JS)["over"] > 0
        small = tab.evaluate(TAPS_JS, TAP_MINIMUM)
        assert any('"退出"' in s for s in small) and any('"01-001"' in s for s in small), small
        assert not any("使用说明" in s for s in small), "a link inside a sentence is not a tap target"
    finally:
        context.close()


# --- every page --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "role", "size"), CASES)
def test_page(gallery, page, role, size):
    tab = gallery.tab(page.tier, role, size)
    path = gallery.path(page)
    stem = f"{page.tier}--{page.name}--{role}"
    tab.errors.clear()
    problems: list[str] = []
    response = tab.goto(path)
    if response is None or response.status != 200:
        problems.append(f"status: {path} answered {response and response.status}")
    else:
        problems += _look(tab, size)
        tab.screenshot(path=str(GALLERY / f"{stem}--{size}.png"), full_page=True, scale="css")
        if size != PHONE:
            problems += _print(tab, stem)
            problems += _english(gallery, page, role, path)
        problems += [f"console: {error}" for error in tab.errors]
    gallery.results.append((f"{stem}--{size}", problems))
    assert not problems, f"{path} as {role} at {size} px:\n  " + "\n  ".join(problems)


def _look(tab, size: str) -> list[str]:
    problems = []
    overflow = tab.evaluate(OVERFLOW_JS)
    if overflow["over"] > 0:
        problems.append(
            f"overflow: {overflow['over']}px wider than the window: {'; '.join(overflow['culprits'])}"
        )
    problems += [f"table: {p}" for p in tab.evaluate(TABLES_JS)]
    if size == PHONE:
        small = tab.evaluate(TAPS_JS, TAP_MINIMUM)
        if small:
            problems.append(f"tap: {len(small)} target(s) under {TAP_MINIMUM}px: " + "; ".join(small[:6]))
    problems += [f"axe: {v}" for v in tab.evaluate(AXE_JS)]
    return problems


def _print(tab, stem: str) -> list[str]:
    """Print media at A4 width: nothing wider than the sheet, tables in line; then the PDF itself."""
    problems = []
    viewport = tab.viewport_size
    tab.emulate_media(media="print")
    tab.set_viewport_size({"width": A4_PRINT_WIDTH, "height": viewport["height"]})
    try:
        overflow = tab.evaluate(OVERFLOW_JS)
        if overflow["over"] > 0:
            problems.append(
                f"print: {overflow['over']}px wider than an A4 sheet: {'; '.join(overflow['culprits'])}"
            )
        problems += [f"print: table: {p}" for p in tab.evaluate(TABLES_JS)]
        tab.pdf(path=str(GALLERY / f"{stem}--a4.pdf"), format="A4", print_background=True)
    finally:
        tab.set_viewport_size(viewport)
        tab.emulate_media(media="screen")
    return problems


def _english(gallery, page, role: str, path: str) -> list[str]:
    tab = gallery.tab(page.tier, role, "1366", language="en")
    tab.errors.clear()
    response = tab.goto(path)
    if response is None or response.status != 200:
        return [f"english: {path} answered {response and response.status}"]
    if tab.evaluate("() => document.documentElement.lang") != "en":
        return ["english: the page is not in English (html lang)"]
    left = _chinese_left(tab.evaluate(TEXT_JS), gallery.data)
    if not left:
        return []
    return [f"english: {len(left)} untranslated: {' '.join(dict.fromkeys(left))[:200]}"]


# --- pages' own layout promises, on the gallery's data ----------------------------------------------------

_OUTSIDE_JS = """(selector) => [...document.querySelectorAll(selector)].filter((el) => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) return false;
    const wrap = el.closest('.table-wrap');
    const frame = wrap ? wrap.getBoundingClientRect() : {left: 0, right: innerWidth};
    return box.left < Math.max(0, frame.left) - 1 || box.right > Math.min(innerWidth, frame.right) + 1;
}).map((el) => el.outerHTML.slice(0, 80))"""


def test_anomalies_each_finding_is_read_and_marked_on_a_phone_without_scrolling_sideways(gallery):
    """需要关注 on a 390 px phone: one card per finding, its sentence and its 核查 form in view (before, the
    form sat past the table's scroll box); on a desktop still a table; on paper no form at all."""
    path = "/county/anomalies"
    phone = gallery.tab("county", COUNTY_REVIEWER, PHONE)
    assert phone.goto(path).status == 200
    forms = phone.locator("#findings-table form")
    assert forms.count() >= 1, "the gallery's county has an unchecked finding to mark"
    wrap = phone.locator("#findings .table-wrap")
    assert wrap.evaluate("w => w.scrollWidth - w.clientWidth") <= 0
    for selector in ("#findings-table td", "#findings-table form input[name=note]",
                     "#findings-table form button"):  # fmt: skip
        assert phone.evaluate(_OUTSIDE_JS, selector) == [], selector
    reason = phone.locator("#findings-table td.wrap").first.bounding_box()
    note = forms.first.locator("input[name=note]").bounding_box()
    assert note["y"] >= reason["y"] + reason["height"], "the form stands under the finding's sentence"
    desktop = gallery.tab("county", COUNTY_REVIEWER, "1366")
    assert desktop.goto(path).status == 200
    assert desktop.locator("#findings-table thead").is_visible()
    assert (
        desktop.locator("#findings-table tbody tr").first.evaluate("r => getComputedStyle(r).display")
        == "table-row"
    )
    desktop.emulate_media(media="print")
    try:
        assert desktop.locator("#findings-table form").first.is_hidden()
        assert desktop.locator("#findings-table .finding-state").first.is_visible()
    finally:
        desktop.emulate_media(media="screen")


def test_the_ledgers_index_is_one_card_a_round_on_a_phone(gallery):
    """台账 on a 390 px phone: every column of a round in view, 评定结果 included (before, it sat past the
    table's scroll box), and the round's name on one line (before, the round's label wrapped onto three)."""
    phone = gallery.tab("village", CHAIR, PHONE)
    assert phone.goto("/ledgers/").status == 200
    assert phone.locator("table.rounds-index tbody td").count() >= 6
    assert phone.evaluate(_OUTSIDE_JS, "table.rounds-index td") == []
    assert phone.locator("table.rounds-index td[data-label='评定结果'] a").first.is_visible()
    lines = phone.locator("table.rounds-index td.round a").first.evaluate("a => a.getClientRects().length")
    assert lines == 1
    desktop = gallery.tab("village", CHAIR, "1366")
    assert desktop.goto("/ledgers/").status == 200
    assert desktop.locator("table.rounds-index thead").is_visible()


#: each chart of the page drawn at its rendered width: the smallest text's font size, in CSS px on screen
_CHART_TEXT_JS = """(width) => {
    const svg = document.documentElement, box = svg.viewBox.baseVal;
    svg.setAttribute('width', width);
    svg.setAttribute('height', width * box.height / box.width);
    const texts = [...document.querySelectorAll('text')].filter(
        (t) => t.textContent.trim() && t.getBoundingClientRect().width > 0);
    // the axes' numbers (not the rotated month names), as drawn: any two whose boxes touch
    const overlaps = [];
    for (const axis of document.querySelectorAll('g.axis')) {
        const marks = [...axis.querySelectorAll('text')].filter(
            (t) => /^[0-9.]+[万亿kM]?$/.test(t.textContent.trim()) && !t.getAttribute('transform'))
            .map((t) => [t.textContent.trim(), t.getBoundingClientRect()]);
        marks.forEach(([a, p], i) => marks.slice(i + 1).forEach(([b, q]) => {
            const touch = p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom;
            if (touch) overlaps.push(a + '|' + b);
        }));
    }
    return {
        overlaps,
        viewbox: [box.width, box.height],
        font: Math.min(...texts.map((t) => parseFloat(getComputedStyle(t).fontSize) * width / box.width)),
        box: Math.min(...texts.map((t) => t.getBoundingClientRect().height)),
    };
}"""


@pytest.mark.parametrize(
    ("tier", "role", "page_name"),
    [("village", "chair", "picture.index"), ("county", COUNTY_REVIEWER, "county.dashboard")],
)
def test_chart_words_are_readable_on_a_phone(gallery, tier, role, page_name):
    """A chart's axis labels, legend and values stay at least 10 px tall on a 390 px phone: the phone is
    given a narrower drawing (before, the 800 px trend scaled to 345 px put its 15 px labels at 6.5 px);
    a desktop and paper keep the wide one."""
    page = next(p for p in PAGES if p.tier == tier and p.endpoint == page_name)
    for size, narrow in ((PHONE, True), ("1366", False)):
        tab = gallery.tab(tier, role, size)
        assert tab.goto(gallery.path(page)).status == 200
        tab.wait_for_load_state("networkidle")
        charts = tab.locator("img.chart").evaluate_all(
            "imgs => imgs.map(i => [i.currentSrc, i.getBoundingClientRect().width, "
            "i.parentElement.querySelector('source')?.getAttribute('width')])"
        )
        assert charts, "the gallery's data draws some charts"
        probe = tab.context.new_page()
        try:
            for src, width, phone_width in charts:
                assert probe.goto(src).status == 200
                drawn = probe.evaluate(_CHART_TEXT_JS, width)
                assert drawn["font"] >= 10, (size, src, drawn)
                assert drawn["overlaps"] == [], (size, src, drawn)  # "0 200400600800…" on a phone, before
                assert ("fit=phone" in src) is narrow, src
                if narrow:  # the <source> reserves the shape the phone's drawing has
                    assert drawn["viewbox"][0] == int(phone_width), (src, drawn, phone_width)
        finally:
            probe.close()
