"""Point cards and the shop counter in a real browser (DESIGN §2, §5).

The chair issues cards and prints the A4 sheet; a card's QR code is cut out of the page as an image
and decoded with zxing-cpp, as a scanner would read the printed card. The shopkeeper "scans" it at
the counter the way a USB scanner does (keystrokes into the field that has the focus, then Enter),
picks goods with the + buttons, confirms, prints the receipt; the family opens the card's address on
their own phone and sees the new balance. A phone photo of a card, uploaded through the counter's
``capture=environment`` file input, finds the same household. A double click redeems once; a basket
the points no longer cover is refused with a clear message and writes nothing; the counter fits a
cheap phone's screen.
"""

import io
import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from pointsmart.cards import services as cards
from pointsmart.cards.models import Card, CardStatus
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Transfer
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind, Redemption, StockMove

from ..conftest import committing
from .conftest import DESKTOP, _open, console_errors, horizontal_overflow, login, screenshot

#: name, spec, points, stock
GOODS = (
    ("洗衣粉", "袋（2kg）", 30, 10),
    ("食用油", "桶（5L）", 50, 5),
    ("毛巾", "条", 20, 0),
)


# --- set-up through the services ------------------------------------------------------------------


@pytest.fixture
def village(app, village_id, make_household, make_user):
    """Three households (120, 30 and 0 points), goods on the shelf, a shopkeeper; no cards yet."""
    households = {
        "王秀兰": make_household(points=120, head_name="王秀兰"),
        "李桂兰": make_household(points=30, head_name="李桂兰"),
        "张玉梅": make_household(head_name="张玉梅"),
    }
    with committing(app) as session:
        goods = {}
        for name, spec, price, stock in GOODS:
            item = shop.save_goods(session, village_id, {"name": name, "spec": spec, "price": price}, None)
            if stock:
                shop.receive_stock(session, item, MoveKind.DONATION, stock, None, donor="爱心企业")
            goods[name] = item.id
    return SimpleNamespace(households=households, goods=goods, shopkeeper=make_user("shopkeeper")[1])


def issue_cards(app) -> None:
    """Cards for every household, through the service (for the tests that are not about issuing)."""
    from pointsmart.org.services import home_village

    with committing(app) as session:
        cards.issue_all(session, home_village(session).id, None)


def card_of(app, household_id: int) -> SimpleNamespace:
    with app.app_context():
        card = db.session.scalar(
            sa.select(Card).where(Card.household_id == household_id, Card.status == CardStatus.ACTIVE)
        )
        return SimpleNamespace(id=card.id, token=card.token, number=card.number)


def state(app, household_id: int) -> SimpleNamespace:
    """What the database holds for a household and the shop, read in a fresh session."""
    with app.app_context():
        session = db.session
        household = session.get(Household, household_id)
        return SimpleNamespace(
            balance=household.balance,
            redemptions=session.scalar(
                sa.select(sa.func.count(Redemption.id)).where(Redemption.household_id == household_id)
            ),
            transfers=session.scalar(
                sa.select(sa.func.count(Transfer.id)).where(
                    sa.or_(
                        Transfer.from_account_id == household.account_id,
                        Transfer.to_account_id == household.account_id,
                    )
                )
            ),
            stock=dict(session.execute(sa.select(Goods.name, Goods.stock)).all()),
            stock_moves=session.scalar(sa.select(sa.func.count(StockMove.id))),
            ledger_ok=ledger.verify(session).ok,
        )


