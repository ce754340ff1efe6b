"""Shop reports and the paper trail: FIFO tracing, daily/monthly figures, the three ledgers, 爱心榜."""

import html
import io
import re
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import Period
from pointsmart.shop import figures, redemptions, registers, workbooks
from pointsmart.shop import services as shop
from pointsmart.shop.fifo import Move, allocate_fifo, stock_value
from pointsmart.shop.models import Goods, MoveKind
from pointsmart.shop.stock import move_stock
from pointsmart.text import visible

NOV = Period("month", 2026, 11)
OCT = Period("month", 2026, 10)


def set_clock(when: datetime) -> None:
    """Put the app's clock at a UTC time (naive), so that moves and redemptions land on chosen days."""
    clock.reset()
    clock.advance(when - clock.utcnow())


def near(found: datetime | None, expected: datetime) -> bool:
    """The clock runs on after :func:`set_clock`: a stored time is the set time plus a moment."""
    return found is not None and abs(found - expected) < timedelta(seconds=30)


def _table(data: bytes, sheet: int | str = 0) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    page = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
    return [tuple(row) for row in page.iter_rows(values_only=True)]


def _row(table: list[tuple], first) -> tuple:
    return next(row for row in table if row and row[0] == first)


# --- first in, first out (pure) ---------------------------------------------------------------


def donation(id, qty, donor):
    return Move(id, MoveKind.DONATION, qty, donor=donor)


def purchase(id, qty, cost_fen=None):
    return Move(id, MoveKind.PURCHASE, qty, cost_fen=cost_fen)


def redemption(id, qty, rid):
    return Move(id, MoveKind.REDEMPTION, -qty, redemption_id=rid)


def cancellation(id, qty, rid):
    return Move(id, MoveKind.CANCELLATION, qty, redemption_id=rid)


def test_fifo_takes_the_oldest_intake_first():
    found = allocate_fifo([donation(1, 10, "甲"), purchase(2, 5, 500), redemption(3, 12, 100)])
    assert [(lot.donor, lot.redeemed, lot.on_shelf) for lot in found.lots] == [("甲", 10, 0), ("", 2, 3)]
    assert found.unallocated == 0 and found.on_shelf == 3


def test_fifo_cancellation_gives_goods_back_to_the_lots_they_came_from():
    moves = [donation(1, 3, "甲"), donation(2, 3, "乙"), redemption(3, 4, 7), cancellation(4, 4, 7)]
    found = allocate_fifo(moves)
    assert [(lot.redeemed, lot.on_shelf, lot.takes) for lot in found.lots] == [(0, 3, {}), (0, 3, {})]
    # the goods given back are the oldest again: the next redemption takes 甲's
    found = allocate_fifo([*moves, redemption(5, 1, 8)])
    assert [(lot.donor, lot.redeemed) for lot in found.lots] == [("甲", 1), ("乙", 0)]


def test_fifo_cancelling_one_of_several_redemptions_leaves_the_others_where_they_are():
    found = allocate_fifo(
        [
            donation(1, 3, "甲"),
            donation(2, 3, "乙"),
            redemption(3, 2, 71),  # 甲 2
            redemption(4, 2, 72),  # 甲 1, 乙 1
            cancellation(5, 2, 71),  # back to 甲
            redemption(6, 3, 73),  # 甲 2, 乙 1
        ]
    )
    first, second = found.lots
    assert (first.redeemed, first.on_shelf, first.takes) == (3, 0, {72: 1, 73: 2})
    assert (second.redeemed, second.on_shelf, second.takes) == (2, 1, {72: 1, 73: 1})


def test_fifo_loss_and_stocktake_shortage_are_not_redemptions():
    found = allocate_fifo(
        [
            donation(1, 5, "甲"),
            Move(2, MoveKind.LOSS, -2),
            Move(3, MoveKind.STOCKTAKE, -1),
            redemption(4, 1, 9),
        ]
    )
    (lot,) = found.lots
    assert (lot.redeemed, lot.lost, lot.counted_out, lot.other_out, lot.on_shelf) == (1, 2, 1, 3, 1)


