"""The month's book (台账汇编) in a real browser: printed to an A4 PDF it has a cover and contents, the
seven ledgers, and "第 N 页 共 M 页" on every page with M the PDF's page count; the long score sheet
repeats its column headings on each page it runs over; on a desktop and a phone nothing needs
scrolling sideways."""

import re
import shutil
import subprocess
from datetime import date, datetime

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
        assert "未月结" in pages[0]
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


def _many_redemptions(app, scene, make_household, count: int) -> None:
    """``count`` more redemptions on 6 November: a register running over pages, its foot (净兑换积分)
    printed at the bottom of each."""
    from pointsmart.cards import services as cards
    from pointsmart.cards.models import Card
    from pointsmart.households.models import Household
    from pointsmart.org.services import home_village
    from pointsmart.shop import redemptions
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    from ..test_shop_reports import set_clock

    set_clock(datetime(2026, 11, 6, 2, 0))
    rich = make_household(head_name="钱满仓", points=count)
    with committing(app) as session:
        village_id = home_village(session).id
        chair = session.get(User, scene.chair)
        card = cards.issue_card(session, session.get(Household, rich), None)
        towel = shop.save_goods(session, village_id, {"name": "毛巾", "spec": "条", "price": 1}, chair.id)
        shop.receive_stock(session, towel, MoveKind.DONATION, count, chair.id, donor="爱心企业乙")
        towel_id, card_id = towel.id, card.id
    for _n in range(count):
        with committing(app) as session:
            redemptions.redeem(session, village_id, session.get(Card, card_id), [(towel_id, 1)], chair)


@pytest.mark.parametrize(("more", "redeemed"), [(0, 0), (45, 0), (0, 70)])
def test_the_contents_give_the_page_each_ledger_starts_on_in_the_printed_book(
    browser, live_server, app, scene, make_household, more, redeemed
):
    """Printed to an A4 PDF, each ledger's title heads the page the contents name for it — with a
    short month, with a score sheet running over pages (more households; its headings repeated on
    each) and with a register of redemptions running over pages (its foot repeated too), on a
    desktop's window and a phone's (the numbers do not depend on the screen), in both languages."""
    november(app, scene, make_household, more=more)
    if redeemed:
        _many_redemptions(app, scene, make_household, redeemed)
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
            pdf = ARTIFACTS / f"month-book-contents-{more}-{redeemed}-{width}-{language}.pdf"
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


def test_the_demo_villages_book_has_its_contents_page_numbers_right(browser, database, tmp_path):
    """The demo village's last month (seed/demo: 120 households, a score sheet over several landscape
    pages with its headings repeated on each) printed to A4: each ledger heads the page its contents name."""
    from pointsmart import create_app

    from ..live import serving
    from .gallery_support import USERS, _last_month, build_village

    _kind, template = database
    if _kind != "sqlite":
        pytest.skip("the demo village is loaded into a copy of the SQLite template")
    shutil.copy(template, tmp_path / "village.sqlite3")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POINTSMART_INSTANCE", str(tmp_path / "instance"))
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'village.sqlite3'}",
                "TESTING": True,
                "POINTSMART_MODE": "village",
                "POINTSMART_BASE_URL": "http://pointsmart.test",
            }
        )
        build_village(app)
        with serving(app, threads=2) as url:
            context = browser.new_context(base_url=url, locale="zh-CN", timezone_id="Asia/Shanghai")
            try:
                page = context.new_page()
                login(page, *USERS["chair"])
                page.goto(f"/ledgers/book/{_last_month()}")
                starts = _contents_pages(page)
                pdf = ARTIFACTS / "month-book-demo.pdf"
                page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
                screenshot(page, "month-book-demo-1366")
            finally:
                context.close()
            # and on a phone its price table (six goods, units such as 袋（1.5kg）) fits the screen too
            context = browser.new_context(
                base_url=url,
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                viewport={"width": 390, "height": 844},
                is_mobile=True,
            )
            try:
                phone = context.new_page()
                login(phone, *USERS["chair"])
                phone.goto(f"/ledgers/book/{_last_month()}")
                assert phone.evaluate(_TOO_WIDE, "table.prices") == []
                screenshot(phone, "month-book-demo-390")
                phone.locator("#book-prices").screenshot(
                    path=str(ARTIFACTS / "month-book-demo-prices-390.png")
                )
            finally:
                context.close()
    pages = _pdf_pages(pdf)
    heads = [" ".join(p.strip().splitlines()[:3]) if n != 2 else "" for n, p in enumerate(pages, start=1)]
    assert {t: [n for n, head in enumerate(heads, start=1) if t in head][:1] for t in starts} == {
        t: [n] for t, n in starts.items()
    }
    assert starts["积分评定会议记录台账"] - starts["打分表台账"] > 1  # the score sheet runs over pages


SHOTS = ARTIFACTS.parent.parent.parent / "shots" / "bookph"  # /work/wt/shots/bookph beside the worktree


