"""A ledger printed on its own numbers its pages as the month's book does: "第 N 页 共 M 页" at the foot
of every page ("Page N of M" in English), from the one print rule of app.css."""

import re

import sqlalchemy as sa

from pointsmart.auth.models import User

from ..conftest import committing
from ..test_month_book import november
from ..test_month_book import scene as scene  # the rulebook and the panel, a fixture
from .conftest import ARTIFACTS, _open, console_errors, login
from .test_month_book import _page_count, _pdf_pages


def test_the_score_sheet_prints_its_pages_numbered_as_the_book_does(
    browser, live_server, app, scene, make_household
):
    found = november(app, scene, make_household, more=45)  # a score sheet longer than one page
    with committing(app) as session:
        chair = session.scalar(sa.select(User.username).where(User.id == scene.chair))

    context, page = _open(browser, live_server, {"viewport": {"width": 1366, "height": 768}})
    try:
        login(page, chair)
        for lang, pattern in (("zh", "第{n}页共{m}页"), ("en", "Page{n}of{m}")):
            url = f"/ledgers/rounds/{found.november}/scores"
            page.goto(url if lang == "zh" else f"/lang/en?next={url}")
            page.wait_for_url(f"**{url}")
            assert console_errors(page) == []
            pdf = ARTIFACTS / f"score-sheet-a4-{lang}.pdf"
            page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
            count = _page_count(pdf)
            assert count > 1
            for number, printed in enumerate(_pdf_pages(pdf), start=1):
                squeezed = re.sub(r"\s+", "", printed)  # pdftotext may or may not keep the spaces
                assert pattern.format(n=number, m=count) in squeezed, (lang, number, printed[-200:])
    finally:
        context.close()
