"""A family at home, through the county alone: the card page during a round's notice sends it to the
village's notice and claims (on the village Wi-Fi), and its 账目公开 link opens the village's closed
month as the county rebuilds it — in a phone and a desktop browser, and printed on A4."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from pointsmart.cards import services as cards
from pointsmart.households.models import Household

from ..conftest import PASSWORD, VILLAGE_CODE, committing
from ..live import serving
from ..sync_support import register
from ..test_county_family_public import LAN, _push, _round_on_notice
from ..test_month_close import MONTH, worked  # noqa: F401  (the month's work, as a fixture)
from .conftest import ARTIFACTS, LiveServer, _open, console_errors, horizontal_overflow, login
from .test_county_card_browser import PHONE_390

pytestmark = pytest.mark.both_databases


def _shoot(page, name: str) -> None:
    """A full-page screenshot at 390×844 and at 1366×768, and the page printed on A4."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert horizontal_overflow(page) == 0
    page.screenshot(path=str(ARTIFACTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    assert horizontal_overflow(page) == 0
    page.screenshot(path=str(ARTIFACTS / f"{name}-1366.png"), full_page=True)
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / f"{name}-a4.pdf"), format="A4", print_background=True)
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 390, "height": 844})


@pytest.mark.usefixtures("worked")
def test_a_family_reaches_the_notice_claims_and_accounts_of_its_village_through_the_county(
    browser, app, county_app, make_user
):
    from pointsmart.closing.services import close_month
    from pointsmart.org.services import home_village

    chair = make_user("chair", username="王芳")[0]
    with committing(app) as session:
        close_month(session, home_village(session), MONTH, chair)
    with committing(app) as session:
        household = session.scalars(sa.select(Household).order_by(Household.id)).first()
        token, household_id = cards.active_card(session, household.id).token, household.id
        household_no = household.household_no
    round_uuid = _round_on_notice(app, make_user, household_id)
    app.config["POINTSMART_BASE_URL"] = LAN
    key = register(county_app)
    _push(app, county_app, key, LAN)
    with serving(county_app) as county_url:
        context, phone = _open(browser, LiveServer(county_url, county_app), PHONE_390)
        try:
            answer = phone.goto(f"/c/{token}")
            assert answer.headers["referrer-policy"] == "no-referrer"
            notice = phone.locator(".family-notice")
            expect(notice).to_contain_text("公示中的得分请看村里的公示栏")
            expect(notice).not_to_contain_text("没有得分")
            link = phone.get_by_role("link", name="看村里的公示（需连上村里的 Wi‑Fi）")
            expect(link).to_have_attribute("href", f"{LAN}/notice/{round_uuid}?q={household_no}")
            claims = phone.get_by_role("link", name="申领积分 / 查看申领结果（需连上村里的 Wi‑Fi）")
            expect(claims).to_have_attribute("href", f"{LAN}/c/{token}#claims")
            _shoot(phone, "cfam-county-card")

            phone.goto("/notice")
            expect(phone.locator(".county-notices")).to_contain_text("2026年12月 月评定")
            _shoot(phone, "cfam-county-notice")

            phone.goto(f"/c/{token}")
            phone.get_by_role("link", name="账目公开").click()
            expect(phone).to_have_url(f"{county_url}/accounts/{VILLAGE_CODE}/")
            _shoot(phone, "cfam-county-accounts-village")
            phone.get_by_role("link", name="2026年11月").click()
            expect(phone).to_have_url(f"{county_url}/accounts/{VILLAGE_CODE}/{MONTH}")
            expect(phone.locator("#agrees")).to_contain_text("一致")
            _shoot(phone, "cfam-county-accounts-month")
            phone.goto("/accounts/")
            _shoot(phone, "cfam-county-accounts-index")
            assert console_errors(phone) == []
        finally:
            context.close()
        # the county's reviewer sees who closed the month, by name, on the village page and its book
        from pointsmart.auth.services import create_user

        with committing(county_app) as session:
            create_user(session, "reviewer", "county_reviewer", PASSWORD)
        context, desk = _open(
            browser, LiveServer(county_url, county_app), {"viewport": {"width": 390, "height": 844}}
        )
        try:
            login(desk, "reviewer")
            desk.goto(f"/county/villages/{VILLAGE_CODE}/book/{MONTH}")
            expect(desk.locator("#closer")).to_have_text("王芳")
            _shoot(desk, "cfam-county-book")
            desk.goto(f"/county/villages/{VILLAGE_CODE}")
            expect(desk.locator(f"#close-{MONTH} .closer")).to_have_text("王芳")
            _shoot(desk, "cfam-county-village")
        finally:
            context.close()
