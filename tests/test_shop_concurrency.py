"""Counters racing at the shop (DESIGN §5: Concurrency, Idempotent writes), on SQLite and PostgreSQL.

- Two counters, one card, points for only one of their baskets: exactly one redemption succeeds, the
  other is told "insufficient points"; the balance and the stock never go below zero.
- Two counters, two cards that can both pay, stock for only one basket: exactly one succeeds, the
  other is told "insufficient stock" and keeps its points.
- The same redemption sent ten times at once with one idempotency key (a counter retrying over a bad
  connection) debits once, and every one of the ten gets the same answer: 201 with the same id.

Workers are threads (each its own app context, session and connection) on both databases, and
separate spawned OS processes (each its own app and engine) on PostgreSQL. A ``Barrier`` lines them
up so the writes overlap; every wait is bounded, so a deadlock fails the test instead of hanging it.
Each worker goes through ``shop.redemptions.redeem_once`` (what the counter page calls) or through
``POST /api/v1/redemptions`` (see ``tests/_concurrency_worker.py``).
"""

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from pointsmart.cards import services as cards
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.idempotency import IdempotencyRecord
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Transfer
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind, Redemption, StockMove

from ._concurrency_worker import attempt
from .conftest import committing
from .races import HOW, race

#: name → (points, stock)
GOODS = {"洗衣粉": (30, 10), "食用油": (50, 5), "毛巾": (20, 1)}
OPENING = 100
#: two baskets that each fit in OPENING points but not both: 60 + 80 > 100
BASKETS = ({"洗衣粉": 2}, {"食用油": 1, "洗衣粉": 1})
#: the thread races are cheap: run them a few times, each on fresh households, to catch a lucky pass
ROUNDS = {"threads": 3, "processes": 1}
RETRIES = 10


# --- the shop -------------------------------------------------------------------------------------


@dataclass
class Card:
    household_id: int
    number: str
    url: str


@pytest.fixture
def goods(app, village_id) -> dict[str, int]:
    """Goods on the shelf (see GOODS); name → id."""
    with committing(app) as session:
        made = {}
        for name, (price, stock) in GOODS.items():
            item = shop.save_goods(session, village_id, {"name": name, "price": price}, None)
            shop.receive_stock(session, item, MoveKind.DONATION, stock, None, donor="爱心企业")
            made[name] = item.id
        return made


@pytest.fixture
def carded(app, make_household):
    """Return a callable: a new household holding ``points`` with an active card."""

    def factory(points: int = OPENING) -> Card:
        household_id = make_household(points=points)
        with committing(app) as session:
            card = cards.issue_card(session, session.get(Household, household_id), None)
            return Card(household_id, card.number, cards.card_url("http://pointsmart.test", card))

    return factory


def lines(goods: dict[str, int], basket: dict[str, int]) -> list[tuple[int, int]]:
    return sorted((goods[name], qty) for name, qty in basket.items())


def points_of(basket: dict[str, int]) -> int:
    return sum(GOODS[name][0] * qty for name, qty in basket.items())


def stock(app) -> dict[str, int]:
    """Every goods' stock by name, read in a fresh session."""
    with app.app_context():
        return dict(db.session.execute(sa.select(Goods.name, Goods.stock)).all())


def assert_books_balance(app) -> None:
    """The ledger adds up (cache = transfers, sum zero, no household below zero); no stock below zero;
    every goods' stock is the sum of its moves."""
    with app.app_context():
        session = db.session
        report = ledger.verify(session)
        assert report.ok and not report.negative_households, report
        cached = dict(session.execute(sa.select(Goods.id, Goods.stock)).all())
        assert all(value >= 0 for value in cached.values()), cached
        moved = session.execute(
            sa.select(StockMove.goods_id, sa.func.sum(StockMove.qty)).group_by(StockMove.goods_id)
        ).all()
        assert cached == {goods_id: int(total) for goods_id, total in moved}


def balance(app, household_id: int) -> int:
    with app.app_context():
        return db.session.get(Household, household_id).balance


def redemptions_of(app, household_id: int) -> list[tuple[int, int]]:
    with app.app_context():
        return db.session.execute(
            sa.select(Redemption.id, Redemption.points).where(Redemption.household_id == household_id)
        ).all()


def replay_alone(app, user_id: int, key: str, card_text: str, basket_lines) -> tuple[str, str]:
    """Send a finished request again, on its own: the first answer comes back, nothing more is written."""
    barrier = threading.Barrier(1)
    return attempt(app, barrier, "redeem", user_id, key, card_text, basket_lines)


def decoded(outcome) -> tuple[int, dict]:
    status, body = outcome
    assert status != "crash", body
    return int(status), json.loads(body)


# --- two counters, one card, points for one basket ------------------------------------------------------