def test_fifo_stocktake_surplus_is_a_lot_of_its_own_without_a_donor():
    found = allocate_fifo(
        [donation(1, 2, "甲"), redemption(2, 2, 9), Move(3, MoveKind.STOCKTAKE, 1), redemption(4, 1, 10)]
    )
    donated, surplus = found.lots
    assert (donated.donor, donated.redeemed, donated.on_shelf) == ("甲", 2, 0)
    assert (surplus.kind, surplus.donor, surplus.cost_fen, surplus.redeemed) == ("stocktake", "", None, 1)


def test_fifo_survives_a_history_that_cannot_happen():
    # out before anything came in, a cancellation of an unknown redemption, moves out of id order
    found = allocate_fifo([donation(5, 2, "甲"), redemption(1, 3, 9), cancellation(7, 1, 404)])
    assert found.unallocated == 3
    assert [(lot.kind, lot.qty, lot.on_shelf) for lot in found.lots] == [
        ("donation", 2, 2),
        ("cancellation", 1, 1),
    ]
    assert allocate_fifo([]).lots == []


def test_stock_value_counts_purchases_at_cost_and_donations_at_zero():
    moves = [purchase(1, 4, 250), donation(2, 3, "甲"), purchase(3, 2, 300), redemption(4, 5, 9)]
    assert stock_value(allocate_fifo(moves)) == (2 * 300, 2, 0)  # left: 甲 2, the second purchase 2
    unpriced = [purchase(1, 4, 250), purchase(2, 2, None), donation(3, 3, "甲"), redemption(4, 5, 9)]
    assert stock_value(allocate_fifo(unpriced)) == (0, 3, 1)


# --- the shop, through the services -------------------------------------------------------------


@pytest.fixture
def people(make_user, make_household):
    """On 2026-10-05: a chair, a shopkeeper and a household with 1000 points (ids).

    The factories commit in sessions of their own, so they run before a test's session starts one.
    """
    set_clock(datetime(2026, 10, 5, 2, 0))
    return (
        make_user("chair")[0],
        make_user("shopkeeper")[0],
        make_household(points=1000, head_name="张桂花", phone="13912345678"),
    )


def _shop(session, village_id, chair_id, keeper_id, household_id) -> dict:
    """Name the people, give the household a card, and put soap (30 points) and oil (60) on the list."""
    chair, shopkeeper = session.get(User, chair_id), session.get(User, keeper_id)
    chair.display_name, shopkeeper.display_name = "王主席", "李店长"
    household = session.get(Household, household_id)
    card = cards.issue_card(session, household, None)
    soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 30}, chair.id)
    oil = shop.save_goods(session, village_id, {"name": "食用油", "spec": "桶", "price": 60}, chair.id)
    session.commit()
    return {
        "chair": chair,
        "keeper": shopkeeper,
        "household": household,
        "card": card,
        "soap": soap,
        "oil": oil,
    }


@pytest.fixture
def shop_data(ctx, village_id, people):
    return _shop(ctx, village_id, *people)


def _redeem(ctx, village_id, data, *lines, by="keeper"):
    done = redemptions.redeem(ctx, village_id, data["card"], [(g.id, n) for g, n in lines], data[by])
    ctx.commit()
    return done


def _october(ctx, village_id, d):
    """Oct 5: 爱心企业甲 gives 10 soap, 5 oil bought at ¥65. Oct 6: soap ×2 + oil ×1 redeemed, 1 soap lost."""
    shop.receive_stock(ctx, d["soap"], MoveKind.DONATION, 10, d["chair"].id, donor="爱心企业甲")
    shop.receive_stock(
        ctx, d["oil"], MoveKind.PURCHASE, 5, d["chair"].id, funding_source="妇联经费", cost_fen=6500
    )
    ctx.commit()
    set_clock(datetime(2026, 10, 6, 3, 0))
    first = _redeem(ctx, village_id, d, (d["soap"], 2), (d["oil"], 1))
    shop.record_loss(ctx, d["soap"], 1, "受潮", d["chair"].id)
    ctx.commit()
    return first


def _figures(period):
    return {
        "redemptions": len(period.redemptions),
        "points": period.points,
        "returned": period.points_returned,
        "net": period.net_points,
        "out": period.goods_out,
        "donated": period.donated,
        "purchased": period.purchased,
        "lost": period.lost,
        "stock": period.stock,
        "value": period.value_fen,
    }


