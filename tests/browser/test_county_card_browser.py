"""One card, two places, in real browsers: a family at home reaches its page through the county only.

The village is served (with its chair logged in on one browser context); the county is served beside
it. The village pushes with ``sync push``; a second browser context that can reach *only* the county
(every request to the village's origin is aborted, as from a phone on mobile data) opens the address
the card's printed QR code holds and sees the village's balance; after a redemption at the village and
a push it sees the new balance; after a revocation and a push it sees the page every unknown card gets.
"""

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.cards.models import Card
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from ..conftest import committing
from ..live import serving
from ..sync_support import register
from .conftest import ARTIFACTS, LiveServer, _open, console_errors, horizontal_overflow, login, screenshot

#: sync and the county read and write differently on each database: this flow runs in both passes
pytestmark = pytest.mark.both_databases


PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _push(app, county_url: str) -> None:
    pushed = app.test_cli_runner().invoke(args=["sync", "push", "--url", county_url])
    assert pushed.exit_code == 0 and "0 waiting" in pushed.output, pushed.output


def test_a_card_opens_its_page_through_the_county_alone_and_stops_after_a_revocation(
    page, browser, app, live_server, county_app, chair, make_user, make_household
):
    household_id = make_household(points=40, head_name="王秀兰")
    with committing(app) as session:
        village = home_village(session)
        soap = shop.save_goods(session, village.id, {"name": "洗衣粉", "price": 10}, None)
        shop.receive_stock(session, soap, MoveKind.DONATION, 5, None, donor="爱心企业")
        card = cards.issue_card(session, session.get(Household, household_id), None)
        card_id, soap_id = card.id, soap.id
    key = register(county_app)
    with serving(county_app) as county_url:
        app.config.update(POINTSMART_COUNTY_URL=county_url, POINTSMART_SYNC_KEY=key)
        # the address the printed card holds, read back from its QR code as a phone's camera would
        login(page, chair)
        png = page.request.get(f"/cards/{card_id}/qr.png")
        assert png.ok
        path = ARTIFACTS / "county-card-qr.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(png.body())
        (decoded,) = zxingcpp.read_barcodes(Image.open(path))
        url = decoded.text
        assert url.startswith(f"{county_url}/c/")
        # the cards page says where the QR codes now lead, and offers the reprint for older cards
        page.goto("/cards")
        expect(page.locator("#county-address")).to_contain_text(county_url)
        expect(page.get_by_role("link", name="重新打印全部有效卡（A4）")).to_be_visible()
        screenshot(page, "county-card-cards-page")
        # at the shop the counter reads the same printed card: a scanner types the county's address
        page.goto("/shop/counter")
        expect(page.locator("input.scan-input")).to_be_focused()
        page.keyboard.type(url)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_contain_text("王秀兰")
        # the village's own LAN address (POINTSMART_BASE_URL here) goes to the county with the push
        app.config["POINTSMART_BASE_URL"] = live_server.url
        _push(app, county_url)

        # the family's phone at home: the county is reachable, the village's LAN address is not
        home, phone = _open(browser, LiveServer(county_url, county_app), PHONE_390)
        home.route(f"{live_server.url}/**", lambda route: route.abort())
        try:
            probe = home.new_page()  # its failed load ends on Chromium's error page: a tab of its own
            with pytest.raises(PlaywrightError):
                probe.goto(live_server.url + "/login")
            probe.close()
            answer = phone.goto(url)
            assert answer.status == 200
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["cache-control"] == "no-store"
            expect(phone.locator("#balance")).to_have_text("40")
            expect(phone.locator("h1")).to_have_text("王*兰 家")
            expect(phone.locator("#as-of")).to_contain_text("数据截至")
            expect(phone.locator(".goods-list")).to_contain_text("洗衣粉")
            # claims live at the village only: the county's page sends the family there, by the village Wi-Fi
            to_claims = phone.get_by_role("link", name="申领积分 / 查看申领结果（需连上村里的 Wi‑Fi）")
            token = url.rsplit("/", 1)[1]
            expect(to_claims).to_have_attribute("href", f"{live_server.url}/c/{token}#claims")
            assert horizontal_overflow(phone) == 0
            screenshot(phone, "county-card-390")
            phone.set_viewport_size({"width": 1366, "height": 768})
            assert horizontal_overflow(phone) == 0
            screenshot(phone, "county-card-1366")
            phone.emulate_media(media="print")
            phone.pdf(path=str(ARTIFACTS / "county-card-a4.pdf"), format="A4", print_background=True)
            phone.emulate_media(media="screen")
            phone.set_viewport_size({"width": 390, "height": 844})
            # on the village Wi-Fi (the chair's browser reaches the village) the link opens the card there
            page.goto(to_claims.get_attribute("href"))
            expect(page.locator("#balance")).to_have_text("40")
            expect(page.locator("h1")).to_have_text("王*兰 家")

            # a redemption at the village's counter, then a push: the county shows the new balance
            with committing(app) as session:
                operator = make_user("shopkeeper")[0]
                found = session.get(Card, card_id)
                redemptions.redeem(
                    session,
                    found.household.village_id,
                    found,
                    [(soap_id, 1)],
                    session.get(User, operator),
                )
            phone.reload()
            expect(phone.locator("#balance")).to_have_text("40")  # the county has not heard yet
            _push(app, county_url)
            phone.reload()
            expect(phone.locator("#balance")).to_have_text("30")
            expect(phone.locator(".history-list")).to_contain_text("洗衣粉")

            assert console_errors(phone) == []

            # the card is revoked at the village, then a push: the county answers as for any unknown card
            with committing(app) as session:
                cards.revoke_card(session, session.get(Card, card_id), "丢失", None)
            _push(app, county_url)
            answer = phone.goto(url)
            assert answer.status == 404
            expect(phone.locator("h1")).to_have_text("这张积分卡无效")
            expect(phone.locator("body")).not_to_contain_text("王*兰")
        finally:
            home.close()
