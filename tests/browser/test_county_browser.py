"""The county dashboard in a real browser, with data that came in through sync (DESIGN §2, §3).

Two villages' ledgers are pushed to a county instance through the sync API (the scenario of
``tests/test_county_dashboard.py``); the county instance is served by waitress with CSRF on. A county
reviewer logs in, lands on the dashboard for the current month, sees who is silent, changes the period
with the picker, sorts the villages in place, drills into a village and checks its balances; the
charts load as images under the page's strict policy; the pages fit a phone and print without the
navigation. Screenshots are kept in ``tests/artifacts/``.
"""

import re
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from waitress import create_server, wasyncore

from pointsmart import create_app
from pointsmart.cli.serve import server_options
from pointsmart.extensions import db

from .. import test_county_dashboard as scenario
from ..conftest import committing
from ..sync_support import village_totals
from ..test_county_dashboard import A_CODE, B_CODE, county_user
from .conftest import (
    ARTIFACTS,
    DESKTOP,
    LiveServer,
    _open,
    console_errors,
    horizontal_overflow,
    login,
    screenshot,
)

#: sync and the county read and write differently on each database: this flow runs in both passes
pytestmark = pytest.mark.both_databases

# the scenario's fixtures: two villages synced to a county (see tests/test_county_dashboard.py)
second_village_database = scenario.second_village_database
village_b = scenario.village_b
filled = scenario.filled_each  # the browser's own app and county, built for each test

PHONE_390 = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@contextmanager
def serving_county(county_app, **config):
    """The county instance, with real CSRF protection, served by waitress on a free port."""
    served = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": county_app.config["SQLALCHEMY_DATABASE_URI"],
            "TESTING": True,
            "POINTSMART_MODE": "county",
            "POINTSMART_SESSION_DAYS": 90,
            **config,
        }
    )
    server = create_server(served, host="127.0.0.1", port=0, threads=4, **server_options(served))
    thread = threading.Thread(target=server.run, name="waitress-county", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.effective_port}", served)
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=5)
        server.task_dispatcher.shutdown(timeout=5)
        with served.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def county_server(county_app, filled):
    with serving_county(county_app) as live:
        yield live


@pytest.fixture
def county_page(browser, county_server):
    context, page = _open(browser, county_server, DESKTOP)
    yield page
    context.close()


def stat(page: Page, name: str):
    return page.locator(f"#stat-{name}")


def village_codes(page: Page) -> list[str]:
    return page.locator("#village-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")


def charts_drawn(page: Page) -> list[int]:
    """The drawn width of every chart image (0: it failed to load or was blocked)."""
    return page.locator("img.chart").evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")


def test_reviewer_reads_the_dashboard_changes_period_sorts_and_drills_into_a_village(
    browser, county_server, county_page, county_app, filled
):
    page = county_page
    reviewer = county_user(county_app)
    login(page, reviewer.username)

    # the home page is the dashboard, for the last complete month (the clock says 2026-11-25)
    expect(page).to_have_url(re.compile(r"/county/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("县级总览")
    expect(page.locator("#period-label")).to_have_text("2026年10月")
    expect(stat(page, "issued")).to_have_text(str(filled.a_october["earned"]))
    expect(stat(page, "opening")).to_have_text(str(filled.a_october["opening"]))
    expect(stat(page, "outstanding")).to_have_text(str(filled.a_october["balance_sum"]))
    attention = page.locator("section.attention")
    expect(attention).to_contain_text("20天未同步")
    expect(attention).to_contain_text("从未同步")
    page.wait_for_load_state("networkidle")
    assert all(width > 0 for width in charts_drawn(page)) and len(charts_drawn(page)) == 3
    screenshot(page, "county-dashboard-month")
    page.locator("a[rel=next]").first.click()  # this month, still running
    expect(page.locator("#period-label")).to_have_text("2026年11月")
    expect(page.locator("#period-incomplete")).to_be_visible()
    expect(stat(page, "issued")).to_have_text(str(7 + filled.b["earned"]))

    # the period picker: a quarter, chosen by a month in it
    page.get_by_label("统计期间").select_option("quarter")
    page.get_by_label("所在月份").fill("2026-10")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#period-label")).to_have_text("2026年第4季度")
    expect(stat(page, "issued")).to_have_text(str(filled.a["earned"] + filled.b["earned"]))
    assert "type=quarter" in page.url and "key=2026-10" in page.url

    # sort the villages by points issued, in place, largest first; the address follows
    assert village_codes(page)[:2] == [A_CODE, B_CODE]
    page.locator("#village-table").get_by_role("link", name="发放积分").click()
    expect(page.locator("#village-table th[aria-sort='descending']")).to_contain_text("发放积分")
    issued = page.locator("#village-table tbody tr td:nth-child(6)").all_inner_texts()
    assert [int(v) for v in issued] == sorted((int(v) for v in issued), reverse=True)
    assert "sort=issued" in page.url and "dir=desc" in page.url
    page.wait_for_load_state("networkidle")
    screenshot(page, "county-dashboard-quarter")

    # drill down into 甲村 for the same quarter
    page.locator("#village-table").get_by_role("link", name="甲村").click()
    expect(page.locator("#village-name")).to_have_text("甲村")
    expect(page.locator("#period-label")).to_have_text("2026年第4季度")
    expect(page.locator("#balance-total")).to_have_text(str(filled.a["balance_sum"]))
    expect(page.locator("#rounds tbody")).to_contain_text("2026-10")
    expect(page.locator("ol.county-honour li").first).to_contain_text("第 1 名")
    expect(page.locator("section.sync-state")).to_contain_text("20天未同步")
    page.wait_for_load_state("networkidle")
    assert all(width > 0 for width in charts_drawn(page)) and len(charts_drawn(page)) == 2
    screenshot(page, "county-village")

    # the Excel link of the households table downloads a workbook
    with page.expect_download() as download:
        page.locator("#households").get_by_role("link", name="导出 Excel").click()
    assert download.value.suggested_filename == f"village-{A_CODE}-2026-Q4-households.xlsx"

    # printed: no navigation, no tools, the figures stay; A4 landscape pages
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()
    assert not page.locator(".period-picker").is_visible()
    assert page.locator("#balance-total").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "county-village.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="返回县级总览").click()
    expect(page.locator("#period-label")).to_have_text("2026年第4季度")
    page.wait_for_load_state("networkidle")
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "county-dashboard.pdf"), prefer_css_page_size=True)
    # wherever the month-by-month table falls on a sheet, it is printed whole, under its heading (a
    # blank block above it moves it down the sheet, as more villages or findings would)
    months = page.locator("#trend tbody tr td:first-child").all_inner_texts()
    assert len(months) == 12
    for push in (0, 150, 300, 450, 600):
        page.evaluate(
            "px => { const s = document.getElementById('push') || document.createElement('div');"
            " s.id = 'push'; s.style.height = px + 'px'; document.getElementById('trend').before(s); }",
            push,
        )
        pdf = ARTIFACTS / "county-dashboard-pushed.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True)
        printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
        sheet = next(s for s in printed.stdout.split("\f") if "月度趋势" in s)
        assert [m for m in months if m not in sheet] == [], f"pushed {push}px"
    page.emulate_media(media="screen")
    assert console_errors(page) == []