def test_days_follow_the_village_calendar(ctx, village_id, shop_data):
    d = shop_data
    shop.receive_stock(ctx, d["soap"], MoveKind.DONATION, 5, None, donor="爱心企业甲")
    ctx.commit()
    set_clock(datetime(2026, 10, 7, 15, 30))  # 23:30 on Oct 7 in the village
    _redeem(ctx, village_id, d, (d["soap"], 1))
    set_clock(datetime(2026, 10, 7, 16, 30))  # 00:30 on Oct 8
    _redeem(ctx, village_id, d, (d["soap"], 2))
    seventh = figures.shop_period(ctx, village_id, date(2026, 10, 7), date(2026, 10, 8))
    eighth = figures.shop_period(ctx, village_id, date(2026, 10, 8), date(2026, 10, 9))
    assert (seventh.points, seventh.goods_out, seventh.stock) == (30, 1, 4)
    assert (eighth.points, eighth.goods_out, eighth.stock) == (60, 2, 2)
    assert [r.id for r in eighth.redemptions] == [
        r.id for r in redemptions.redemptions_on(ctx, village_id, "2026-10-08")
    ]


def test_month_figures_reconcile_stock_points_and_value(ctx, village_id, shop_data):
    d = shop_data
    _october(ctx, village_id, d)
    october = figures.shop_period(ctx, village_id, OCT.start, OCT.end)
    assert _figures(october) == {
        "redemptions": 1,
        "points": 120,
        "returned": 0,
        "net": 120,
        "out": 3,
        "donated": 10,
        "purchased": 5,
        "lost": 1,
        "stock": 7 + 4,
        "value": 4 * 6500,  # the oil bought; donated soap counts 0
    }
    soap = next(f for f in october.goods if f.goods.id == d["soap"].id)
    assert (soap.opening, soap.donated, soap.redeemed, soap.lost, soap.closing, soap.donated_on_shelf) == (
        0,
        10,
        2,
        1,
        7,
        7,
    )
    busy = [
        (x.day, x.redemptions, x.points, x.goods_out, x.donated)
        for x in october.days
        if x.redemptions or x.donated
    ]
    assert busy == [(date(2026, 10, 5), 0, 0, 0, 10), (date(2026, 10, 6), 1, 120, 3, 0)]
    assert [m.kind for m in october.intakes] == ["donation", "purchase"]


def test_a_cancellation_counts_in_its_own_month_and_a_printed_month_never_changes(ctx, village_id, shop_data):
    d = shop_data
    first = _october(ctx, village_id, d)
    before = _figures(figures.shop_period(ctx, village_id, OCT.start, OCT.end))
    set_clock(datetime(2026, 11, 3, 2, 0))
    _redeem(ctx, village_id, d, (d["soap"], 1))
    redemptions.cancel_redemption(ctx, first, "登记错了", d["chair"])
    ctx.commit()
    assert _figures(figures.shop_period(ctx, village_id, OCT.start, OCT.end)) == before
    november = figures.shop_period(ctx, village_id, NOV.start, NOV.end)
    assert _figures(november) | {"stock": None} == {
        "redemptions": 1,
        "points": 30,
        "returned": 120,
        "net": -90,
        "out": 1 - 3,
        "donated": 0,
        "purchased": 0,
        "lost": 0,
        "stock": None,
        "value": 5 * 6500,  # the oil came back onto the shelf
    }
    ctx.refresh(d["soap"]), ctx.refresh(d["oil"])
    by_goods = {f.goods.id: f.closing for f in november.goods}
    assert (
        by_goods
        == {d["soap"].id: d["soap"].stock, d["oil"].id: d["oil"].stock}
        == {
            d["soap"].id: 8,
            d["oil"].id: 5,
        }
    )
    register = registers.redemption_register(ctx, village_id, NOV)
    assert [r.points for r in register.earlier_cancelled] == [120]
    assert (register.points, register.points_returned, register.net_points) == (30, 120, -90)
    october = registers.redemption_register(ctx, village_id, OCT)
    assert (october.points, october.net_points, october.redemptions[0].status) == (120, 120, "cancelled")


