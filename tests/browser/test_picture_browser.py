"""The chair's village picture in a real browser: three months of planted points, redemptions and
stock (the scene of ``tests/test_picture.py``), seen on a 1366 px desktop and a 390 px phone and printed
on A4. The charts load as images under the page's strict policy; nothing scrolls sideways; the printed
sheets leave the menu and the buttons out. Screenshots and the PDF are kept in ``tests/artifacts/``.
"""

import subprocess

from playwright.sync_api import Page, expect

from .. import test_picture as scenario
from .conftest import ARTIFACTS, _open, console_errors, horizontal_overflow, login, screenshot

scene = scenario.scene

DESKTOP_1366 = {"viewport": {"width": 1366, "height": 768}}
PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def charts_drawn(page: Page) -> list[int]:
    """The natural width of each chart image on the page (0: it did not load)."""
    page.wait_for_load_state("load")
    return page.locator("img.chart").evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")


def _apart(pdf, blocks: dict[str, list[str]]) -> list[str]:
    """Each heading whose table's rows are not all on the heading's own printed sheet (a chart, its heading
    and its table are one block on paper: no table's last rows alone over a page break)."""
    printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    sheets = printed.split("\f")
    apart = []
    for heading, rows in blocks.items():
        sheet = next(s for s in sheets if heading in s)
        assert len(rows) > 1, heading
        apart += [f"{heading}: {row}" for row in rows if row not in sheet]
    return apart


def test_the_chair_opens_last_months_picture_and_prints_it(browser, live_server, scene, chair):
    context, page = _open(browser, live_server, DESKTOP_1366)
    try:
        login(page, chair)
        page.get_by_role("link", name="村情概览", exact=True).click()
        expect(page.locator("h1")).to_have_text("村情概览")
        expect(page.locator(".sheet-sub")).to_have_text(scene.m2.label())
        expect(page.locator("#stat-households")).to_have_text("5")
        expect(page.locator("#stat-redeemed")).to_have_text("15")
        expect(page.locator("#stat-quiet")).to_have_text("2")
        # three charts drawn; the month's categories and participation are empty, and say so in words
        drawn = charts_drawn(page)
        assert len(drawn) == 3 and all(width > 0 for width in drawn)
        expect(page.locator("#categories .chart-empty")).to_contain_text("本期暂无数据")
        expect(page.locator("#groups .chart-empty")).to_contain_text("本期暂无数据")
        expect(page.locator("#stock-table tbody tr").first).to_contain_text("洗衣粉")
        expect(page.locator("#stock-table tbody tr").last).to_contain_text("不会用完")
        expect(page.locator("#quiet-table tbody")).to_contain_text("赵春花")
        expect(page.locator("#quiet-table tbody")).to_contain_text("（未分组）")
        assert horizontal_overflow(page) <= 0
        screenshot(page, "picture-chair-1366")

        # the month before: its round took effect, so categories and participation are drawn
        page.get_by_role("link", name="上个月").click()
        page.get_by_role("link", name="上个月").click()
        expect(page.locator(".sheet-sub")).to_have_text(scene.m0.label())
        drawn = charts_drawn(page)
        assert len(drawn) == 5 and all(width > 0 for width in drawn)
        expect(page.locator("#categories-table tbody tr").first).to_contain_text("美丽庭院")
        screenshot(page, "picture-chair-1366-first-month")

        stock_rows = page.locator("#stock-table tbody tr td:first-child").all_inner_texts()
        trend_rows = page.locator("#trend-table tbody tr td:first-child").all_inner_texts()
        page.emulate_media(media="print")
        expect(page.locator(".topbar")).to_be_hidden()
        expect(page.locator(".sheet-tools")).to_be_hidden()
        pdf = ARTIFACTS / "picture-a4.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
        printed = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True
        ).stdout
        for words in ("村情概览", scene.m0.label(), "美丽庭院", "洗衣粉", "赵春花"):
            assert words in printed
        assert "导出 Excel" not in printed and "收银台" not in printed
        assert _apart(pdf, {"库存还能用多久": stock_rows, "每月发放与兑换": trend_rows}) == []
        # the middle month, whose stock table used to leave its first row alone at the foot of sheet 2
        page.goto(f"/picture/?month={scene.m1.key}")
        page.wait_for_load_state("networkidle")
        stock_rows = page.locator("#stock-table tbody tr td:first-child").all_inner_texts()
        page.pdf(path=str(pdf), format="A4", print_background=True)
        assert _apart(pdf, {"库存还能用多久": stock_rows}) == []
        assert console_errors(page) == []
    finally:
        context.close()


#: every body cell of the page's tables whose number or words do not fit: cut inside the cell (scrollWidth),
#: or outside the window or its table's scroll box (the cell is there only by scrolling sideways)
_CLIPPED_JS = """() => [...document.querySelectorAll('table.ledger td')].filter((td) => {
    if (!td.getClientRects().length) return false;
    const box = td.getBoundingClientRect(), wrap = td.closest('.table-wrap');
    const frame = wrap ? wrap.getBoundingClientRect() : {left: 0, right: innerWidth};
    return td.scrollWidth > td.clientWidth + 1 || box.right > Math.min(innerWidth, frame.right) + 1
        || (wrap && wrap.scrollWidth > wrap.clientWidth + 1);
}).map((td) => td.closest('table').id + ': ' + td.textContent.trim())"""


def test_the_picture_fits_a_phone(browser, live_server, scene, chair):
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        login(phone, chair)
        phone.goto(f"/picture/?month={scene.m1.key}")
        expect(phone.locator(".sheet-sub")).to_have_text(scene.m1.label())
        assert all(width > 0 for width in charts_drawn(phone))
        assert horizontal_overflow(phone) <= 0
        # the month picker takes the month typed and shows it
        phone.get_by_label("月份").fill(scene.m2.key)
        phone.get_by_role("button", name="查看").click()
        expect(phone.locator(".sheet-sub")).to_have_text(scene.m2.label())
        assert horizontal_overflow(phone) <= 0
        # every table is read whole: no number cut short, no column beyond the phone's edge (before, the
        # stock's seven columns were 693 px in a 365 px box, and 期初结转 was cut to its first digit)
        assert phone.locator("#stock-table td").count() >= 7
        assert phone.evaluate(_CLIPPED_JS) == []
        # the stock is one card per goods, each value under its column's name
        cell = phone.locator("#stock-table td[data-label='月底库存']").first
        assert cell.evaluate("td => getComputedStyle(td, '::before').content") == '"月底库存"'
        screenshot(phone, "picture-chair-390")
        assert console_errors(phone) == []
    finally:
        context.close()
