"""What the shop's and the ledgers' pages say about days and who signs: a receipt typed in later shows
the day written on it first; the shop's own 物资盘点台账 is signed as in the month's book; the 月报
names each receipt a donation or a purchase; the 管理办法 poster without a text links the chair to the
editor."""

from datetime import date, datetime

import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind

from .test_shop_reports import people as people  # a chair, a shopkeeper, a household: a fixture
from .test_shop_reports import set_clock
from .test_shop_reports import traded as traded  # October's trade and a stocktake on 20 November


def _goods(name: str) -> int:
    return db.session.scalar(sa.select(Goods.id).where(Goods.name == name))


def _late_receipts(app) -> dict:
    """Typed in on 20 November: oil bought on the 15th and soap given on the 18th."""
    set_clock(datetime(2026, 11, 20, 3, 0))  # 11:00 in the village
    with app.app_context():
        oil, soap = db.session.get(Goods, _goods("食用油")), db.session.get(Goods, _goods("洗衣粉"))
        shop.receive_stock(
            db.session,
            oil,
            MoveKind.PURCHASE,
            3,
            None,
            funding_source="妇联经费",
            moved_on=date(2026, 11, 15),
        )
        shop.receive_stock(
            db.session, soap, MoveKind.DONATION, 4, None, donor="爱心人士乙", moved_on=date(2026, 11, 18)
        )
        shop.receive_stock(
            db.session, soap, MoveKind.DONATION, 1, None, donor="爱心人士丙", moved_on=date(2026, 11, 20)
        )
        db.session.commit()
        return {"oil": oil.id, "soap": soap.id}


def test_a_receipt_typed_in_later_shows_the_day_written_on_it_first(app, login_as, traded):
    ids = _late_receipts(app)
    page = login_as("shopkeeper").get(f"/shop/goods/{ids['oil']}").get_data(as_text=True)
    assert "2026-11-15" in page and "（11-20 补录）" in page
    soap = login_as("shopkeeper").get(f"/shop/goods/{ids['soap']}").get_data(as_text=True)
    assert "2026-11-18" in soap and "（11-20 补录）" in soap
    assert "2026-11-20 11:00" in soap  # typed in on the day it carries: the time, nothing more
    assert "2026-10-06 11:00" in soap  # a redemption: when it was made


def test_the_shops_stocktake_ledger_is_signed_as_in_the_book(login_as, traded):
    page = login_as("chair").get("/shop/reports/ledgers/stocktakes?month=2026-11").get_data(as_text=True)
    assert "王秀兰" in page
    for signs in ("制表人", "审核人", "日期"):
        assert f"<div>{signs}<span></span></div>" in page, signs
    assert "监盘人" not in page and "盘点人签字" not in page


def test_the_monthly_report_names_each_receipt_a_donation_or_a_purchase(app, login_as, traded):
    _late_receipts(app)
    page = login_as("chair").get("/shop/reports/monthly?month=2026-11").get_data(as_text=True)
    assert "2026-11-15 采购" in page and "2026-11-18 捐赠" in page
    assert "捐赠或采购" not in page


def test_the_bylaws_poster_without_bylaws_links_the_chair_to_the_editor(login_as):
    chair = login_as("chair").get("/ledgers/wall/bylaws").get_data(as_text=True)
    assert 'href="/ledgers/bylaws/edit"' in chair and "管理办法的各个版本" not in chair
    panel = login_as("panel").get("/ledgers/wall/bylaws").get_data(as_text=True)
    assert (
        "/ledgers/bylaws/edit" not in panel and "请妇联主席在“台账 → 管理办法的各个版本”里写好并保存" in panel
    )
