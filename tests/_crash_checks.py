"""The books the crash test checks after every restart (see ``tests/test_crash.py``).

:func:`check_books` reads the whole village in one snapshot while no request runs, and fails on the
first thing out of place. Each invariant is one function:

- :func:`check_sales` — ``ledger verify`` clean; every redemption has its transfer (household → shop,
  its points), its lines (adding up to its points), its stock moves (minus its lines) and one audit
  entry; every household holds its opening points less its redemptions; every goods' stock is the
  sum of its moves and its opening stock less what was redeemed;
- :func:`check_keys` — every stored idempotency key is one a counter sent; every answer a counter got
  is the stored one; every 201 stored names a redemption of the card's household, no two keys the
  same one, and every redemption is under a key; every refusal has its audit entry. A key stored but
  never answered (committed, then the kill) gets its stored answer as :attr:`Sale.expected`;
- :func:`check_change_log` — sequence 1..head with no gap, the digest chain and running totals
  recompute, the head row agrees, and the log holds every transfer, redemption and stock move
  exactly once, with the same amounts and stock;
- :func:`check_scores` — every score answered 2xx is stored (a save cut off by the kill left the old
  value or its own).
"""

from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from pointsmart.audit.models import AuditEntry
from pointsmart.extensions import db
from pointsmart.idempotency import IdempotencyRecord
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Account, Transfer
from pointsmart.scoring.models import Score
from pointsmart.shop.models import Goods, Redemption, RedemptionLine, StockMove
from pointsmart.sync import outbox, wire
from pointsmart.sync.models import ChangeRecord, OutboxHead

from ._crash_traffic import Counter, Panel


@dataclass
class World:
    """What the test prepared: the figures the checks compare the database with."""

    #: household id → (account id, opening points)
    households: dict[int, tuple[int, int]]
    #: card text (number or URL) → household id
    cards: dict[str, int]
    #: goods id → (price, opening stock)
    goods: dict[int, tuple[int, int]]
    shop_account: int
    #: (user id, API token) of the counters: two shopkeepers and the chair
    operators: list[tuple[int, str]]
    #: user names of the two panel members
    panel: list[str]
    round_id: int
    round_criteria: list[int]


@dataclass
class Books:
    redemptions: int
    refusals: int
    log_head: int


def check_books(app, world: World, counters: list[Counter], panels: list[Panel]) -> Books:
    """Every check above, in one snapshot; sets ``expected`` on sales committed but not answered."""
    with app.app_context():
        s = db.session
        if s.get_bind().dialect.name == "postgresql":  # one snapshot for all the reads below
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            reds = {
                row.id: row
                for row in s.execute(
                    sa.select(Redemption.id, Redemption.uuid, Redemption.household_id, Redemption.points,
                              Redemption.status, Redemption.transfer_id, Redemption.balance_after)
                )
            }  # fmt: skip
            transfers = {
                row.id: row
                for row in s.execute(
                    sa.select(Transfer.id, Transfer.uuid, Transfer.from_account_id, Transfer.to_account_id,
                              Transfer.amount, Transfer.kind, Transfer.ref)
                )
            }  # fmt: skip
            stock = check_sales(s, world, reds, transfers)
            refusals = check_keys(s, world, counters, reds)
            head = check_change_log(s, world, reds, transfers, stock)
            check_scores(s, world, panels)
            return Books(len(reds), refusals, head)
        finally:
            s.rollback()
            db.session.remove()


