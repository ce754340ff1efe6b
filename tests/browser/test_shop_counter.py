"""The counter by keyboard, and without a card, in a real browser (issue 11, item 5).

A USB scanner is a keyboard: it types the card number and Enter into the field that has the focus.
The whole 2-item sale is then done on the keyboard alone — every key the shopkeeper presses is counted
and no mouse is used — and the focus is back in a scan field once the receipt shows. A family without
its card is found by name, confirmed by the masked name and 户号, and its basket opens; the basket lists
its lines as they change, says what is missing instead of a negative balance, dims what the family
cannot afford (in words too), caps a quantity at the stock, and keeps its total bar small on a phone.
"""

from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from ..conftest import committing
from .conftest import _open, console_errors, horizontal_overflow, login
from .test_shop import card_of, issue_cards, state

#: name, spec, points, stock — sorted by name at the counter: 毛巾 (none in stock), 洗衣粉, 食用油
GOODS = (("洗衣粉", "袋（2kg）", 30, 10), ("食用油", "桶（5L）", 50, 5), ("毛巾", "条", 20, 0))

PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


@pytest.fixture
def village(app, village_id, make_household, make_user):
    households = {
        "王秀兰": make_household(points=120, head_name="王秀兰", household_no="06-001", phone="13912345678"),
        "王秀兰2": make_household(points=45, head_name="王秀兰", household_no="07-014"),
        "李桂兰": make_household(points=30, head_name="李桂兰", household_no="06-002"),
    }
    with committing(app) as session:
        for name, spec, price, stock in GOODS:
            item = shop.save_goods(session, village_id, {"name": name, "spec": spec, "price": price}, None)
            if stock:
                shop.receive_stock(session, item, MoveKind.DONATION, stock, None, donor="爱心企业")
    issue_cards(app)
    return SimpleNamespace(households=households, shopkeeper=make_user("shopkeeper")[1])


class Keys:
    """The shopkeeper's hands on the keyboard: every key pressed is counted (the scanner's are not)."""

    def __init__(self, page: Page):
        self.page, self.pressed = page, 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.pressed += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.pressed += 1


def scanner(page: Page, number: str) -> None:
    """A USB scanner reading a card: the number's keystrokes and Enter into the focused field."""
    page.keyboard.type(number)
    page.keyboard.press("Enter")


def qty(page: Page, name: str):
    return page.get_by_role("spinbutton", name=f"{name} 数量")


def test_a_two_item_sale_by_scanner_and_keyboard_alone(page, live_server, app, village):
    wang, li = village.households["王秀兰"], village.households["李桂兰"]
    login(page, village.shopkeeper)
    page.goto("/shop/counter")
    clicks = []
    page.expose_function("noteClick", lambda: clicks.append(1))
    page.add_init_script("document.addEventListener('mousedown', () => window.noteClick(), true)")
    page.reload()
    expect(page.locator("input.scan-input")).to_be_focused()
    keys = Keys(page)

    scanner(page, card_of(app, wang).number)
    expect(page.get_by_role("heading", level=1)).to_contain_text("王秀兰")
    # the keyboard is in the basket: the first goods on the shelf (毛巾 has none) has the focus
    expect(qty(page, "洗衣粉")).to_be_focused()
    keys.type("2")  # replaces the 0 that was there
    keys.press("Tab")  # quantity to quantity: the − and + buttons are for fingers
    expect(qty(page, "食用油")).to_be_focused()
    keys.type("1")
    expect(page.locator("#lines li")).to_have_text(["洗衣粉 × 2 = 60 分", "食用油 × 1 = 50 分"])
    expect(page.locator("#total")).to_have_text("110")
    keys.press("Enter")  # confirms

    expect(page.get_by_role("heading", name="积分兑换凭条")).to_be_visible()
    expect(page.locator("#balance-after")).to_have_text("10")
    # after the sale the focus is back in a scan field: the next family's card can be scanned at once
    expect(page.locator("input.scan-input")).to_be_focused()
    assert (keys.pressed, len(clicks)) == (4, 0), f"{keys.pressed} keys, {len(clicks)} clicks"

    scanner(page, card_of(app, li).number)
    expect(page.get_by_role("heading", level=1)).to_contain_text("李桂兰")
    expect(qty(page, "洗衣粉")).to_be_focused()
    assert state(app, wang).balance == 10 and state(app, wang).ledger_ok
    assert console_errors(page) == []