def test_county_pages_fit_a_phone(browser, county_server, county_app, filled):
    context, phone = _open(browser, county_server, PHONE_390)
    try:
        login(phone, county_user(county_app).username)
        expect(phone.locator("#period-label")).to_have_text("2026年10月")
        phone.wait_for_load_state("networkidle")
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "county-dashboard-phone")
        phone.goto(f"/county/villages/{B_CODE}")
        expect(phone.locator("#village-name")).to_have_text("乙村")
        phone.wait_for_load_state("networkidle")
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "county-village-phone")
        assert console_errors(phone) == []
    finally:
        context.close()


def overflowing_figures(page: Page) -> list[str]:
    """Chart figures whose content reaches past their frame (or past the page's width)."""
    return page.locator(".charts figure").evaluate_all(
        """figures => figures.filter(f => {
            const box = f.getBoundingClientRect();
            const inner = [...f.querySelectorAll('*')].map(e => e.getBoundingClientRect());
            return f.scrollWidth > f.clientWidth + 1 || f.scrollHeight > f.clientHeight + 1
                || box.right > document.documentElement.clientWidth + 1
                || inner.some(r => r.right > box.right + 1 || r.bottom > box.bottom + 1);
        }).map(f => f.textContent.trim())"""
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_empty_charts_say_so_quietly_inside_their_frames(browser, county_server, county_app, filled, size):
    """A period with nothing synced (May): each chart's frame holds a quiet 本期暂无数据, nothing spills."""
    context, page = _open(browser, county_server, DESKTOP if size == "desktop" else PHONE_390)
    try:
        login(page, county_user(county_app).username)
        for url, count in (
            ("/county/?type=month&key=2026-05", 3),
            (f"/county/villages/{B_CODE}?key=2026-05", 2),
        ):
            page.goto(url)
            page.wait_for_load_state("networkidle")
            empty = page.locator(".charts .chart-empty")
            expect(empty).to_have_count(count)
            for index in range(count):
                expect(empty.nth(index)).to_contain_text("本期暂无数据")
            assert page.locator("img.chart").count() == 0
            assert overflowing_figures(page) == [] and horizontal_overflow(page) <= 0
            name = f"county-empty-{'village' if 'villages' in url else 'dashboard'}-{size}"
            screenshot(page, name)
            page.emulate_media(media="print")
            assert overflowing_figures(page) == []
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(ARTIFACTS / f"{name}.pdf"), format="A4")
            page.emulate_media(media="screen")
        assert console_errors(page) == []
    finally:
        context.close()