# --- helpers ----------------------------------------------------------------------------------------


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes zxing-cpp finds in an image."""
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def photo_of(card_png: bytes, path) -> str:
    """A phone photo of a card lying on a table: larger, slightly turned, on a wooden background, JPEG."""
    card = Image.open(io.BytesIO(card_png)).convert("RGB")
    card = card.resize((card.width * 3, card.height * 3), Image.Resampling.BICUBIC)
    card = card.rotate(4, expand=True, fillcolor=(176, 138, 98), resample=Image.Resampling.BICUBIC)
    table = Image.new("RGB", (2400, 1800), (176, 138, 98))
    table.paste(card, ((table.width - card.width) // 2 + 120, (table.height - card.height) // 2 - 80))
    table.save(path, format="JPEG", quality=85)
    return str(path)


def flash(page: Page):
    return page.locator(".flash")


def tile(page: Page, name: str):
    return page.locator(".tile").filter(has_text=name)


def add(page: Page, name: str, times: int = 1) -> None:
    for _ in range(times):
        page.get_by_role("button", name=f"增加 {name}").click()


def at_counter(page: Page) -> None:
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="收银台").click()
    expect(page.get_by_role("heading", name="收银台")).to_be_visible()
    # a USB scanner is a keyboard: it types into whatever has the focus, so the field must have it
    expect(page.locator("input.scan-input")).to_be_focused()


def scan(page: Page, text: str) -> None:
    """What a USB scanner does: keystrokes into the focused field, then Enter. No click."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def open_basket_by_number(page: Page, number: str, head_name: str) -> None:
    at_counter(page)
    scan(page, number)
    expect(page.get_by_role("heading", level=1)).to_contain_text(head_name)


# --- the whole way: sheet → QR → counter → receipt → family -----------------------------------------