def test_a_family_without_its_card_is_found_by_name_and_confirmed_by_keyboard(
    page, live_server, app, village
):
    login(page, village.shopkeeper)
    page.goto("/shop/counter")
    keys = Keys(page)
    expect(page.locator("input.scan-input")).to_be_focused()  # the page is ready for the keyboard
    keys.type("王秀兰")
    keys.press("Enter")
    found = page.locator("[data-matches]")
    expect(found.get_by_role("heading")).to_have_text("找到 2 户，请和来人核对姓名和户号")
    links = found.get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_contain_text("06-001")
    expect(links.nth(0)).to_contain_text("王*兰")
    expect(links.nth(1)).to_contain_text("07-014")
    expect(found).not_to_contain_text("王秀兰")
    expect(links.nth(0)).to_be_focused()
    keys.press("ArrowDown")
    expect(links.nth(1)).to_be_focused()
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("07-014")
    expect(page.locator("#balance")).to_have_text("45")
    expect(qty(page, "洗衣粉")).to_be_focused()

    # a name not found comes back in the field, selected: typing again replaces it
    page.goto("/shop/counter")
    expect(page.locator("input.scan-input")).to_be_focused()
    keys.type("陈玉梅")
    keys.press("Enter")
    expect(page.locator(".flash")).to_contain_text("没有找到“陈玉梅”")
    expect(page.locator("input.scan-input")).to_be_focused()
    # the text is selected (as a person sees it highlighted) before she types over it
    page.wait_for_function(
        "() => { const f = document.activeElement;"
        " return f.value.length > 0 && f.selectionStart === 0 && f.selectionEnd === f.value.length; }"
    )
    # the phone's last four digits find the one household
    keys.type("5678")
    keys.press("Enter")
    only = page.locator("[data-matches]").get_by_role("link")
    expect(only).to_have_count(1)
    expect(only).to_be_focused()  # the page's script has put the keyboard on it (as a person sees)
    keys.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("06-001")
    assert console_errors(page) == []


def test_the_basket_lists_caps_says_what_is_missing_and_dims_in_words(page, live_server, app, village):
    login(page, village.shopkeeper)
    page.goto(f"/shop/counter/cards/{card_of(app, village.households['王秀兰2']).id}")  # 45 points
    soap, oil = (
        page.locator(".tile").filter(has_text="洗衣粉"),
        page.locator(".tile").filter(has_text="食用油"),
    )
    expect(oil).to_have_class("tile unaffordable")  # 50 > 45
    expect(oil.locator(".tile-note")).to_have_text("积分不够兑换")
    expect(soap.locator(".tile-note")).to_have_text("")
    expect(page.locator("#no-lines")).to_be_visible()

    qty(page, "洗衣粉").fill("12")  # 10 in stock
    expect(qty(page, "洗衣粉")).to_have_value("10")
    expect(soap.locator(".tile-note")).to_have_text("库存只有 10，已改为 10")
    expect(page.locator("#lines li")).to_have_text(["洗衣粉 × 10 = 300 分"])
    expect(page.locator("#over")).to_have_text("积分不够，还差 255 分")
    expect(page.locator("#after-line")).to_be_hidden()
    expect(page.get_by_role("button", name="确认兑换")).to_be_disabled()

    qty(page, "洗衣粉").fill("1")
    expect(page.locator("#lines li")).to_have_text(["洗衣粉 × 1 = 30 分"])
    expect(page.locator("#after")).to_have_text("15")
    expect(page.locator("#over")).to_be_hidden()
    expect(soap.locator(".tile-note")).to_have_text("")
    # 15 points left: another soap (30) is now out of reach as well
    expect(oil).to_have_class("tile unaffordable")
    assert console_errors(page) == []


def test_on_a_390_px_phone_the_total_bar_takes_at_most_15_percent(browser, live_server, app, village):
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        login(phone, village.shopkeeper)
        phone.goto(f"/shop/counter/cards/{card_of(app, village.households['王秀兰']).id}")
        # no field takes the focus on a touch screen: the phone's keyboard would cover the goods
        expect(phone.locator("#total")).to_have_text("0")
        assert phone.evaluate("matchMedia('(hover: none) and (pointer: coarse)').matches")
        assert phone.evaluate("document.activeElement === document.body")
        phone.get_by_role("button", name="增加 洗衣粉").tap()
        phone.get_by_role("button", name="增加 食用油").tap()
        expect(phone.locator("#total")).to_have_text("80")
        bar = phone.locator(".basket-total").bounding_box()
        assert bar["height"] <= 0.15 * 844, bar
        assert horizontal_overflow(phone) <= 0
        assert console_errors(phone) == []
    finally:
        context.close()


def test_cancelling_asks_first_and_a_no_leaves_the_redemption(page, live_server, app, village):
    wang = village.households["王秀兰"]
    login(page, village.shopkeeper)
    page.goto(f"/shop/counter/cards/{card_of(app, wang).id}")
    qty(page, "食用油").fill("1")
    page.get_by_role("button", name="确认兑换").click()
    expect(page.locator("#balance-after")).to_have_text("70")

    page.get_by_text("撤销这笔兑换").click()
    page.get_by_placeholder("撤销原因").fill("拿错了")
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    page.get_by_role("button", name="确认撤销").click()
    expect(page.get_by_placeholder("撤销原因")).to_have_value("拿错了")
    assert questions == ["撤销后 50 分退回 06-001 户，商品退回库存，这笔兑换作废，不能恢复。确定撤销吗？"]
    assert state(app, wang).balance == 70

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="确认撤销").click()
    expect(page.locator(".flash")).to_contain_text("已撤销兑换")
    assert state(app, wang).balance == 120