def test_county_admin_uploads_a_large_bundle_in_parts(browser, app, county_app, filled, tmp_path):
    """A bundle larger than one part goes up in parts from the browser and is imported whole.

    The part size is set small so that a real bundle of the scenario is split; the third part is held
    back for a moment so the page can be seen (and photographed) while the upload is under way.
    """
    with committing(app) as session:  # one record the county has not had yet (now is 2026-11-25)
        from pointsmart.households.models import Household
        from pointsmart.households.services import adjust_points

        first = session.scalar(sa.select(Household).order_by(Household.id))
        adjust_points(session, first, 5, "环境整治", actor_id=None)
    data = scenario._bundle(app, filled.keys[A_CODE])
    part_bytes = len(data) // 5 + 1  # six parts at most, five at least
    count = -(-len(data) // part_bytes)
    bundle_file = tmp_path / "甲村.pmb"
    bundle_file.write_bytes(data)
    admin = county_user(county_app, "county_admin").username

    with serving_county(county_app, POINTSMART_BUNDLE_PART_BYTES=part_bytes) as live:
        context, page = _open(browser, live, {"viewport": {"width": 1366, "height": 800}})
        try:
            held, seen = [], []

            def hold_the_third(route):
                query = parse_qs(urlsplit(route.request.url).query)
                seen.append(int(query["index"][0]))
                assert route.request.headers.get("x-csrftoken")
                if query["index"] == ["2"] and not held:
                    held.append(route)
                else:
                    route.continue_()

            page.route("**/county/bundles/parts?*", hold_the_third)
            login(page, admin)
            page.goto("/county/bundles")
            page.get_by_label("同步文件", exact=False).set_input_files(str(bundle_file))
            page.get_by_role("button", name="上传并导入").click()
            status = page.locator("#bundle-status")
            expect(status).to_have_text(f"正在上传 3/{count} …")
            for _ in range(200):  # the page says "3/…" as it sends part 3; the route sees it a moment later
                if held:
                    break
                page.wait_for_timeout(50)
            assert held and page.locator("#bundle-bar").is_visible()
            expect(page.get_by_role("button", name="上传并导入")).to_be_disabled()
            screenshot(page, "county-bundle-parts-uploading")
            page.set_viewport_size({"width": 390, "height": 844})
            assert horizontal_overflow(page) <= 0
            screenshot(page, "county-bundle-parts-uploading-phone")
            page.set_viewport_size({"width": 1366, "height": 800})
            held[0].continue_()

            seq = village_totals(app)["seq"]
            expect(page.locator(".flash-success")).to_contain_text(
                f"已导入 甲村（{A_CODE}）的同步文件：第 1–{seq} 条，新增 1 条；县里已确认到第 {seq} 条。"
            )
            assert seen == list(range(count))
            screenshot(page, "county-bundle-parts-imported")
            page.set_viewport_size({"width": 390, "height": 844})
            assert horizontal_overflow(page) <= 0
            screenshot(page, "county-bundle-parts-imported-phone")
            assert console_errors(page) == []
        finally:
            context.close()
    assert not list((Path(county_app.instance_path) / "bundle-parts").rglob("*.part"))


def test_the_dashboards_findings_are_one_card_each_on_a_phone(browser, county_server, county_app, filled):
    """需要关注 on the dashboard at 390 px: one card per finding as on its own page (before: a table 454 px
    wide in 390, 情况 four characters wide and 核查 off-screen); a table still on a desktop."""
    context, phone = _open(browser, county_server, PHONE_390)
    try:
        login(phone, county_user(county_app).username)
        phone.wait_for_load_state("networkidle")
        rows = phone.locator("#findings-table tbody tr")
        assert rows.count() >= 1, "the scenario has a finding"
        wrap = phone.locator("#anomalies .table-wrap")
        assert wrap.evaluate("w => w.scrollWidth - w.clientWidth") <= 0
        assert horizontal_overflow(phone) <= 0
        assert rows.first.evaluate("r => getComputedStyle(r).display") == "block"
        width = phone.evaluate("() => innerWidth")
        state = '#findings-table td[data-label="核查"]'
        for selector in ("#findings-table td.wrap", state):
            box = phone.locator(selector).first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, selector
        # the sentence has the card's width, not a column's four characters
        assert phone.locator("#findings-table td.wrap").first.bounding_box()["width"] > 250
        # 核查 is a line of the card, its label beside its value
        label_and_value = phone.locator(state).first.evaluate("td => getComputedStyle(td).display")
        assert label_and_value == "grid" and "待核查" in phone.locator(state).first.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        phone.locator("#anomalies").screenshot(path=str(ARTIFACTS / "county-dashboard-findings-phone.png"))
        assert console_errors(phone) == []
        desktop = context.new_page()
        desktop.set_viewport_size({"width": 1366, "height": 768})
        desktop.goto("/county/")
        assert desktop.locator("#findings-table thead").is_visible()
        assert (
            desktop.locator("#findings-table tbody tr").first.evaluate("r => getComputedStyle(r).display")
            == "table-row"
        )
        desktop.locator("#anomalies").screenshot(
            path=str(ARTIFACTS / "county-dashboard-findings-desktop.png")
        )
        desktop.emulate_media(media="print")
        desktop.pdf(path=str(ARTIFACTS / "county-dashboard-a4.pdf"), format="A4")
    finally:
        context.close()