def test_printed_card_is_scanned_at_the_counter_redeemed_printed_and_seen_by_the_family(
    page, phone, browser, live_server, app, chair, village
):
    wang = village.households["王秀兰"]
    # the address printed in every QR code is this server's, as a village sets POINTSMART_BASE_URL
    live_server.app.config["POINTSMART_BASE_URL"] = live_server.url

    # the chair issues cards to everyone and opens the A4 sheet
    login(page, chair)
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="积分卡").click()
    page.get_by_role("button", name="为所有未发卡的农户发卡").click()
    expect(flash(page)).to_have_text("已为 3 户发卡。")
    page.get_by_role("link", name="打印卡片（A4）").click()
    expect(page.locator(".point-card")).to_have_count(3)
    printed = page.locator(".point-card").filter(has_text="王秀兰")
    expect(printed.locator(".pc-number")).to_have_text(re.compile(r"^\d{4} \d{4} \d$"))
    screenshot(page, "shop-card-sheet")

    # the card's QR code, as the page renders it, read back by zxing-cpp
    qr = printed.locator("img.pc-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    decoded = decode_qr(qr.screenshot())
    assert len(decoded) == 1, decoded
    url = decoded[0]
    assert url == f"{live_server.url}/c/{card_of(app, wang).token}"
    before = state(app, wang)

    # the shopkeeper at the counter PC, with a USB scanner
    context, counter = _open(browser, live_server, DESKTOP)
    try:
        login(counter, village.shopkeeper)
        at_counter(counter)
        requested = []
        counter.on("request", lambda request: requested.append((request.method, request.url)))
        scan(counter, url)
        expect(counter.get_by_role("heading", level=1)).to_contain_text("王秀兰")
        # the scanned address, token and all, went in a POST body: it is in no address the phone keeps
        assert ("POST", f"{live_server.url}/shop/counter/find") in requested
        assert not [u for _m, u in requested if card_of(app, wang).token in u], requested
        expect(counter.locator("#balance")).to_have_text("120")

        add(counter, "洗衣粉", 2)
        add(counter, "食用油")
        expect(tile(counter, "洗衣粉").get_by_role("spinbutton")).to_have_value("2")
        expect(tile(counter, "食用油").get_by_role("spinbutton")).to_have_value("1")
        expect(counter.locator("#total")).to_have_text("110")
        expect(counter.locator("#after")).to_have_text("10")
        expect(counter.get_by_role("button", name="增加 毛巾")).to_be_disabled()  # none in stock
        counter.get_by_role("button", name="确认兑换").click()

        expect(counter.get_by_role("heading", name="积分兑换凭条")).to_be_visible()
        receipt = counter.locator(".receipt")
        expect(receipt).to_contain_text("王秀兰")
        expect(receipt.get_by_role("row").filter(has_text="洗衣粉")).to_contain_text("60")
        expect(receipt.get_by_role("row").filter(has_text="食用油")).to_contain_text("50")
        expect(counter.locator("#points")).to_have_text("110")
        expect(counter.locator("#balance-after")).to_have_text("10")

        # printed: the receipt and nothing else (no menu, no buttons)
        counter.emulate_media(media="print")
        expect(receipt).to_be_visible()
        expect(counter.get_by_role("navigation", name="主菜单")).to_be_hidden()
        expect(counter.get_by_role("button", name="打印凭条")).to_be_hidden()
        screenshot(counter, "shop-receipt-print")
        counter.emulate_media(media="screen")
        assert console_errors(counter) == []
    finally:
        context.close()

    after = state(app, wang)
    assert after.balance == 10 and after.redemptions == before.redemptions + 1
    assert after.stock == {**before.stock, "洗衣粉": 8, "食用油": 4}
    assert after.ledger_ok

    # the family opens the card's address on their own phone: no log-in, the new balance
    phone.goto(url)
    expect(phone.get_by_role("heading", level=1)).to_have_text("王*兰 家")
    expect(phone.locator("#balance")).to_have_text("10")
    expect(phone.locator(".history-list li").first).to_contain_text("兑换：洗衣粉×2、食用油×1")
    expect(phone.locator(".history-list li").first).to_contain_text("-110")
    assert horizontal_overflow(phone) <= 0
    screenshot(phone, "shop-family-after-redemption")
    assert console_errors(page) == [] and console_errors(phone) == []


# --- the photo path -----------------------------------------------------------------------------------


def test_photo_of_a_card_uploaded_from_the_counter_opens_that_households_basket(
    page, live_server, app, village, tmp_path
):
    live_server.app.config["POINTSMART_BASE_URL"] = live_server.url
    issue_cards(app)
    li = card_of(app, village.households["李桂兰"])
    login(page, village.shopkeeper)

    # the card as printed, photographed on a table by the shopkeeper's phone
    page.goto(f"/cards/{li.id}")
    card_png = page.locator(".point-card").screenshot()
    photo = photo_of(card_png, tmp_path / "IMG_20261128_101512.jpg")
    with Image.open(photo) as taken:
        assert taken.format == "JPEG" and taken.size == (2400, 1800)

    at_counter(page)
    camera = page.get_by_label("拍一张卡片的照片")
    expect(camera).to_have_attribute("capture", "environment")
    expect(camera).to_have_attribute("accept", "image/*")
    expect(page.get_by_role("button", name="识别照片")).to_be_hidden()  # choosing the photo sends it
    camera.set_input_files(photo)

    expect(page).to_have_url(re.compile(rf"/shop/counter/cards/{li.id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("李桂兰")
    expect(page.get_by_role("heading", level=1)).to_contain_text(li.number[:4])
    expect(page.locator("#balance")).to_have_text("30")
    assert console_errors(page) == []


# --- double click, not enough points, the phone ---------------------------------------------------


def test_a_double_click_on_confirm_redeems_once(page, live_server, app, village):
    issue_cards(app)
    wang = village.households["王秀兰"]
    before = state(app, wang)
    posts = []  # the basket form's POSTs that left the browser
    page.on("request", lambda r: r.method == "POST" and "/counter/cards/" in r.url and posts.append(r))
    login(page, village.shopkeeper)
    open_basket_by_number(page, card_of(app, wang).number, "王秀兰")
    add(page, "食用油")
    expect(page.locator("#total")).to_have_text("50")

    page.get_by_role("button", name="确认兑换").dblclick()

    expect(page.get_by_role("heading", name="积分兑换凭条")).to_be_visible()
    expect(page.locator("#balance-after")).to_have_text("70")
    receipt_url = page.url
    assert 1 <= len(posts) <= 2
    after = state(app, wang)
    assert after.redemptions == before.redemptions + 1, f"{len(posts)} POSTs sent"
    assert (after.balance, after.stock["食用油"]) == (70, before.stock["食用油"] - 1)

    # the page's script may keep the second click from leaving the browser; the server must not
    # depend on it: the same form (same key) arriving again is answered with the same receipt
    again = page.request.post(
        posts[0].url,
        data=posts[0].post_data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        max_redirects=0,
    )
    assert again.status == 302 and again.headers["location"] == receipt_url.removeprefix(live_server.url)
    final = state(app, wang)
    assert (final.redemptions, final.balance, final.stock) == (after.redemptions, 70, after.stock)
    assert final.ledger_ok
    assert console_errors(page) == []


def test_not_enough_points_is_refused_with_a_clear_message_and_writes_nothing(
    page, live_server, app, village
):
    issue_cards(app)
    li = village.households["李桂兰"]
    login(page, village.shopkeeper)
    open_basket_by_number(page, card_of(app, li).number, "李桂兰")
    confirm = page.get_by_role("button", name="确认兑换")

    # the page itself says so as soon as the basket costs more than the balance
    add(page, "食用油")
    expect(page.locator("#over")).to_have_text("积分不够，还差 20 分")  # what is missing, not "−20"
    expect(page.locator("#over")).to_be_visible()
    expect(page.locator("#after-line")).to_be_hidden()
    expect(confirm).to_be_disabled()
    page.get_by_role("button", name="减少 食用油").click()
    add(page, "洗衣粉")
    expect(page.locator("#over")).to_be_hidden()
    expect(confirm).to_be_enabled()

    # while the basket is open, 10 of her points go elsewhere (a deduction by the chair)
    with committing(app) as session:
        adjust_points(session, session.get(Household, li), -10, "卫生检查扣分", actor_id=None)
    before = state(app, li)
    assert before.balance == 20

    confirm.click()
    expect(flash(page)).to_have_text("积分不足：当前余额 20 分，需要 30 分。")
    expect(flash(page)).to_have_attribute("role", "alert")
    expect(page.get_by_role("heading", level=1)).to_contain_text("李桂兰")  # still her basket
    expect(page.locator("#balance")).to_have_text("20")
    after = state(app, li)
    assert (after.balance, after.redemptions, after.transfers) == (20, 0, before.transfers)
    assert (after.stock, after.stock_moves) == (before.stock, before.stock_moves)
    assert after.ledger_ok
    # the refused POST answers 409, which Chromium logs; nothing else may be logged
    assert [e for e in console_errors(page) if "409" not in e] == []


def test_counter_on_a_phone_has_no_sideways_scrolling(phone, live_server, app, village):
    issue_cards(app)
    wang = village.households["王秀兰"]
    login(phone, village.shopkeeper)
    phone.goto("/shop/counter")
    expect(phone.locator("input.scan-input")).to_be_focused()
    assert horizontal_overflow(phone) <= 0, "the counter scrolls sideways"
    screenshot(phone, "shop-counter-phone")

    phone.locator("input.scan-input").fill(card_of(app, wang).number)  # typed by hand from the card
    phone.get_by_role("button", name="查找").tap()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("王秀兰")
    phone.get_by_role("button", name="增加 洗衣粉").tap()
    expect(phone.locator("#total")).to_have_text("30")
    assert horizontal_overflow(phone) <= 0, "the basket scrolls sideways"
    screenshot(phone, "shop-basket-phone")
    phone.get_by_role("button", name="确认兑换").tap()
    expect(phone.locator("#balance-after")).to_have_text("90")
    assert horizontal_overflow(phone) <= 0, "the receipt scrolls sideways"
    assert console_errors(phone) == []
