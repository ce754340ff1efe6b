"""月结 in a browser: the chair sees what blocks November (the stocktake, with its link), fixes it,
ticks the confirmation and closes the month; the page shows who, when and the fingerprint, on a
desktop, on a phone and printed to A4."""

from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from pointsmart.extensions import db
from pointsmart.months.models import MonthClose

from ..conftest import VILLAGE_CODE
from ..sync_support import push_all, register, workload
from ..test_county_dashboard import county_user
from ..test_month_close import MONTH, set_clock, stocktake
from .conftest import ARTIFACTS, DESKTOP, _open, console_errors, horizontal_overflow, login, screenshot
from .test_county_browser import PHONE_390, serving_county


def test_the_chair_closes_november_on_a_desktop_and_reads_it_on_a_phone(
    app, page, phone, chair, make_user, make_household
):
    set_clock(2026, 11, 2)
    workload(app, make_user, make_household, MONTH)
    set_clock(2026, 12, 3)
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, chair)
    page.goto("/closing/")
    november = page.locator(f"#m-{MONTH}")
    expect(november).to_contain_text("还没有物资盘点")
    expect(
        november.get_by_role("link", name="这个月还没有物资盘点：请在本月的日期做一次盘点。")
    ).to_have_attribute("href", "/shop/stocktake")
    assert horizontal_overflow(page) <= 0
    screenshot(page, "month-close-blocked-1366")
    stocktake(app, date(2026, 11, 30))
    page.goto("/closing/")
    november = page.locator(f"#m-{MONTH}")
    november.get_by_label("我已核对，月结后这个月的记录不能再改动").check()
    november.get_by_role("button", name="月结 2026年11月").click()
    expect(page.locator(".flash-success")).to_contain_text("2026年11月已月结")
    with app.app_context():
        sha = db.session.scalar(sa.select(MonthClose.sha256))
    expect(page.locator(f"#m-{MONTH}")).to_contain_text(sha)
    expect(page.locator(f"#m-{MONTH}")).to_contain_text("已月结")
    assert horizontal_overflow(page) <= 0
    screenshot(page, "month-close-closed-1366")
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "month-close-a4.pdf"), format="A4", print_background=True)
    page.emulate_media(media="screen")
    assert console_errors(page) == []

    phone.set_viewport_size({"width": 390, "height": 844})
    login(phone, chair)
    phone.goto("/closing/")
    expect(phone.locator(f"#m-{MONTH}")).to_contain_text(sha)
    assert horizontal_overflow(phone) <= 0
    screenshot(phone, "month-close-390")
    assert console_errors(phone) == []


@pytest.mark.both_databases
def test_the_county_reads_the_closed_month_and_its_matching_fingerprint(
    app, county_app, browser, chair, make_user, make_household
):
    from pointsmart.closing.services import close_month
    from pointsmart.org.services import home_village

    set_clock(2026, 11, 2)
    workload(app, make_user, make_household, MONTH)
    set_clock(2026, 12, 3)
    stocktake(app, date(2026, 11, 30))  # counted on the 30th, typed in on 3 December
    with app.app_context():
        sha = close_month(db.session, home_village(db.session), MONTH, None).sha256
        db.session.commit()
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    reviewer = county_user(county_app)
    with serving_county(county_app) as live:
        for name, size in (
            ("1366", DESKTOP | {"viewport": {"width": 1366, "height": 768}}),
            ("390", PHONE_390),
        ):
            context, page = _open(browser, live, size)
            login(page, reviewer.username)
            page.goto(f"/county/villages/{VILLAGE_CODE}")
            row = page.locator(f"#close-{MONTH}")
            expect(row).to_contain_text("已月结")
            expect(row).to_contain_text("一致")
            expect(row).not_to_contain_text("不一致")
            assert row.inner_text().count(sha) == 2  # the village's and the county's, the same
            page.locator("#month-close").scroll_into_view_if_needed()
            assert horizontal_overflow(page) <= 0
            page.locator("#month-close").screenshot(path=str(ARTIFACTS / f"county-month-close-{name}.png"))
            if name == "1366":
                page.emulate_media(media="print")
                page.pdf(path=str(ARTIFACTS / "county-village-a4.pdf"), format="A4", print_background=True)
            assert console_errors(page) == []
            context.close()