def test_a_price_change_keeps_its_history_and_never_reprices_a_past_redemption(ctx, village_id, shop_data):
    d = shop_data
    shop.receive_stock(ctx, d["soap"], MoveKind.DONATION, 10, None, donor="爱心企业甲")
    ctx.commit()
    set_clock(datetime(2026, 11, 2, 2, 0))
    _redeem(ctx, village_id, d, (d["soap"], 2))
    set_clock(datetime(2026, 11, 10, 2, 0))
    shop.save_goods(ctx, village_id, {"name": "洗衣粉", "spec": "袋", "price": 35}, d["chair"].id, d["soap"])
    ctx.commit()
    set_clock(datetime(2026, 11, 12, 2, 0))
    _redeem(ctx, village_id, d, (d["soap"], 1))
    register = registers.redemption_register(ctx, village_id, NOV)
    assert [[(x.goods_name, x.qty, x.unit_price) for x in r.lines] for r in register.redemptions] == [
        [("洗衣粉", 2, 30)],
        [("洗衣粉", 1, 35)],
    ]
    assert (register.points, register.units) == (95, 3)
    soap = next(row for row in registers.price_list(ctx, village_id) if row.goods.id == d["soap"].id)
    assert [(s.price, s.by, s.until is None) for s in soap.steps] == [
        (30, "王主席", False),
        (35, "王主席", True),
    ]
    first, now = soap.steps
    assert near(first.since, datetime(2026, 10, 5, 2, 0)) and near(now.since, datetime(2026, 11, 10, 2, 0))
    assert first.until == now.since
    assert soap.changed and soap.goods.price == 35
    _title, _header, *rows = _table(workbooks.register_xlsx(register, home_village(ctx)))
    assert [(r[4], r[5], r[6], r[7]) for r in rows[:2]] == [("洗衣粉", 2, 30, 60), ("洗衣粉", 1, 35, 35)]
    assert _row(rows, "本月兑换合计")[7] == 95


def test_stocktake_ledger_shows_counted_against_recorded_and_who_counted(ctx, village_id, shop_data):
    d = shop_data
    shop.receive_stock(ctx, d["soap"], MoveKind.DONATION, 10, None, donor="爱心企业甲")
    shop.receive_stock(ctx, d["oil"], MoveKind.PURCHASE, 3, None, cost_fen=6500)
    ctx.commit()
    set_clock(datetime(2026, 11, 28, 8, 0))
    shop.record_stocktake(
        ctx,
        village_id,
        date(2026, 11, 28),
        "王秀兰、李春梅",
        {d["soap"].id: 8, d["oil"].id: 4},
        d["keeper"].id,
        "季度盘点",
    )
    ctx.commit()
    (sheet,) = registers.stocktakes(ctx, village_id, NOV)
    assert [(x.goods.name, x.recorded, x.counted) for x in sheet.lines] == [
        ("洗衣粉", 10, 8),
        ("食用油", 3, 4),
    ]
    assert (sheet.stocktake.counted_by, sheet.recorder, sheet.differing, sheet.surplus, sheet.shortage) == (
        "王秀兰、李春梅",
        "李店长",
        2,
        1,
        2,
    )
    assert registers.stocktakes(ctx, village_id, OCT) == []
    _title, header, *rows = _table(workbooks.stocktakes_xlsx([sheet], home_village(ctx), NOV))
    assert rows == [
        (datetime(2026, 11, 28), "洗衣粉", "袋", 10, 8, -2, "王秀兰、李春梅", "李店长", "季度盘点"),
        (datetime(2026, 11, 28), "食用油", "桶", 3, 4, 1, "王秀兰、李春梅", "李店长", "季度盘点"),
    ]
    # the surplus oil is a lot of its own: no cost, so the value stays that of the three bought
    november = figures.shop_period(ctx, village_id, NOV.start, NOV.end)
    assert november.value_fen == 3 * 6500 and november.stock == 12


