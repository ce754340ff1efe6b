"""Cards and the shop through the services: redemption, stock, idempotency, cancellation."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pointsmart import clock, qr
from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.errors import DomainError
from pointsmart.households.models import Household
from pointsmart.idempotency import IdempotencyRecord
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Transfer
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind, Redemption, StockMove
from pointsmart.shop.stock import InsufficientStock
from pointsmart.unit import write


@pytest.fixture
def counter(ctx, village_id, make_user, make_household):
    """A shopkeeper, a chair, a household with 100 points and its card, and two goods in stock."""
    shopkeeper = make_user("shopkeeper")[0]
    chair = make_user("chair")[0]
    hid = make_household(points=100, head_name="王秀兰")
    household = ctx.get(Household, hid)
    card = cards.issue_card(ctx, household, None)
    soap = shop.save_goods(ctx, village_id, {"name": "洗衣粉", "spec": "袋", "price": 30}, None)
    oil = shop.save_goods(ctx, village_id, {"name": "食用油", "spec": "桶", "price": 60}, None)
    shop.receive_stock(ctx, soap, MoveKind.DONATION, 5, None, donor="爱心企业甲")
    shop.receive_stock(ctx, oil, MoveKind.PURCHASE, 1, None, funding_source="妇联经费", cost_fen=6500)
    ctx.commit()
    return {
        "shopkeeper": ctx.get(User, shopkeeper),
        "chair": ctx.get(User, chair),
        "household": household,
        "card": card,
        "soap": soap,
        "oil": oil,
    }


def test_card_number_has_a_check_digit_and_mistypes_are_caught(ctx, counter, village_id):
    number = counter["card"].number
    assert cards.valid_number(number)
    assert cards.find_card(ctx, village_id, number).id == counter["card"].id
    assert (
        cards.find_card(ctx, village_id, f"{number[:4]} {number[4:8]} {number[8:]}").id == counter["card"].id
    )
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(DomainError) as info:
        cards.find_card(ctx, village_id, wrong)
    assert info.value.code == "unknown_card"
    url = f"http://village.test/c/{counter['card'].token}"
    assert cards.find_card(ctx, village_id, url).id == counter["card"].id
    assert len(counter["card"].token) >= 43  # 32 random bytes


def test_revoked_card_is_refused_and_a_new_one_works(ctx, counter, village_id):
    old = counter["card"]
    new = cards.reissue_card(ctx, counter["household"], "丢失", None)
    ctx.commit()
    with pytest.raises(DomainError) as info:
        cards.find_card(ctx, village_id, old.number)
    assert info.value.code == "card_revoked"
    assert cards.find_card(ctx, village_id, new.token).id == new.id
    assert new.token != old.token and new.number != old.number
    with pytest.raises(DomainError):
        cards.issue_card(ctx, counter["household"], None)  # one active card per household


def _stock(ctx, goods):
    ctx.refresh(goods)
    return goods.stock


def test_redemption_moves_points_and_stock_together(ctx, counter, village_id):
    redemption = redemptions.redeem(
        ctx,
        village_id,
        counter["card"],
        [(counter["soap"].id, 1), (counter["oil"].id, 1)],
        counter["shopkeeper"],
    )
    ctx.commit()
    assert (redemption.points, redemption.balance_after) == (90, 10)
    assert counter["household"].balance == 10
    assert (_stock(ctx, counter["soap"]), _stock(ctx, counter["oil"])) == (4, 0)
    assert [(line.goods_name, line.qty, line.unit_price) for line in redemption.lines] == [
        ("洗衣粉", 1, 30),
        ("食用油", 1, 60),
    ]
    assert ledger.verify(ctx).ok


def test_not_enough_points_or_stock_writes_nothing(ctx, counter, village_id):
    before = (
        ctx.scalar(sa.select(sa.func.count(Transfer.id))),
        ctx.scalar(sa.select(sa.func.count(StockMove.id))),
    )
    with pytest.raises(ledger.InsufficientPoints):
        redemptions.redeem(ctx, village_id, counter["card"], [(counter["soap"].id, 4)], counter["shopkeeper"])
    ctx.rollback()
    from pointsmart.households.services import adjust_points

    adjust_points(ctx, counter["household"], 100, "奖励", None)
    ctx.commit()
    before = (
        ctx.scalar(sa.select(sa.func.count(Transfer.id))),
        ctx.scalar(sa.select(sa.func.count(StockMove.id))),
    )
    with pytest.raises(InsufficientStock) as info:
        redemptions.redeem(ctx, village_id, counter["card"], [(counter["oil"].id, 2)], counter["shopkeeper"])
    ctx.rollback()
    assert info.value.code == "insufficient_stock"
    after = (
        ctx.scalar(sa.select(sa.func.count(Transfer.id))),
        ctx.scalar(sa.select(sa.func.count(StockMove.id))),
    )
    assert after == before
    assert counter["household"].balance == 200 and _stock(ctx, counter["oil"]) == 1


def test_price_change_never_reprices_a_past_redemption(ctx, counter, village_id):
    done = redemptions.redeem(
        ctx, village_id, counter["card"], [(counter["soap"].id, 1)], counter["shopkeeper"]
    )
    shop.save_goods(ctx, village_id, {"name": "洗衣粉", "spec": "袋", "price": 35}, None, counter["soap"])
    ctx.commit()
    ctx.refresh(done)
    assert (done.points, done.lines[0].unit_price) == (30, 30)


def test_same_key_twice_redeems_once_and_answers_the_same(ctx, counter, village_id):
    card, soap, shopkeeper = counter["card"].number, counter["soap"].id, counter["shopkeeper"]
    first = redemptions.redeem_once(ctx, village_id, "k-1", [(soap, 1)], shopkeeper, card_text=card)
    ctx.commit()
    again = redemptions.redeem_once(ctx, village_id, "k-1", [(soap, 1)], shopkeeper, card_text=card)
    ctx.commit()
    assert isinstance(first, redemptions.RedemptionDone)
    assert first == again and (first.points, first.balance_after) == (30, 70)
    assert ctx.scalar(sa.select(sa.func.count(Redemption.id))) == 1
    assert counter["household"].balance == 70
    with pytest.raises(DomainError) as info:
        redemptions.redeem_once(ctx, village_id, "k-1", [(soap, 2)], shopkeeper, card_text=card)
    assert info.value.code == "idempotency_key_reused"


def test_a_refused_key_stays_refused(ctx, counter, village_id):
    card, soap, shopkeeper = counter["card"].number, counter["soap"].id, counter["shopkeeper"]
    with pytest.raises(DomainError) as refused, write(ctx):
        redemptions.redeem_once(ctx, village_id, "k-2", [(soap, 4)], shopkeeper, card_text=card)
    assert (refused.value.code, refused.value.status) == ("insufficient_points", 409)
    assert refused.value.keep  # the unit of work committed the record of the refusal
    from pointsmart.households.services import adjust_points

    adjust_points(ctx, counter["household"], 500, "奖励", None)  # now the points would cover it
    ctx.commit()
    with pytest.raises(DomainError) as retry:
        redemptions.redeem_once(ctx, village_id, "k-2", [(soap, 4)], shopkeeper, card_text=card)
    assert (retry.value.code, retry.value.status, retry.value.message, retry.value.extra) == (
        refused.value.code,
        refused.value.status,
        refused.value.message,
        refused.value.extra,
    )
    ctx.rollback()
    assert ctx.scalar(sa.select(sa.func.count(Redemption.id))) == 0
    assert ctx.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 1
    # the refusal wrote nothing but its record and its audit entry: no transfer, no stock move
    assert ctx.scalar(sa.select(sa.func.count(Transfer.id)).where(Transfer.kind == "redemption")) == 0
    assert _stock(ctx, counter["soap"]) == 5
    assert ledger.verify(ctx).ok


def test_a_refusal_by_stock_gives_the_points_and_other_lines_back(ctx, counter, village_id):
    """Oil (1 in stock) asked twice beside soap: the soap taken first goes back, no points move."""
    from pointsmart.households.services import adjust_points

    adjust_points(ctx, counter["household"], 500, "奖励", None)
    ctx.commit()
    basket = [(counter["soap"].id, 1), (counter["oil"].id, 2)]
    with pytest.raises(DomainError) as refused, write(ctx):
        redemptions.redeem_once(
            ctx, village_id, "k-3", basket, counter["shopkeeper"], card_text=counter["card"].number
        )
    assert refused.value.code == "insufficient_stock"
    assert (_stock(ctx, counter["soap"]), _stock(ctx, counter["oil"])) == (5, 1)
    assert counter["household"].balance == 600
    assert ctx.scalar(sa.select(sa.func.count(StockMove.id)).where(StockMove.kind == "redemption")) == 0
    assert ledger.verify(ctx).ok


def test_shopkeeper_cancels_the_same_day_chair_any_day(ctx, counter, village_id):
    first = redemptions.redeem(
        ctx, village_id, counter["card"], [(counter["soap"].id, 1)], counter["shopkeeper"]
    )
    second = redemptions.redeem(
        ctx, village_id, counter["card"], [(counter["soap"].id, 1)], counter["shopkeeper"]
    )
    ctx.commit()
    redemptions.cancel_redemption(ctx, first, "拿错了", counter["shopkeeper"])
    ctx.commit()
    assert counter["household"].balance == 70 and _stock(ctx, counter["soap"]) == 4
    with pytest.raises(DomainError) as info:
        redemptions.cancel_redemption(ctx, first, "again", counter["shopkeeper"])
    assert info.value.code == "already_cancelled"
    clock.advance(timedelta(days=1))
    with pytest.raises(DomainError) as info:
        redemptions.cancel_redemption(ctx, second, "第二天", counter["shopkeeper"])
    assert info.value.code == "cancel_not_allowed"
    ctx.rollback()
    redemptions.cancel_redemption(ctx, second, "第二天由主席撤销", counter["chair"])
    ctx.commit()
    assert counter["household"].balance == 100 and _stock(ctx, counter["soap"]) == 5
    assert ledger.verify(ctx).ok


def test_stocktake_records_differences_as_moves(ctx, counter, village_id):
    from pointsmart.periods import today

    take = shop.record_stocktake(
        ctx,
        village_id,
        today(),  # counted the day the goods came in: the stock it is set against is theirs
        "王秀兰、李春梅",
        {counter["soap"].id: 4, counter["oil"].id: 1},
        None,
    )
    ctx.commit()
    assert [(line.recorded, line.counted) for line in take.lines] == [(5, 4), (1, 1)]
    assert _stock(ctx, counter["soap"]) == 4
    move = ctx.scalar(sa.select(StockMove).where(StockMove.stocktake_id == take.id))
    assert (move.kind, move.qty) == ("stocktake", -1)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_stocktake_dated_outside_any_ledger_month_is_refused(ctx, counter, village_id, day):
    from datetime import date

    with pytest.raises(shop.Invalid) as refused:
        shop.record_stocktake(
            ctx, village_id, date.fromisoformat(day), "王秀兰", {counter["soap"].id: 4}, None
        )
    assert refused.value.extra.get("field") == "counted_on"
    ctx.rollback()


def test_stock_moves_are_append_only(ctx, counter):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        ctx.execute(sa.text("UPDATE stock_move SET qty = 99"))
    ctx.rollback()


def test_mask_name():
    assert [cards.mask_name(n) for n in ("王秀兰", "李四", "欧阳春梅", "王")] == [
        "王*兰",
        "李*",
        "欧**梅",
        "王",
    ]


def test_qr_png_decodes_back_to_the_card_url(counter):
    import io

    import zxingcpp
    from PIL import Image

    url = f"http://village.test/c/{counter['card'].token}"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.qr_png(url))))
    assert [d.text for d in decoded] == [url]


def test_a_refusal_at_the_counter_page_is_audited_with_the_card_number(ctx, counter, village_id):
    from pointsmart.audit.models import AuditEntry

    with pytest.raises(DomainError), write(ctx):
        basket, card_id = [(counter["soap"].id, 4)], counter["card"].id
        redemptions.redeem_once(ctx, village_id, "k-4", basket, counter["shopkeeper"], card_id=card_id)
    entry = ctx.scalar(sa.select(AuditEntry).where(AuditEntry.action == "shop.redemption.refused"))
    assert entry.data["code"] == "insufficient_points"
    assert entry.data["card"] == counter["card"].number