def check_sales(s, world: World, reds: dict, transfers: dict) -> dict[int, int]:
    """The ledger, the redemptions and the stock agree; returns goods id → stock."""
    report = ledger.verify(s)
    assert report.ok and not report.negative_households, report
    lines: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    price_of_lines: dict[int, int] = defaultdict(int)
    redeemed_qty: dict[int, int] = defaultdict(int)
    for red_id, goods_id, qty, unit_price in s.execute(
        sa.select(RedemptionLine.redemption_id, RedemptionLine.goods_id, RedemptionLine.qty,
                  RedemptionLine.unit_price)
    ):  # fmt: skip
        lines[red_id][goods_id] += qty
        price_of_lines[red_id] += qty * unit_price
        redeemed_qty[goods_id] += qty
    moved: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for red_id, goods_id, qty in s.execute(
        sa.select(StockMove.redemption_id, StockMove.goods_id, StockMove.qty).where(
            StockMove.redemption_id.is_not(None)
        )
    ):
        moved[red_id][goods_id] += qty
    spent: dict[int, int] = defaultdict(int)
    for red in reds.values():
        transfer = transfers[red.transfer_id]
        account_id = world.households[red.household_id][0]
        assert (transfer.from_account_id, transfer.to_account_id, transfer.amount, transfer.kind) == (
            account_id, world.shop_account, red.points, "redemption"), (red, transfer)  # fmt: skip
        assert transfer.ref == f"redemption:{red.uuid}" and red.status == "done", (red, transfer)
        assert price_of_lines[red.id] == red.points, red
        assert {g: -q for g, q in moved[red.id].items()} == dict(lines[red.id]), red
        spent[red.household_id] += red.points
    assert sum(t.kind == "redemption" for t in transfers.values()) == len(reds)
    assert set(moved) <= set(reds)
    balances = dict(s.execute(sa.select(Account.id, Account.balance)).all())
    for household_id, (account_id, opening) in world.households.items():
        assert balances[account_id] == opening - spent[household_id], household_id
    audited = Tally(
        s.scalars(sa.select(AuditEntry.target_id).where(AuditEntry.action == "shop.redemption.done"))
    )
    assert audited == Tally(str(red_id) for red_id in reds), "one audit entry per redemption"

    stock = dict(s.execute(sa.select(Goods.id, Goods.stock)).all())
    moves = dict(
        s.execute(
            sa.select(StockMove.goods_id, sa.func.sum(StockMove.qty)).group_by(StockMove.goods_id)
        ).all()
    )
    for goods_id, (_price, opening) in world.goods.items():
        assert stock[goods_id] == moves[goods_id] == opening - redeemed_qty[goods_id] >= 0, goods_id
    return stock


def _answer(status: int, response: dict, by_uuid: dict) -> tuple[int, dict]:
    """The answer a retry gets from a stored record: a success stores the redemption's uuid (written
    with the key's claim), the answer is that redemption as the API shows it; a refusal stores its body."""
    red = by_uuid.get(response.get("uuid")) if status == 201 else None
    if red is None:
        return status, response
    return 201, {"id": red.id, "uuid": red.uuid, "points": red.points, "balance_after": red.balance_after}


def check_keys(s, world: World, counters: list[Counter], reds: dict) -> int:
    """The stored idempotency keys and the answers the counters got agree; returns the refusals stored."""
    by_uuid = {red.uuid: red for red in reds.values()}
    stored = {
        (scope, key): _answer(status, response, by_uuid)
        for scope, key, status, response in s.execute(
            sa.select(IdempotencyRecord.scope, IdempotencyRecord.key, IdempotencyRecord.status,
                      IdempotencyRecord.response).where(IdempotencyRecord.scope.like("redemption:%"))
        )
    }  # fmt: skip
    sales = {(sale.scope, sale.key): sale for counter in counters for sale in counter.sales}
    assert not stored.keys() - sales.keys(), f"keys no client sent: {stored.keys() - sales.keys()}"
    for ident, sale in sales.items():
        found = stored.get(ident)
        if sale.answers:
            assert found == sale.answers[0], f"key {sale.key}: answered {sale.answers[0]}, stored {found}"
        elif found is not None:  # committed, but the answer never reached the counter: a retry gets it
            sale.expected = found
    sold = {}
    for (scope, key), (status, response) in stored.items():
        assert status in (201, 409), f"key {key} stored with status {status}: {response}"
        if status == 201:
            red = reds.get(response.get("id"))
            assert red is not None, (
                f"key {key} answered 201 with {response}, a redemption not in the database"
            )
            assert (red.uuid, red.points) == (response["uuid"], response["points"]), (red, response)
            assert red.household_id == world.cards[sales[(scope, key)].card], (red, key)
            assert response["id"] not in sold, (
                f"keys {sold.get(response['id'])} and {key} share redemption {red}"
            )
            sold[response["id"]] = key
    assert set(sold) == set(reds), f"redemptions under no key: {set(reds) - set(sold)}"
    refusals = sum(status == 409 for status, _r in stored.values())
    audited_refusals = s.scalar(
        sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "shop.redemption.refused")
    )
    assert audited_refusals == refusals, (audited_refusals, refusals)
    return refusals


