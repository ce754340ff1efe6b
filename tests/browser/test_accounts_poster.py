"""三务公开 in a real browser: the family finds the month's accounts from its card page; the page reads on
a desktop and a phone without sideways scrolling; printed to A4 it is a wall poster that carries the
month's hash (the close's sha256) and the page's address, so the poster can be checked against the page."""

import re
import subprocess
from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect

from pointsmart.cards.models import Card
from pointsmart.closing.services import close_month
from pointsmart.extensions import db
from pointsmart.months.models import MonthClose
from pointsmart.org.services import home_village
from pointsmart.shop.models import Goods, MoveKind
from pointsmart.shop.services import receive_stock

from ..sync_support import workload
from ..test_month_close import MONTH, set_clock, stocktake
from .conftest import ARTIFACTS, console_errors, horizontal_overflow, screenshot


def _pdf(path) -> tuple[int, str]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1]), text.stdout


def test_the_accounts_poster_carries_the_close_hash_and_reads_on_a_phone(
    app, page, phone, make_user, make_household
):
    set_clock(2026, 11, 2)
    workload(app, make_user, make_household, MONTH)
    set_clock(2026, 11, 30)  # a count is made on its day, never ahead of it
    stocktake(app, date(2026, 11, 30))
    set_clock(2026, 12, 3)
    chair = make_user("chair")[0]
    with app.app_context():
        village = home_village(db.session)
        # a receipt written down on 28 November, typed in on 3 December: November's gift on the poster
        towel = db.session.scalar(sa.select(Goods).where(Goods.name == "毛巾"))
        receive_stock(
            db.session, towel, MoveKind.DONATION, 6, None, donor="补录的爱心人士", moved_on=date(2026, 11, 28)
        )
        close_month(db.session, village, MONTH, chair)
        db.session.commit()
        sha = db.session.scalar(sa.select(MonthClose.sha256))
        token = db.session.scalar(sa.select(Card.token).limit(1))

    # a family: from its card page to the list of closed months, to November
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"/c/{token}")
    phone.get_by_role("link", name="账目公开").click()
    phone.get_by_role("link", name=re.compile("2026年11月")).click()
    phone.wait_for_url(f"**/accounts/{MONTH}")
    expect(phone.locator('[data-hash="figures"]')).to_have_text(sha)
    expect(phone.locator(".accounts-donors")).to_contain_text("补录的爱心人士")
    # on the screen the figures are a link to download; their address is for paper
    expect(phone.get_by_role("link", name="下载本月账目数据")).to_be_visible()
    expect(phone.locator('[data-address="figures"]')).to_be_hidden()
    assert horizontal_overflow(phone) <= 0
    screenshot(phone, "accounts-month-390")
    assert console_errors(phone) == []

    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"/accounts/{MONTH}")
    expect(page.locator("h1")).to_have_text("2026年11月积分超市账目公开")
    assert horizontal_overflow(page) <= 0
    screenshot(page, "accounts-month-1366")
    pdf = ARTIFACTS / "accounts-month-a4.pdf"
    page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
    pages, text = _pdf(pdf)
    squeezed = re.sub(r"\s+", "", text)
    assert pages == 1, pages  # one wall poster
    assert sha in squeezed  # the hash, whole (pdftotext may break a long word across lines)
    assert f"/accounts/{MONTH}" in squeezed and "账目校验码" in squeezed
    assert "打印" not in squeezed and "全部月份" not in squeezed  # the page's tools stay on the screen
    # on paper the figures' address is printed whole (a link cannot be followed on a wall)
    assert re.search(rf"账目数据https?://[^/]+/accounts/{MONTH}\.json", squeezed), squeezed[:600]
    assert "下载本月账目数据" not in squeezed and "期初库存" in squeezed and "补录的爱心人士" in squeezed
    assert console_errors(page) == []
