"""爱心榜, a donor's lots and the month's receipts of goods on a 390×844 phone: each table is one card
per row (table.stack in its table-wrap), no table wider than its container, nothing to scroll sideways;
on a laptop they stay tables with their headings."""

from playwright.sync_api import expect

from pointsmart.org.services import home_village
from pointsmart.periods import Period, today
from pointsmart.shop import registers
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from ..conftest import committing
from .conftest import _open, horizontal_overflow, login, screenshot

PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
DONOR = "兰州市城关区某某日用化学品有限责任公司（爱心企业）"

#: every shown table whose box is wider than its parent's content box
WIDER_JS = """() => [...document.querySelectorAll('table')]
  .filter((t) => t.getClientRects().length).flatMap((t) => {
  const width = t.getBoundingClientRect().width, room = t.parentElement.clientWidth;
  return width > room + 1 ? [`${t.className}: ${Math.round(width)}px in ${room}px`] : [];
})"""


def _pages() -> list[str]:
    return [
        "/shop/reports/donors",
        f"/shop/reports/donor?name={registers.donor_key(DONOR)}",
        f"/shop/reports/monthly?month={Period.of(today()).key}",
    ]


def test_donor_tables_fit_a_390_px_phone(app, browser, live_server, chair):
    with committing(app) as session:
        village_id = home_village(session).id
        for n, (name, price) in enumerate([("洗衣粉（1.5kg 袋装）", 30), ("食用油", 80), ("作业本", 5)]):
            goods = shop.save_goods(session, village_id, {"name": name, "spec": "袋", "price": price}, None)
            shop.receive_stock(
                session, goods, MoveKind.DONATION, 40 + n, None, donor=DONOR, note="村口集中发放前入库"
            )
            shop.receive_stock(
                session, goods, MoveKind.PURCHASE, 10, None, funding_source="县妇联积分超市经费", cost_fen=990
            )
    with app.app_context():
        paths = _pages()
    context, phone = _open(browser, live_server, PHONE_390)
    login(phone, chair)
    for path in paths:
        assert phone.goto(path).status == 200
        assert phone.locator("table").count() >= 1
        screenshot(phone, f"donors-390-{path}")
        assert phone.evaluate(WIDER_JS) == [], path
        assert horizontal_overflow(phone) <= 0, path
        assert phone.locator("table.stack td[data-label]").first.is_visible()
    context.close()
    context, laptop = _open(browser, live_server, LAPTOP)
    login(laptop, chair)
    for path in paths:
        laptop.goto(path)
        expect(laptop.locator("table.stack thead").first).to_be_visible()
        assert laptop.evaluate(WIDER_JS) == [], path
    context.close()