def test_donations_are_traced_to_redemptions_first_in_first_out(ctx, village_id, shop_data):
    d = shop_data
    shop.receive_stock(
        ctx, d["soap"], MoveKind.DONATION, 5, None, donor="爱心企业甲", moved_on=date(2026, 10, 1)
    )
    shop.receive_stock(ctx, d["soap"], MoveKind.DONATION, 5, None, donor="爱心人士乙")
    shop.receive_stock(ctx, d["oil"], MoveKind.DONATION, 2, None, donor="爱心企业甲")
    ctx.commit()
    set_clock(datetime(2026, 10, 20, 2, 0))
    _redeem(ctx, village_id, d, (d["soap"], 6))
    shop.save_goods(ctx, village_id, {"name": "洗衣粉", "spec": "袋", "price": 35}, d["chair"].id, d["soap"])
    ctx.commit()
    _redeem(ctx, village_id, d, (d["soap"], 1), (d["oil"], 1))
    shop.record_loss(ctx, d["soap"], 1, "破损", None)
    ctx.commit()
    board = registers.trace_donations(ctx, village_id)
    assert [
        (t.name, t.given, t.redeemed, t.other_out, t.on_shelf, t.redeemed_points, t.worth) for t in board
    ] == [
        ("爱心企业甲", 7, 6, 0, 1, 5 * 30 + 60, 5 * 30 + 2 * 60),
        ("爱心人士乙", 5, 2, 1, 2, 30 + 35, 5 * 30),
    ]
    first = registers.trace_donor(ctx, village_id, "爱心企业甲")
    assert [(lot.goods.name, lot.given_on, lot.qty, lot.redeemed, lot.on_shelf) for lot in first.lots] == [
        ("洗衣粉", date(2026, 10, 1), 5, 5, 0),
        ("食用油", date(2026, 10, 5), 2, 1, 1),
    ]
    assert [(g.name, n) for g, n in first.goods_given] == [("洗衣粉", 5), ("食用油", 2)]
    with pytest.raises(DomainError) as info:
        registers.trace_donor(ctx, village_id, "没有这个人")
    assert info.value.code == "unknown_donor"
    # the workbook says the same
    table = _table(workbooks.donors_xlsx(board, home_village(ctx)))
    assert _row(table, "爱心人士乙")[2:8] == (5, 2, 1, 2, 65, 150)
    detail = _table(workbooks.donor_xlsx(first, home_village(ctx)))
    assert _row(detail, "合计")[3:9] == (7, 6, 0, 1, 210, 270)


def test_text_that_looks_like_a_formula_stays_text_in_workbooks(ctx, village_id, shop_data):
    shop.receive_stock(ctx, shop_data["soap"], MoveKind.DONATION, 1, None, donor='=HYPERLINK("http://x","y")')
    ctx.commit()
    data = workbooks.donors_xlsx(registers.trace_donations(ctx, village_id), home_village(ctx))
    cell = openpyxl.load_workbook(io.BytesIO(data)).active["A3"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x","y")', "s")


def test_public_name_hides_phone_numbers():
    assert registers.public_name("张三 13912345678") == "张三 ****"
    assert registers.public_name("爱心企业甲") == "爱心企业甲"


# --- workbooks --------------------------------------------------------------------------------


def test_monthly_and_daily_workbooks_hold_the_figures(ctx, village_id, shop_data):
    d = shop_data
    _october(ctx, village_id, d)
    village = home_village(ctx)
    october = figures.shop_period(ctx, village_id, OCT.start, OCT.end)
    summary = _table(workbooks.monthly_xlsx(october, village, OCT), "汇总")
    assert summary[0][0] == "测试县测试镇测试村 积分超市月报 2026年10月"
    assert _row(summary, "净兑换积分")[1] == 120
    assert _row(summary, "库存金额（元）")[1] == 260.0
    goods = _table(workbooks.monthly_xlsx(october, village, OCT), "商品进出")
    assert _row(goods, "洗衣粉") == ("洗衣粉", "袋", 0, 10, 0, 2, 0, 1, 0, 7, 7, 0.0)
    assert _row(goods, "食用油") == ("食用油", "桶", 0, 0, 5, 1, 0, 0, 0, 4, 0, 260.0)
    assert _row(goods, "合计")[9] == 11
    days = _table(workbooks.monthly_xlsx(october, village, OCT), "每日")
    assert len(days) == 2 + 31 + 1 and days[-1][:3] == ("合计", 1, 120)
    sixth = figures.shop_period(ctx, village_id, date(2026, 10, 6), date(2026, 10, 7))
    lines = _table(workbooks.daily_xlsx(sixth, village), "兑换明细")
    assert [(r[3], r[4], r[5], r[6], r[8]) for r in lines[2:4]] == [
        ("张桂花", "洗衣粉", 2, 30, "李店长"),
        ("张桂花", "食用油", 1, 60, "李店长"),
    ]
    assert lines[0][0] == "2026-10-06 兑换明细" and near(lines[2][0], datetime(2026, 10, 6, 11, 0))
    intakes = _table(workbooks.monthly_xlsx(october, village, OCT), "入库明细")
    assert [(r[2], r[3], r[4], r[5], r[6], r[7]) for r in intakes[2:]] == [
        ("捐赠入库", "洗衣粉", 10, "爱心企业甲", None, None),
        ("采购入库", "食用油", 5, None, "妇联经费", 65.0),
    ]


def test_price_list_workbook_has_prices_and_every_change(ctx, village_id, shop_data):
    d = shop_data
    set_clock(datetime(2026, 11, 10, 2, 0))
    shop.save_goods(ctx, village_id, {"name": "洗衣粉", "spec": "袋", "price": 35}, d["chair"].id, d["soap"])
    ctx.commit()
    data = workbooks.prices_xlsx(registers.price_list(ctx, village_id), home_village(ctx))
    prices = _table(data, "分值对应表")
    assert _row(prices[2:], 1)[1:4] == ("洗衣粉", "袋", 35)
    changes = _table(data, "调整记录")
    assert [r[:3] + r[5:] for r in changes[2:]] == [
        ("洗衣粉", "袋", 30, "王主席"),
        ("洗衣粉", "袋", 35, "王主席"),
        ("食用油", "桶", 60, "王主席"),
    ]
    assert near(changes[2][3], datetime(2026, 10, 5, 10, 0)) and near(
        changes[2][4], datetime(2026, 11, 10, 10, 0)
    )


# --- pages ------------------------------------------------------------------------------------


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def traded(app, village_id, people):
    """October's trade, a donor with a phone number in the name, and in November a stocktake and a price
    change — written in an app context of its own, so that each request of the test gets a fresh one."""
    with app.app_context():
        session = db.session
        d = _shop(session, village_id, *people)
        _october(session, village_id, d)
        shop.receive_stock(session, d["oil"], MoveKind.DONATION, 2, None, donor="李四/王五 13800001111")
        session.commit()
        set_clock(datetime(2026, 11, 20, 2, 0))
        shop.record_stocktake(
            session, village_id, date(2026, 11, 20), "王秀兰", {d["soap"].id: 6}, d["chair"].id
        )
        shop.save_goods(
            session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 35}, d["chair"].id, d["soap"]
        )
        session.commit()


