"""月结's stocktake blocker: a stocktake dated in the month is required when the shop had goods on hand at
some point of the month — some goods' stock above zero at the month's start, or a stock move dated in the
month (a receipt by the day on its paper, ``moved_on``). Neither: no stocktake is asked for."""

from datetime import date

from pointsmart.closing.services import blockers
from pointsmart.extensions import db
from pointsmart.org.services import home_village
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from .test_month_close import set_clock, stocktake

NOVEMBER = "2026-11"
ASKED = "这个月还没有物资盘点"


def _asks_for_stocktake(app, month: str = NOVEMBER) -> bool:
    with app.app_context():
        village = home_village(db.session)
        return any(ASKED in b.text for b in blockers(db.session, village.id, month))


def _goods(app, name: str = "洗衣粉") -> int:
    with app.app_context():
        found = shop.save_goods(db.session, home_village(db.session).id, {"name": name, "price": 10}, None)
        db.session.commit()
        return found.id


def _receive(app, goods_id: int, qty: int, moved_on: date | None = None) -> None:
    with app.app_context():
        goods = shop.get_goods(db.session, home_village(db.session).id, goods_id)
        shop.receive_stock(
            db.session, goods, MoveKind.DONATION, qty, None, donor="爱心企业", moved_on=moved_on
        )
        db.session.commit()


def test_a_shop_without_goods_is_asked_for_no_stocktake(app):
    set_clock(2026, 12, 3)
    _goods(app)  # goods on the list, never any stock
    assert not _asks_for_stocktake(app)


def test_goods_received_later_but_dated_in_the_month_ask_for_its_stocktake(app):
    soap = _goods(app)
    set_clock(2026, 12, 3)  # written in in December, from November's paper
    _receive(app, soap, 5, moved_on=date(2026, 11, 20))
    assert _asks_for_stocktake(app)
    assert not _asks_for_stocktake(app, "2026-10")  # none before November
    stocktake(app, date(2026, 11, 30))
    assert not _asks_for_stocktake(app)


def test_goods_received_in_the_month_but_dated_before_it_leave_stock_at_the_start(app):
    soap = _goods(app)
    set_clock(2026, 11, 3)
    _receive(app, soap, 5, moved_on=date(2026, 10, 28))  # October's paper: on hand when November began
    set_clock(2026, 12, 3)
    assert _asks_for_stocktake(app) and _asks_for_stocktake(app, "2026-10")


def test_stock_zero_all_month_and_no_move_in_it_asks_for_no_stocktake(app):
    soap = _goods(app)
    set_clock(2026, 10, 5)
    _receive(app, soap, 4)
    with app.app_context():
        goods = shop.get_goods(db.session, home_village(db.session).id, soap)
        shop.record_loss(db.session, goods, 4, "受潮", None)
        db.session.commit()
    set_clock(2026, 12, 3)
    assert _asks_for_stocktake(app, "2026-10")  # October had goods
    assert not _asks_for_stocktake(app)  # November began with none and nothing moved
    _receive(app, _goods(app, "毛巾"), 2, moved_on=date(2026, 11, 2))
    assert _asks_for_stocktake(app)
