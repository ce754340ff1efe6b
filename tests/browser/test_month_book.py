"""The month's book (台账汇编) in a real browser: printed to an A4 PDF it has a cover and contents, the
seven ledgers, and "第 N 页 共 M 页" on every page with M the PDF's page count; the long score sheet
repeats its column headings on each page it runs over; on a desktop and a phone nothing needs
scrolling sideways."""

import re
import subprocess

import pytest
import sqlalchemy as sa

from pointsmart.auth.models import User

from ..conftest import committing
from ..test_month_book import TITLES, november
from ..test_month_book import scene as scene  # the rulebook and the panel, a fixture
from .conftest import ARTIFACTS, _open, console_errors, horizontal_overflow, login, screenshot


def _pdf_pages(path) -> list[str]:
    """The text of each page of a PDF (pdftotext, poppler-utils), in layout order."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return text.stdout.split("\f")[:-1]


def _page_count(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def test_the_book_prints_as_one_a4_document_numbered_page_by_page(
    browser, live_server, app, scene, make_household
):
    november(app, scene, make_household, more=45)  # a score sheet longer than one page
    with committing(app) as session:
        chair = session.scalar(sa.select(User.username).where(User.id == scene.chair))

    context, page = _open(browser, live_server, {"viewport": {"width": 1366, "height": 768}})
    try:
        login(page, chair)
        page.goto("/ledgers/")
        page.get_by_role("link", name="2026年11月", exact=True).click()
        page.wait_for_url("**/ledgers/book/2026-11")
        assert horizontal_overflow(page) <= 0
        screenshot(page, "month-book-1366")
        assert console_errors(page) == []

        pdf = ARTIFACTS / "month-book-a4.pdf"
        page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
        count = _page_count(pdf)
        pages = _pdf_pages(pdf)
        assert count > 1 and len(pages) == count
        text = "\n".join(pages)
        for title in TITLES:
            assert title in text, title
        assert "未结账" in pages[0]
        squeezed = [re.sub(r"\s+", "", p) for p in pages]  # pdftotext may or may not keep the spaces
        for number, printed in enumerate(squeezed, start=1):
            assert f"第{number}页共{count}页" in printed, (number, printed[-200:])
        # each ledger starts on a page of its own: its title heads a page
        heads = [p.strip().splitlines()[:3] for p in pages]
        for title in TITLES:
            assert any(title in " ".join(h) for h in heads), title
        # the score sheet runs over pages, its headings on each of them
        sheet_pages = [p for p in pages if "陈玉兰" in p and "评分人" in p and "户主" in p]
        assert len(sheet_pages) >= 2

        # in English the pages are numbered in English
        page.goto("/lang/en?next=/ledgers/book/2026-11")
        page.wait_for_url("**/ledgers/book/2026-11")
        english = ARTIFACTS / "month-book-a4-en.pdf"
        page.pdf(path=str(english), format="A4", prefer_css_page_size=True, print_background=True)
        count = _page_count(english)
        for number, printed in enumerate(_pdf_pages(english), start=1):
            assert f"Page{number}of{count}" in re.sub(r"\s+", "", printed), (number, printed[-200:])
    finally:
        context.close()

    context, phone = _open(
        browser, live_server, {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
    )
    try:
        login(phone, chair)
        phone.goto("/ledgers/book/2026-11")
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "month-book-390")
        assert console_errors(phone) == []
    finally:
        context.close()


#: the tables wider than the box they are laid out in: ``[class, width, room]``. A table in a scroll
#: wrapper (.table-wrap) sticks out of nothing as long as the wrapper fits; ``fit`` names the tables
#: that must fit without it (nothing to scroll sideways)
_TOO_WIDE = """fit => [...document.querySelectorAll('main table')].flatMap(table => {
  const wrap = table.parentElement.classList.contains('table-wrap') ? table.parentElement : null;
  const width = el => Math.ceil(el.getBoundingClientRect().width);
  const found = [];
  const outer = wrap || table;
  if (width(outer) > outer.parentElement.clientWidth)
    found.push([table.className, width(outer), outer.parentElement.clientWidth]);
  if (table.matches(fit) && width(table) > (wrap || table.parentElement).clientWidth)
    found.push([table.className, width(table), (wrap || table.parentElement).clientWidth]);
  return found;
})"""


def test_on_a_phone_the_price_table_fits_and_no_table_sticks_out_of_its_box(
    browser, live_server, app, scene, make_household
):
    """At 390 px the book's price table fits the screen, no scrolling sideways (its headings and days
    break over lines); every other table is no wider than its box, or scrolls inside a wrapper that
    is."""
    november(app, scene, make_household)
    with committing(app) as session:
        chair = session.scalar(sa.select(User.username).where(User.id == scene.chair))
    context, phone = _open(
        browser, live_server, {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
    )
    try:
        login(phone, chair)
        phone.goto("/ledgers/book/2026-11")
        assert phone.locator("table.prices").count() == 1
        assert phone.evaluate(_TOO_WIDE, "table.prices") == []
        phone.locator("#book-prices").screenshot(path=str(ARTIFACTS / "month-book-prices-390.png"))
    finally:
        context.close()


def _contents_pages(page) -> dict[str, int]:
    """Each ledger's title → the page the book's contents says it starts on."""
    page.wait_for_selector(".book-toc ol[data-pages=ready]", state="attached")
    found = {}
    for item in page.locator(".book-toc li").all():
        title = item.locator("a").inner_text().split(".", 1)[1].strip()
        found[title] = int(re.sub(r"\D", "", item.locator(".book-toc-page").inner_text()))
    return found


@pytest.mark.parametrize("more", [0, 45])
def test_the_contents_give_the_page_each_ledger_starts_on_in_the_printed_book(
    browser, live_server, app, scene, make_household, more
):
    """Printed to an A4 PDF, each ledger's title heads the page the contents name for it — with a
    short month and with a score sheet running over pages (more households), on a desktop's window
    and a phone's (the numbers do not depend on the screen)."""
    november(app, scene, make_household, more=more)
    with committing(app) as session:
        chair = session.scalar(sa.select(User.username).where(User.id == scene.chair))
    cases = [(1366, 768, "zh"), (390, 844, "zh"), (1366, 768, "en")]
    for width, height, language in cases:
        context, page = _open(browser, live_server, {"viewport": {"width": width, "height": height}})
        try:
            login(page, chair)
            if language == "en":
                page.goto("/lang/en?next=/ledgers/")
            page.goto("/ledgers/book/2026-11")
            starts = _contents_pages(page)
            if language == "zh":
                assert list(starts) == TITLES
            pdf = ARTIFACTS / f"month-book-contents-{more}-{width}-{language}.pdf"
            page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
            pages = _pdf_pages(pdf)
            # a page's head: its first lines (the village, the ledger's title); not the contents page
            heads = [" ".join(p.strip().splitlines()[:3]) for p in pages]
            heads = ["" if n == 2 else head for n, head in enumerate(heads, start=1)]
            found = {title: [n for n, head in enumerate(heads, start=1) if title in head] for title in starts}
            assert {title: n[:1] for title, n in found.items()} == {t: [n] for t, n in starts.items()}, (
                width,
                language,
                len(pages),
            )
            assert list(starts.values())[0] == 3 and sorted(starts.values()) == list(starts.values())
            assert list(starts.values())[-1] <= len(pages)
        finally:
            context.close()