def test_staff_see_every_report_and_ledger_page(login_as, traded):
    for role in ("chair", "shopkeeper"):
        client = login_as(role)
        expected = {
            "/shop/reports/": ["物资盘点台账", "分值对应表", "积分兑换（领取）台账", "爱心榜"],
            "/shop/reports/daily?day=2026-10-06": [
                "积分超市日报",
                "2026-10-06",
                "张桂花",
                "李店长",
                "260.00",
            ],
            "/shop/reports/monthly?month=2026-10": [
                "积分超市月报",
                "2026年10月",
                "爱心企业甲",
                "260.00",
                "120",
            ],
            "/shop/reports/ledgers/stocktakes?month=2026-11": [
                "物资盘点台账",
                "王秀兰",
                "2026-11-20",
                "盘亏 1 件",
            ],
            "/shop/reports/ledgers/prices": [
                "分值对应表",
                "35 分",
                "30 分（2026-10-05 至 2026-11-20）",
                "王主席",
            ],
            "/shop/reports/ledgers/redemptions?month=2026-10": [
                "积分兑换（领取）台账",
                "张桂花",
                "洗衣粉 ×2",
                "30 分",
            ],
            "/shop/reports/donors": ["爱心榜", "爱心企业甲", "李四/王五 13800001111"],
            "/shop/reports/donor?name=爱心企业甲": ["捐赠去向", "爱心企业甲", "洗衣粉"],
            "/shop/reports/donor?name=李四/王五 13800001111": ["捐赠去向", "食用油"],
        }
        for url, words in expected.items():
            response = client.get(url)
            page = response.get_data(as_text=True)
            assert response.status_code == 200, (role, url)
            for word in words:
                assert word in page, (role, url, word)