def _evidence(app, found, photos: int) -> int:
    """``photos`` score photos on November's round, spread over its households (every third before or
    after the yard's cleaning), and a family's accepted claim with a photo: the claim photo's id."""
    import hashlib
    import io
    from pathlib import Path

    from PIL import Image

    from pointsmart.cards.models import Card
    from pointsmart.claims.models import Claim, ClaimPhoto
    from pointsmart.org.services import home_village
    from pointsmart.scoring import score_photos
    from pointsmart.scoring.models import RoundCriterion, Score, ScorePhoto

    def png(n: int) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (320, 240), ((n * 40) % 255, (n * 90) % 255, 120)).save(out, "PNG")
        return out.getvalue()

    with committing(app) as session:
        criteria = {c.name: c for c in session.scalars(sa.select(RoundCriterion).where(
            RoundCriterion.round_id == found.november))}  # fmt: skip
        households = sorted({s.household_id for s in session.scalars(
            sa.select(Score).where(Score.round_id == found.november))})  # fmt: skip
        folder = score_photos.folder_of(app.instance_path)
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(photos):
            data = png(n)
            name = f"evidence-{n}.png"
            (folder / name).write_bytes(data)
            yard = n % 3 == 0
            session.add(
                ScorePhoto(round_id=found.november, household_id=households[n % len(households)],
                           round_criterion_id=criteria["庭院整洁"].id if yard else None,
                           stage=("before", "after")[n % 2] if yard else "", stored_name=name,
                           content_type="image/png", width=320, height=240, size=len(data),
                           sha256=hashlib.sha256(data).hexdigest(), public=n % 5 == 0)
            )  # fmt: skip
        card = session.scalar(sa.select(Card).where(Card.household_id == found.a))
        helping = criteria["参加志愿服务"]
        claim = Claim(village_id=home_village(session).id,
                      household_id=found.a, card_id=card.id, criterion_id=helping.criterion_id,
                      round_id=found.november, round_criterion_id=helping.id, happened_on=date(2026, 11, 8),
                      note="参加了志愿服务", status="accepted", decided_at=datetime(2026, 11, 10, 2),
                      times=2, added=1)  # fmt: skip
        session.add(claim)
        session.flush()
        data = png(99)
        folder = Path(app.instance_path) / "uploads" / "claims"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "claimed-1.png").write_bytes(data)
        photo = ClaimPhoto(claim_id=claim.id, stored_name="claimed-1.png", content_type="image/png",
                           width=320, height=240, size=len(data))  # fmt: skip
        session.add(photo)
        session.flush()
        return photo.id


def test_the_photos_ledger_with_score_and_claim_photos_prints_with_the_contents_pages_exact(
    browser, live_server, app, scene, make_household
):
    """November with 40 score photos and a family's accepted claim with its photo: the book's photos
    ledger lists them (the claims' lines said to be the village's alone), nothing sticks out sideways
    on a desktop or a phone, and printed to A4 each ledger heads the page the contents name for it —
    the photos ledger running over pages. The round's photos page shows the claim's photo, served by
    the staff's address. Shots are kept for a person to look at (/work/wt/shots/bookph)."""
    found = november(app, scene, make_household, more=12)
    claim_photo = _evidence(app, found, 40)
    with committing(app) as session:
        chair = session.scalar(sa.select(User.username).where(User.id == scene.chair))
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1366, 768), (390, 844)):
        options = {"viewport": {"width": width, "height": height}}
        if width < 500:
            options["is_mobile"] = True
        context, page = _open(browser, live_server, options)
        try:
            login(page, chair)
            page.goto("/ledgers/book/2026-11")
            starts = _contents_pages(page)
            assert list(starts) == TITLES
            assert horizontal_overflow(page) <= 0
            assert page.evaluate(_TOO_WIDE, "table.book-photos") == []
            ledger = page.locator("#book-photos")
            assert "打分佐证照片" in ledger.inner_text() and "家庭申领照片（已采纳）" in ledger.inner_text()
            assert "这几行只在村里的台账里" in ledger.inner_text()
            page.screenshot(path=str(SHOTS / f"book-{width}.png"), full_page=True)
            ledger.screenshot(path=str(SHOTS / f"book-photos-{width}.png"))
            pdf = SHOTS / f"book-a4-{width}.pdf"
            page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
            pages = _pdf_pages(pdf)
            heads = [
                " ".join(p.strip().splitlines()[:3]) if n != 2 else "" for n, p in enumerate(pages, start=1)
            ]
            found_at = {t: [n for n, head in enumerate(heads, start=1) if t in head][:1] for t in starts}
            assert found_at == {t: [n] for t, n in starts.items()}, (width, len(pages))
            squeezed = [re.sub(r"\s+", "", p) for p in pages]
            for number, printed in enumerate(squeezed, start=1):
                assert f"第{number}页共{len(pages)}页" in printed, (number, printed[-200:])
            photo_pages = squeezed[starts["积分公示影视资料台账"] - 1 : starts["积分兑换（领取）台账"] - 1]
            assert len(photo_pages) >= 2 and "家庭申领照片（已采纳）" in "".join(photo_pages)
            assert console_errors(page) == []

            page.goto(f"/ledgers/rounds/{found.november}/photos")
            assert horizontal_overflow(page) <= 0
            assert page.locator(f'img[src$="/scoring/claims/photos/{claim_photo}"]').count() == 1
            page.screenshot(path=str(SHOTS / f"round-photos-{width}.png"), full_page=True)
            page.pdf(path=str(SHOTS / f"round-photos-a4-{width}.pdf"), format="A4", print_background=True)
        finally:
            context.close()