def two_counters_one_card(how, app, db_url, goods, carded, make_user) -> None:
    card = carded()
    counters = [make_user("shopkeeper")[0] for _ in BASKETS]
    stock_before = stock(app)
    jobs = [
        ("redeem", (user_id, uuid.uuid4().hex, text, lines(goods, basket)))
        for user_id, text, basket in zip(counters, (card.url, card.number), BASKETS, strict=True)
    ]
    outcomes = [decoded(o) for o in race(how, app, db_url, jobs)]

    assert Counter(status for status, _body in outcomes) == {201: 1, 409: 1}, outcomes
    winner = next(slot for slot, (status, _body) in enumerate(outcomes) if status == 201)
    won, lost = outcomes[winner][1], outcomes[1 - winner][1]
    assert lost["error"]["code"] == "insufficient_points", lost
    assert "积分不足" in lost["error"]["message"]
    spent = points_of(BASKETS[winner])
    assert (won["points"], won["balance_after"]) == (spent, OPENING - spent)

    assert balance(app, card.household_id) == OPENING - spent >= 0
    assert redemptions_of(app, card.household_id) == [(won["id"], spent)]
    expected = dict(stock_before)
    for name, qty in BASKETS[winner].items():
        expected[name] -= qty
    assert stock(app) == expected
    assert_books_balance(app)

    # the losing counter presses again with the same key: the same refusal, nothing written
    _action, (user_id, key, text, basket_lines) = jobs[1 - winner]
    assert decoded(replay_alone(app, user_id, key, text, basket_lines)) == outcomes[1 - winner]
    assert redemptions_of(app, card.household_id) == [(won["id"], spent)]


@pytest.mark.parametrize("how", HOW)
def test_two_counters_one_card_points_for_one_basket(how, app, db_url, goods, carded, make_user):
    for _round in range(ROUNDS[how]):
        two_counters_one_card(how, app, db_url, goods, carded, make_user)


# --- two counters, two cards, stock for one basket --------------------------------------------------


def stock_for_one_basket(how, app, db_url, goods, carded, make_user) -> None:
    """Two households that can both pay race for the last towel (stock topped up to 1 each round)."""
    with committing(app) as session:
        towel = session.get(Goods, goods["毛巾"])
        if towel.stock == 0:
            shop.receive_stock(session, towel, MoveKind.DONATION, 1, None, donor="爱心人士")
    first, second = carded(), carded()
    jobs = [
        ("redeem", (make_user("shopkeeper")[0], uuid.uuid4().hex, card.number, lines(goods, {"毛巾": 1})))
        for card in (first, second)
    ]
    outcomes = [decoded(o) for o in race(how, app, db_url, jobs)]

    assert Counter(status for status, _body in outcomes) == {201: 1, 409: 1}, outcomes
    winner = next(slot for slot, (status, _body) in enumerate(outcomes) if status == 201)
    lost = outcomes[1 - winner][1]
    assert lost["error"]["code"] == "insufficient_stock", lost
    assert "库存不足" in lost["error"]["message"]
    won_card, lost_card = (first, second) if winner == 0 else (second, first)
    price = GOODS["毛巾"][0]
    assert balance(app, won_card.household_id) == OPENING - price
    assert balance(app, lost_card.household_id) == OPENING  # its points went back with the refusal
    assert len(redemptions_of(app, won_card.household_id)) == 1
    assert redemptions_of(app, lost_card.household_id) == []
    assert stock(app)["毛巾"] == 0
    assert_books_balance(app)


@pytest.mark.parametrize("how", HOW)
def test_stock_for_one_of_two_baskets(how, app, db_url, goods, carded, make_user):
    for _round in range(ROUNDS[how]):
        stock_for_one_basket(how, app, db_url, goods, carded, make_user)


# --- one request, ten times, one key ---------------------------------------------------------------


def ten_times_one_key(how, app, db_url, goods, carded, api_token) -> None:
    card = carded()
    token = api_token("shopkeeper")
    key = str(uuid.uuid4())
    basket = {"洗衣粉": 1, "食用油": 1}
    stock_before = stock(app)
    jobs = [("redeem_api", (token, key, card.url, lines(goods, basket)))] * RETRIES
    outcomes = race(how, app, db_url, jobs)

    assert all(status != "crash" for status, _body in outcomes), outcomes
    assert len(set(outcomes)) == 1, Counter(outcomes)  # every answer identical, byte for byte
    status, body = decoded(outcomes[0])
    spent = points_of(basket)
    assert status == 201 and body["points"] == spent and body["balance_after"] == OPENING - spent, body

    assert redemptions_of(app, card.household_id) == [(body["id"], spent)]
    assert balance(app, card.household_id) == OPENING - spent
    with app.app_context():
        session = db.session
        account_id = session.get(Household, card.household_id).account_id
        debits = session.scalar(
            sa.select(sa.func.count(Transfer.id)).where(Transfer.from_account_id == account_id)
        )
        assert debits == 1
        assert session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 1
    expected = dict(stock_before)
    for name, qty in basket.items():
        expected[name] -= qty
    assert stock(app) == expected
    assert_books_balance(app)


@pytest.mark.parametrize("how", HOW)
def test_same_redemption_ten_times_with_one_key_debits_once(how, app, db_url, goods, carded, api_token):
    ten_times_one_key(how, app, db_url, goods, carded, api_token)