def test_every_page_has_a_workbook_with_the_same_numbers(login_as, traded):
    client = login_as("shopkeeper")
    for url in (
        "/shop/reports/daily.xlsx?day=2026-10-06",
        "/shop/reports/monthly.xlsx?month=2026-10",
        "/shop/reports/ledgers/stocktakes.xlsx?month=2026-11",
        "/shop/reports/ledgers/prices.xlsx",
        "/shop/reports/ledgers/redemptions.xlsx?month=2026-10",
        "/shop/reports/donors.xlsx",
        "/shop/reports/donor.xlsx?name=爱心企业甲",
        "/shop/reports/donor.xlsx?name=李四/王五 13800001111",
    ):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == XLSX, url
        assert "attachment" in response.headers["Content-Disposition"]
        assert _table(response.data), url
    register = _table(client.get("/shop/reports/ledgers/redemptions.xlsx?month=2026-10").data)
    assert _row(register, "本月兑换合计")[7] == 120
    stocktake = _table(client.get("/shop/reports/ledgers/stocktakes.xlsx?month=2026-11").data)
    assert stocktake[2][1:6] == ("洗衣粉", "袋", 7, 6, -1)


def test_a_mistyped_month_or_day_says_so_and_shows_the_current_one(login_as, traded):
    client = login_as("chair")
    response = client.get("/shop/reports/monthly?month=2026-13")
    assert response.status_code == 302 and response.headers["Location"].endswith("/shop/reports/monthly")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "月份“2026-13”不对" in page and "2026年11月" in page
    response = client.get("/shop/reports/daily.xlsx?day=yesterday", follow_redirects=True)
    assert response.request.path == "/shop/reports/daily"  # the page says what was wrong, not a download
    assert "日期“yesterday”不对" in response.get_data(as_text=True)
    assert client.get("/shop/reports/donor?name=nobody").status_code == 404
    assert client.get("/shop/reports/donor").status_code == 404


def test_panel_and_strangers_may_not_see_the_shop_books(login_as, client, traded):
    assert login_as("panel").get("/shop/reports/monthly").status_code == 403
    assert client.get("/shop/reports/donors").status_code == 302  # to the log-in page


def test_public_honour_board_shows_donors_without_phone_numbers(client, traded):
    page = client.get("/shop/reports/public/donors").get_data(as_text=True)
    assert "爱心榜" in page and "爱心企业甲" in page and "李四/王五 ****" in page
    assert "13800001111" not in page and "13912345678" not in page
    assert "已兑换给农户 2 件" in page
    assert "/shop/reports/donor" not in page  # no link into the staff pages


#: donors whose names once made wrong or shared addresses (the name was in the path), each giving its
#: own quantity of soap: "爱心.xlsx" opened 爱心's workbook, "/lead" a 404, and a name stored with a control
#: character (before the text rule) shared its link with the same name typed with a backslash
ODD_DONORS = {
    "爱心": 1,
    "爱心.xlsx": 2,
    "/lead": 3,
    "爱心\x07企业": 4,
    "爱心\\x07企业": 5,
    ".": 6,
    "..": 7,
}


@pytest.fixture
def odd_donors(app, village_id, people):
    with app.app_context():
        session = db.session
        d = _shop(session, village_id, *people)
        for name, qty in ODD_DONORS.items():
            # stored as it is, as the version before the text rule did (a control character could be saved)
            move_stock(session, d["soap"], MoveKind.DONATION, qty, None, donor=name)
        session.commit()


def test_every_donor_has_one_address_of_its_own(login_as, odd_donors):
    client = login_as("shopkeeper")
    board = client.get("/shop/reports/donors").get_data(as_text=True)
    links = re.findall(r'href="(/shop/reports/donor\?name=[^"]*)"', board)
    keys = {parse_qs(urlsplit(html.unescape(link)).query)["name"][0]: link for link in links}
    # one link a donor, none shared, each the donor's name (a backslash doubled, a control character escaped)
    assert sorted(keys) == sorted(registers.donor_key(name) for name in ODD_DONORS), links
    assert "爱心\\x07企业" in keys and "爱心\\\\x07企业" in keys
    for name, qty in ODD_DONORS.items():
        shown = visible(name)
        link = html.unescape(keys[registers.donor_key(name)])
        response = client.get(link)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, (name, link)
        assert html.escape(shown) in page
        assert re.search(rf"<dt>捐赠</dt><dd>{qty} 件</dd>", page), (name, link)
        xlsx = re.search(r'href="(/shop/reports/donor\.xlsx\?name=[^"]*)"', page)[1]
        response = client.get(html.unescape(xlsx))
        assert response.status_code == 200 and response.mimetype == XLSX, (name, xlsx)
        assert _row(_table(response.data), "合计")[3] == qty, name
    # a saved link of the old kind still opens its donor's page
    old = client.get("/shop/reports/donors/爱心")
    assert old.status_code == 301 and old.headers["Location"].endswith(
        "/shop/reports/donor?name=%E7%88%B1%E5%BF%83"
    )
    old = client.get("/shop/reports/donors/爱心.xlsx", follow_redirects=True)
    assert old.mimetype == XLSX and _row(_table(old.data), "合计")[3] == 1