def check_change_log(s, world: World, reds: dict, transfers: dict, stock: dict[int, int]) -> int:
    """1..head, no gap, chain and totals recompute, and it holds what happened; returns the head."""
    head = s.execute(sa.select(OutboxHead.seq, OutboxHead.digest, OutboxHead.balance_sum,
                               OutboxHead.transfer_count).where(OutboxHead.id == 1)).one()  # fmt: skip
    digest, balance_sum, transfer_count, expected_seq = "", 0, 0, 0
    logged_transfers: dict[str, int] = {}
    logged_redemptions: set[str] = set()
    logged_moves: dict[str, tuple[str, int]] = {}
    for seq, kind, uuid, payload, row_digest, row_sum, row_count in s.execute(
        sa.select(ChangeRecord.seq, ChangeRecord.kind, ChangeRecord.uuid, ChangeRecord.payload,
                  ChangeRecord.digest, ChangeRecord.balance_sum, ChangeRecord.transfer_count)
        .order_by(ChangeRecord.seq)
    ):  # fmt: skip
        expected_seq += 1
        assert seq == expected_seq, f"change log jumps from {expected_seq - 1} to {seq}"
        digest = wire.chain(digest, wire.record_bytes(seq, kind, uuid, payload.encode()))
        assert row_digest == digest, f"digest chain broken at {seq}"
        if kind == "transfer":
            body = wire.decode(payload)
            assert uuid not in logged_transfers, f"transfer {uuid} logged twice"
            logged_transfers[uuid] = body["amount"]
            transfer_count += 1
            balance_sum += outbox.household_delta(body)
        elif kind == "redemption":
            assert uuid not in logged_redemptions, f"redemption {uuid} logged twice (never changed here)"
            logged_redemptions.add(uuid)
        elif kind == "stock_move":
            body = wire.decode(payload)
            assert uuid not in logged_moves, f"stock move {uuid} logged twice"
            logged_moves[uuid] = (body["goods"], body["qty"])
        assert (row_sum, row_count) == (balance_sum, transfer_count), f"running totals wrong at {seq}"
    assert tuple(head) == (expected_seq, digest, balance_sum, transfer_count), (tuple(head), expected_seq)
    balances = dict(s.execute(sa.select(Account.id, Account.balance)).all())
    household_sum = sum(balances[account_id] for account_id, _o in world.households.values())
    assert balance_sum == household_sum, (balance_sum, household_sum)
    assert logged_transfers == {t.uuid: t.amount for t in transfers.values()}, "log and transfers differ"
    assert logged_redemptions == {red.uuid for red in reds.values()}, "log and redemptions differ"
    assert set(logged_moves) == set(s.scalars(sa.select(StockMove.uuid))), "log and stock moves differ"
    goods_uuid = dict(s.execute(sa.select(Goods.id, Goods.uuid)).all())
    logged_stock: dict[str, int] = defaultdict(int)
    for goods, qty in logged_moves.values():
        logged_stock[goods] += qty
    assert {goods_uuid[g]: stock[g] for g in world.goods} == dict(logged_stock), "log's stock differs"
    return expected_seq


def check_scores(s, world: World, panels: list[Panel]) -> None:
    """What was answered is stored; a save cut off by the kill left the old value or its own."""
    cells = {
        (household_id, criterion_id): times
        for household_id, criterion_id, times in s.execute(
            sa.select(Score.household_id, Score.round_criterion_id, Score.times).where(
                Score.round_id == world.round_id
            )
        )
    }
    for panel in panels:
        for cell in panel.cells:
            allowed = {panel.acked.get(cell, 0)}
            if panel.pending is not None and panel.pending.cell == cell:
                allowed.add(panel.pending.times)
            assert cells.get(cell, 0) in allowed, (
                f"score {cell}: stored {cells.get(cell, 0)}, answered {allowed}"
            )
