"""Redemptions and their cancellation: a basket checked against its limits, points exchanged for
goods in one transaction (and once per idempotency key), a redemption undone, the day's redemptions
listed. Functions flush, never commit.

The stock rules shared with the goods side (the conditional update of stock, the lock order goods →
points, the shop's errors) are in :mod:`.stock`.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from .. import changes
from ..audit.services import record
from ..auth.models import Role, User
from ..cards.models import Card
from ..clock import utcnow
from ..errors import DomainError, Invalid, NotFound
from ..households.models import Household
from ..idempotency import once
from ..ledger import services as ledger
from ..ledger.models import AccountKind, TransferKind
from ..months import guard as month_guard
from ..periods import day_window, local_day, parse_day, today
from ..text import checked
from .models import Goods, MoveKind, Redemption, RedemptionLine, RedemptionStatus, StockMove
from .stock import InsufficientStock, ShopError, move_stock

#: the longest reason of a cancelled redemption
MAX_REASON = 200
#: a basket: at most this many of one goods item, and this many lines (the counter and the API read these)
MAX_QTY, MAX_LINES = 1000, 50


def _merge(lines) -> dict[int, int]:
    """Check and merge the lines of a basket: ``[(goods_id, qty), …]`` → ``{goods_id: qty}``."""
    lines = list(lines)
    if len(lines) > MAX_LINES:
        raise Invalid(_("一次最多兑换 %(n)s 种商品。", n=MAX_LINES), code="basket_too_big")
    merged: dict[int, int] = defaultdict(int)
    for goods_id, qty in lines:
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0 or not isinstance(goods_id, int):
            raise Invalid(_("每件商品的数量必须是正整数。"), code="invalid_qty")
        if qty > MAX_QTY:  # a line's, as the API's schema says (the stock bounds a sum of lines)
            raise Invalid(_("每件商品的数量最多 %(n)s。", n=MAX_QTY), code="invalid_qty")
        merged[goods_id] += qty
    if not merged:
        raise Invalid(_("请至少选择一件商品。"), code="empty_basket")
    return merged


@dataclass(frozen=True)
class Taken:
    """A basket line taken off the shelf, with what the goods cost at that moment."""

    goods_id: int
    qty: int
    price: int
    name: str


def _forget_stock(session: Session, goods_id: int) -> None:
    loaded = session.identity_map.get(sa.inspect(Goods).identity_key_from_primary_key((goods_id,)))
    if loaded is not None:
        session.expire(loaded, ["stock"])


def _give_back(session: Session, taken: list[Taken]) -> None:
    """Undo :func:`_take_goods` (a refusal after it): the stock is as it was, nothing is left written."""
    table = Goods.__table__
    for line in taken:
        session.execute(
            sa.update(table).where(table.c.id == line.goods_id).values(stock=table.c.stock + line.qty)
        )


def _why_not(session: Session, village_id: int, goods_id: int, qty: int) -> DomainError:
    """Why a basket line could not be taken: unknown goods, goods off the shelf, or too little stock."""
    table = Goods.__table__
    found = session.execute(
        sa.select(table.c.village_id, table.c.active, table.c.name, table.c.stock).where(
            table.c.id == goods_id
        )
    ).first()
    if found is None or found.village_id != village_id:
        return NotFound(_("找不到这件商品。"), code="unknown_goods")
    if not found.active:
        return ShopError(_("%(name)s 已下架。", name=found.name), code="goods_inactive")
    return InsufficientStock(
        _("%(name)s 库存不足：现有 %(stock)s，需要 %(qty)s。", name=found.name, stock=found.stock, qty=qty),
        goods_id=goods_id,
        stock=found.stock,
    )


_goods = Goods.__table__
#: built once: the counter runs it for every line of every basket
_TAKE = (
    sa.update(_goods)
    .where(
        _goods.c.id == sa.bindparam("goods_id"),
        _goods.c.village_id == sa.bindparam("in_village"),
        _goods.c.active.is_(True),
        _goods.c.stock >= sa.bindparam("qty"),
        month_guard.NOT_CLOSED,  # goods leave the shelf only in an open month (月结)
    )
    .values(stock=_goods.c.stock - sa.bindparam("qty"))
    .returning(_goods.c.price, _goods.c.name, _goods.c.uuid)
)


def _take_goods(session: Session, village_id: int, basket: dict[int, int]) -> list[Taken]:
    """Take each line off the shelf with one conditional ``UPDATE … RETURNING`` (price, name, uuid).

    The condition (this village's goods, on the shelf, enough stock) is checked by the database on the
    row it updates, so two counters cannot both take the last towel. Lines go in goods-id order, before
    any points move — the order a cancellation locks in too. A line that cannot be taken gives back the
    lines taken before it and raises, leaving nothing written.

    :raises InsufficientStock, ShopError, NotFound: see :func:`_why_not`.
    """
    taken: list[Taken] = []
    month = month_guard.month_of_time()
    for goods_id in sorted(basket):
        qty = basket[goods_id]
        row = session.execute(
            _TAKE, {"goods_id": goods_id, "in_village": village_id, "qty": qty, "open_month": month}
        ).first()
        if row is None:
            _give_back(session, taken)
            month_guard.refuse_month(session, month, village_id)
            raise _why_not(session, village_id, goods_id, qty)
        month_guard.found_open(session, month, village_id)
        changes.known_uuid(session, Goods, goods_id, row.uuid)
        _forget_stock(session, goods_id)
        taken.append(Taken(goods_id, qty, row.price, row.name))
    return taken


def _id_of(obj) -> int:
    """A loaded row's primary key, without the refresh that reading ``obj.id`` sends once the row has
    expired (every object loaded before a ``write()`` block has)."""
    return sa.inspect(obj).identity[0]


_INSERT_REDEMPTION = sa.insert(Redemption.__table__).returning(Redemption.__table__.c.id)


def _insert_redemption(session: Session, **values) -> Redemption:
    """Insert a redemption (every column given) with one ``INSERT … RETURNING id`` rather than a flush
    of its own, and return it persistent in the session, as a flush would have left it; the change log
    is told of it."""
    redemption = Redemption(id=session.execute(_INSERT_REDEMPTION, values).scalar_one(), **values)
    make_transient_to_detached(redemption)
    session.add(redemption)
    changes.touch(session, redemption)
    return redemption


def redeem(
    session: Session,
    village_id: int,
    card: Card,
    lines,
    operator: User,
    *,
    redemption_uuid: str | None = None,
) -> Redemption:
    """Exchange points for goods: goods out of stock and points household → shop, together.

    ``card`` comes with its household loaded (:func:`cards.find_card`, :func:`cards.card_by_id`).
    Every check happens before anything stays written — the stock's and the balance's in conditional
    updates that undo themselves when refused — so a refusal needs no savepoint.

    :raises InsufficientPoints: the balance does not cover the basket; nothing is written.
    :raises InsufficientStock: a goods item has too little stock; nothing is written.
    """
    basket = _merge(lines)
    household = card.household
    if not household.active:
        raise ShopError(_("该户已停用，不能兑换。"), code="household_inactive")
    operator_id = _id_of(operator)
    # the change log names the household by uuid; the card brought it, but may be gone by the commit
    changes.known_uuid(session, Household, household.id, household.uuid)
    taken = _take_goods(session, village_id, basket)
    total = sum(line.price * line.qty for line in taken)
    summary = _("、").join(f"{line.name}×{line.qty}" for line in taken)
    redemption_uuid = redemption_uuid or str(uuid.uuid4())
    try:
        transfer, balance_after = ledger.pay(
            session,
            household.account_id,
            AccountKind.SHOP,
            total,
            TransferKind.REDEMPTION,
            _("兑换：%(items)s", items=summary),
            ref=f"redemption:{redemption_uuid}",
            actor_id=operator_id,
        )
    except DomainError:
        _give_back(session, taken)
        raise
    now = utcnow()
    redemption = _insert_redemption(
        session,
        uuid=redemption_uuid,
        village_id=village_id,
        household_id=household.id,
        card_id=card.id,
        points=total,
        balance_after=balance_after,
        status=str(RedemptionStatus.DONE),
        transfer_id=transfer.id,
        operator_id=operator_id,
        created_at=now,
        cancelled_by=None,
        cancelled_at=None,
        cancel_reason="",
    )
    made = []
    for line in taken:
        session.add(
            StockMove(
                goods_id=line.goods_id,
                kind=MoveKind.REDEMPTION,
                qty=-line.qty,
                actor_id=operator_id,
                redemption_id=redemption.id,
                created_at=now,
            )
        )
        made.append(
            RedemptionLine(
                redemption_id=redemption.id,
                goods_id=line.goods_id,
                qty=line.qty,
                unit_price=line.price,
                goods_name=line.name,
            )
        )
    session.add_all(made)
    session.flush()  # the lines persistent: a cancellation in the same transaction finds their goods
    # the lines are known: the receipt and the change log need not load them again
    set_committed_value(redemption, "lines", made)
    record(
        session,
        "shop.redemption.done",
        operator_id,
        redemption,
        household=household.household_no,
        points=total,
        items=summary,
        balance_after=balance_after,
    )
    return redemption


def get_redemption(session: Session, village_id: int, redemption_id: int) -> Redemption:
    found = session.get(Redemption, redemption_id)
    if found is None or found.village_id != village_id:
        raise NotFound(_("找不到这笔兑换。"), code="unknown_redemption")
    return found


def may_cancel(user: User, redemption: Redemption, today: date) -> bool:
    """The shopkeeper the same day, the chair any time."""
    if redemption.status != RedemptionStatus.DONE:
        return False
    if user.role == Role.CHAIR:
        return True
    return user.role == Role.SHOPKEEPER and local_day(redemption.created_at) == today


def cancel_redemption(session: Session, redemption: Redemption, reason: str, user: User) -> None:
    """Undo a redemption: a reversing transfer gives the points back and the goods go back into stock.

    :raises ShopError: already cancelled, or this user may not cancel it (a past day for a shopkeeper).
    """
    reason = checked(reason, "reason", _("撤销原因"), max_length=MAX_REASON, multiline=True)
    if not reason:
        raise Invalid(_("撤销兑换必须填写原因。"), code="reason_required")
    if redemption.status != RedemptionStatus.DONE:
        raise ShopError(_("这笔兑换已经撤销过了。"), code="already_cancelled")
    if not may_cancel(user, redemption, today()):
        raise ShopError(
            _("超市管理员只能撤销当天的兑换，请找妇联主席处理。"), code="cancel_not_allowed", status=403
        )
    # goods first, in goods-id order, then points: the order a redemption locks in, so two counters
    # redeeming and cancelling at once on PostgreSQL never wait for each other in a circle
    for line in sorted(redemption.lines, key=lambda x: x.goods_id):
        move_stock(
            session,
            line.goods,
            MoveKind.CANCELLATION,
            line.qty,
            user.id,
            redemption_id=redemption.id,
            note=reason,
        )
    ledger.reverse(session, redemption.transfer_id, reason.strip(), user.id)
    redemption.status = RedemptionStatus.CANCELLED
    redemption.cancelled_by, redemption.cancelled_at = user.id, utcnow()
    redemption.cancel_reason = reason
    record(
        session,
        "shop.redemption.cancelled",
        user.id,
        redemption,
        reason=redemption.cancel_reason,
        points=redemption.points,
    )


# --- idempotency ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedemptionDone:
    """What a counter is told about a redemption it made (or, on a retry, made before)."""

    id: int
    uuid: str
    points: int
    balance_after: int

    @classmethod
    def of(cls, redemption: Redemption) -> "RedemptionDone":
        return cls(redemption.id, redemption.uuid, redemption.points, redemption.balance_after)


def _recall(session: Session, answer: dict) -> RedemptionDone:
    found = session.scalar(sa.select(Redemption).where(Redemption.uuid == answer["uuid"]))
    return RedemptionDone.of(found)


def redeem_once(
    session: Session,
    village_id: int,
    key: str,
    lines,
    operator: User,
    *,
    card_text: str | None = None,
    card_id: int | None = None,
) -> RedemptionDone:
    """A redemption behind an idempotency key, for the counter page (``card_id``) and the API
    (``card_text``: what was scanned or typed). The card is loaded once, with its household.

    The key is claimed with the redemption's uuid as its answer, so a success writes nothing more to
    the idempotency record. A refusal is recorded (with an audit entry) and raised with ``keep`` set.

    :raises DomainError: the refusal (unknown or revoked card, insufficient points or stock …), the
        same one again on a retry with the same key.
    :raises KeyReused: the key came with another request.
    """
    from ..cards import services as cards

    operator_id = _id_of(operator)
    card_ref = card_text if card_text is not None else f"id:{card_id}"
    redemption_uuid = str(uuid.uuid4())

    found: list[Card] = []

    def perform() -> RedemptionDone:
        if card_text is not None:
            card = cards.find_card(session, village_id, card_text)
        else:
            card = cards.card_by_id(session, village_id, card_id)
        found.append(card)
        done = redeem(session, village_id, card, lines, operator, redemption_uuid=redemption_uuid)
        return RedemptionDone.of(done)

    def refused(err: DomainError):
        # the card's number for the auditors when it was found; never a QR token (it spends points)
        if found:
            shown = found[0].number
        else:
            shown = card_ref if card_ref.strip().isdigit() or card_text is None else "(QR)"
        record(
            session,
            "shop.redemption.refused",
            operator_id,
            None,
            code=err.code,
            card=shown,
            lines=[list(x) for x in lines],
        )

    return once(
        session,
        f"redemption:{operator_id}",
        key,
        {"card": card_ref, "lines": [list(x) for x in lines]},
        perform,
        recall=lambda answer: _recall(session, answer),
        promise={"uuid": redemption_uuid},
        on_refused=refused,
    )


def redemptions_on(session: Session, village_id: int, day: str) -> list[Redemption]:
    """The redemptions of one of the village's days (``YYYY-MM-DD``), newest first.

    :raises BadPeriod: not a date.
    """
    start, end = day_window(parse_day(day))
    return list(
        session.scalars(
            sa.select(Redemption)
            .where(
                Redemption.village_id == village_id,
                Redemption.created_at >= start,
                Redemption.created_at < end,
            )
            .order_by(Redemption.id.desc())
        )
    )