def test_donor_keys_read_back_to_the_names_they_stand_for():
    for name in [*ODD_DONORS, "a\\b", "\\", "x\\u00e9", "\u200b", "爱心企业甲"]:
        key = registers.donor_key(name)
        assert registers.donor_name(key) == name, (name, key)
        assert not any(ord(c) < 32 for c in key)


def test_goods_page_links_to_the_reports(login_as, traded):
    assert "/shop/reports/" in login_as("shopkeeper").get("/shop/goods").get_data(as_text=True)


def test_report_queries_stay_within_the_village(ctx, village_id, shop_data):
    from pointsmart.org.models import Village

    other = Village(code="620123105298", name="邻村")
    ctx.add(other)
    ctx.flush()
    stranger = Goods(village_id=other.id, name="外村商品", price=5, stock=0)
    ctx.add(stranger)
    ctx.flush()
    shop.receive_stock(ctx, stranger, MoveKind.DONATION, 3, None, donor="外村企业")
    ctx.commit()
    assert registers.trace_donations(ctx, village_id) == []
    period = figures.shop_period(ctx, village_id, OCT.start, OCT.end)
    assert period.donated == 0 and "外村商品" not in [f.goods.name for f in period.goods]
    assert ctx.scalar(sa.select(sa.func.count()).select_from(Goods)) == 3


def test_the_donors_of_a_month_are_the_donations_dated_in_it(app, village_id, login_as):
    """``/shop/reports/donors?month=``: the donations written down in the month (a receipt typed in
    later counts on its paper's day), each traced to now; a month that is no month is refused, naming
    the field (422, never the whole board under the month asked for, never a 500)."""
    set_clock(datetime(2026, 12, 3, 2))  # 3 December, 10:00 in the village
    with app.app_context():
        soap = shop.save_goods(db.session, village_id, {"name": "洗衣粉", "price": 10}, None)
        for donor, qty, day in (
            ("十月的捐赠", 2, date(2026, 10, 5)),
            ("十一月的捐赠", 4, date(2026, 11, 10)),
            ("补登的捐赠", 3, date(2026, 11, 28)),
            ("今天的捐赠", 1, None),
        ):
            shop.receive_stock(db.session, soap, MoveKind.DONATION, qty, None, donor=donor, moved_on=day)
        db.session.commit()
    client = login_as("shopkeeper")
    everyone = ("十月的捐赠", "十一月的捐赠", "补登的捐赠", "今天的捐赠")

    def shown(query: str) -> set[str]:
        response = client.get(f"/shop/reports/donors{query}")
        assert response.status_code == 200, query
        page = response.get_data(as_text=True)
        return {name for name in everyone if name in page}

    assert shown("") == set(everyone)
    assert shown("?month=2026-11") == {"十一月的捐赠", "补登的捐赠"}
    assert shown("?month=2026年10月") == {"十月的捐赠"}
    assert shown("?month=2026-12") == {"今天的捐赠"}
    assert shown("?month=2026-09") == set()
    assert "2026年11月收到的捐赠和去向" in client.get("/shop/reports/donors?month=2026-11").get_data(
        as_text=True
    )
    book = client.get("/shop/reports/donors.xlsx?month=2026-11")
    assert book.status_code == 200 and book.mimetype == XLSX
    names = {cell for row in _table(book.data) for cell in row if isinstance(cell, str)}
    assert {"十一月的捐赠", "补登的捐赠"} <= names and not names & {"十月的捐赠", "今天的捐赠"}
    for bad in ("2026-13", "2026-Q4", "x" * 500, "<script>", "2026-11-01", "%00"):
        for path in ("/shop/reports/donors", "/shop/reports/donors.xlsx"):
            response = client.get(path, query_string={"month": bad})
            assert response.status_code == 422, (path, bad, response.status_code)
            text = html.unescape(response.get_data(as_text=True))
            assert "月份“" in text and "应写成 2026-11" in text, (path, bad)
            assert not any(name in text for name in everyone)
