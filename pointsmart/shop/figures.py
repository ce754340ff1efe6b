"""The shop's daily and monthly figures, built from the live data.

The paper trail (台账) built on them is :mod:`pointsmart.shop.registers`; their workbooks
:mod:`pointsmart.shop.workbooks`; first in, first out :mod:`pointsmart.shop.fifo`.

Everything here is a plain function of a session and explicit arguments; nothing here writes.

How the numbers are counted:

- **Calendar.** Times are stored as naive UTC; a day or a month is the village's
  (:mod:`pointsmart.periods`). A stocktake belongs to the month of its ``counted_on``.
- **Events count when they happen.** A redemption counts in the period it was made; its cancellation
  counts, with the opposite sign, in the period it was cancelled. So a printed day or month never
  changes afterwards, and the points and goods of a period agree with the ledger and the stock moves.
  A receipt of goods (donation, purchase) counts on the day written on it (``moved_on``), typed in
  then or later, as the month's figures and book count it (:func:`pointsmart.closing.figures.month_moves`);
  a receipt dated in a closed month is refused, so a closed month still never changes.
- **First in, first out.** Each goods item's intakes (donations, purchases, a stocktake surplus) are
  lots; outflows take from the oldest lot with goods left (:func:`allocate_fifo`). A cancellation puts
  the goods back into the lots its redemption took them from.
- **Stock value** is what the goods on the shelf cost: each lot still on the shelf at its purchase's
  unit cost (``cost_fen`` is the price of one unit, in fen, as the stock form records it). Donated goods
  and a stocktake surplus cost nothing and count as 0 yuan; purchases recorded without a price are
  counted as unpriced.
- **折合积分.** A donation's worth on the honour board is its quantity at the goods' price in points on
  the day it was recorded; points redeemed are what the households paid (the redemption lines' prices).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..auth.services import user_names
from ..periods import local_day, utc_window
from .fifo import Allocation, Move, allocate_fifo, stock_value
from .models import (
    Goods,
    MoveKind,
    Redemption,
    RedemptionStatus,
    StockMove,
)
from .services import list_goods


def yuan(fen: int | None) -> str:
    """Fen as yuan for a page: ``123456`` → ``1,234.56``; unknown → ``—``."""
    return "—" if fen is None else f"{fen / 100:,.2f}"


def stock_moves(
    session: Session, village_id: int, before: datetime | None = None, before_day: date | None = None
) -> list[tuple[Move, int, datetime]]:
    """Every stock move of the village (recorded before a time; or dated before a day: a receipt by
    the day written on it, ``moved_on``, any other move by the day it was recorded), in id order:
    ``(move, goods_id, created_at)``."""
    query = _moves(village_id)
    if before is not None:
        query = query.where(StockMove.created_at < before)
    if before_day is not None:
        query = _dated_before(query, before_day)
    return [
        (Move(mid, kind, qty, donor or "", cost, rid), goods_id, at)
        for mid, goods_id, kind, qty, donor, cost, rid, at, _on in session.execute(query)
    ]


def dated_moves(session: Session, village_id: int, end: date) -> list[tuple[Move, int, date]]:
    """The stock moves of the village on days before ``end``, in id order: ``(move, goods_id, day)``, the
    day being the one written on a receipt (``moved_on``), else the village's day it was recorded."""
    return [
        (Move(mid, kind, qty, donor or "", cost, rid), goods_id, moved_on or local_day(at))
        for mid, goods_id, kind, qty, donor, cost, rid, at, moved_on in session.execute(
            _dated_before(_moves(village_id), end)
        )
    ]


def _moves(village_id: int) -> sa.Select:
    """The village's stock moves in id order, as :class:`Move` and their goods, times and days need."""
    return (
        sa.select(
            StockMove.id,
            StockMove.goods_id,
            StockMove.kind,
            StockMove.qty,
            StockMove.donor,
            StockMove.cost_fen,
            StockMove.redemption_id,
            StockMove.created_at,
            StockMove.moved_on,
        )
        .join(Goods, Goods.id == StockMove.goods_id)
        .where(Goods.village_id == village_id)
        .order_by(StockMove.id)
    )


def _dated_before(query: sa.Select, day: date) -> sa.Select:
    """Only the moves on days before ``day``: a receipt by the day written on it (``moved_on``), any
    other move by the village's day it was recorded."""
    recorded_before = utc_window(day, day)[0]
    return query.where(
        sa.or_(
            StockMove.moved_on < day,
            sa.and_(StockMove.moved_on.is_(None), StockMove.created_at < recorded_before),
        )
    )


def allocate_each(moves: list[tuple[Move, int, datetime]]) -> dict[int, Allocation]:
    """:func:`allocate_fifo` for each goods item of ``moves``, by goods id."""
    by_goods: dict[int, list[Move]] = defaultdict(list)
    for move, goods_id, _at in moves:
        by_goods[goods_id].append(move)
    return {goods_id: allocate_fifo(found) for goods_id, found in by_goods.items()}


# --- daily and monthly figures ----------------------------------------------------------------


@dataclass
class GoodsFlow:
    """One goods item over a period: stock at the start, each kind of move, stock and value at the end."""

    goods: Goods
    opening: int = 0
    donated: int = 0
    purchased: int = 0
    redeemed: int = 0
    returned: int = 0
    lost: int = 0
    #: stocktake differences, signed
    adjusted: int = 0
    value_fen: int = 0
    donated_on_shelf: int = 0
    unpriced: int = 0

    @property
    def closing(self) -> int:
        return (
            self.opening
            + self.donated
            + self.purchased
            - self.redeemed
            + self.returned
            - self.lost
            + self.adjusted
        )

    @property
    def moved(self) -> bool:
        return any((self.donated, self.purchased, self.redeemed, self.returned, self.lost, self.adjusted))

    def add(self, kind: str, qty: int) -> None:
        if kind == MoveKind.DONATION:
            self.donated += qty
        elif kind == MoveKind.PURCHASE:
            self.purchased += qty
        elif kind == MoveKind.REDEMPTION:
            self.redeemed -= qty
        elif kind == MoveKind.CANCELLATION:
            self.returned += qty
        elif kind == MoveKind.LOSS:
            self.lost -= qty
        else:
            self.adjusted += qty


@dataclass
class DayFigures:
    day: date
    redemptions: int = 0
    points: int = 0
    cancellations: int = 0
    points_returned: int = 0
    #: units redeemed less units given back by cancellations
    goods_out: int = 0
    donated: int = 0
    purchased: int = 0

    @property
    def net_points(self) -> int:
        return self.points - self.points_returned


@dataclass
class ShopPeriod:
    """A day's or a month's shop figures (``start <= day < end``)."""

    start: date
    end: date
    #: redemptions made in the period, oldest first (those cancelled since included, marked)
    redemptions: list[Redemption]
    #: redemptions cancelled in the period, whenever they were made
    cancellations: list[Redemption]
    goods: list[GoodsFlow]
    #: donations and purchases dated in the period (``moved_on``; else recorded in it)
    intakes: list[StockMove]
    days: list[DayFigures]
    names: dict[int, str]

    @property
    def points(self) -> int:
        return sum(r.points for r in self.redemptions)

    @property
    def points_returned(self) -> int:
        return sum(r.points for r in self.cancellations)

    @property
    def net_points(self) -> int:
        return self.points - self.points_returned

    @property
    def households(self) -> int:
        return len({r.household_id for r in self.redemptions})

    @property
    def goods_out(self) -> int:
        return sum(f.redeemed - f.returned for f in self.goods)

    @property
    def donated(self) -> int:
        return sum(f.donated for f in self.goods)

    @property
    def purchased(self) -> int:
        return sum(f.purchased for f in self.goods)

    @property
    def lost(self) -> int:
        return sum(f.lost for f in self.goods)

    @property
    def stock(self) -> int:
        return sum(f.closing for f in self.goods)

    @property
    def value_fen(self) -> int:
        return sum(f.value_fen for f in self.goods)

    @property
    def donated_on_shelf(self) -> int:
        return sum(f.donated_on_shelf for f in self.goods)

    @property
    def unpriced(self) -> int:
        return sum(f.unpriced for f in self.goods)


def _redemptions(session: Session, *conditions) -> list[Redemption]:
    return list(
        session.scalars(
            sa.select(Redemption)
            .where(*conditions)
            .options(selectinload(Redemption.lines), selectinload(Redemption.household))
            .order_by(Redemption.created_at, Redemption.id)
        )
    )


def redemptions_made(session: Session, village_id: int, start: date, end: date) -> list[Redemption]:
    """Redemptions made on the village's days ``start <= day < end``, oldest first."""
    lo, hi = utc_window(start, end)
    return _redemptions(
        session, Redemption.village_id == village_id, Redemption.created_at >= lo, Redemption.created_at < hi
    )


def redemptions_cancelled(session: Session, village_id: int, start: date, end: date) -> list[Redemption]:
    """Redemptions cancelled on the village's days ``start <= day < end`` (made then or before)."""
    lo, hi = utc_window(start, end)
    found = _redemptions(
        session,
        Redemption.village_id == village_id,
        Redemption.status == RedemptionStatus.CANCELLED,
        Redemption.cancelled_at >= lo,
        Redemption.cancelled_at < hi,
    )
    return sorted(found, key=lambda r: (r.cancelled_at, r.id))


def shop_period(session: Session, village_id: int, start: date, end: date) -> ShopPeriod:
    """The shop's figures for the village's days ``start <= day < end``: redemptions and points, each
    goods item's moves, stock on hand at the end and its value, donations and purchases in."""
    lo, hi = utc_window(start, end)
    moves = dated_moves(session, village_id, end)
    goods = {g.id: GoodsFlow(g) for g in list_goods(session, village_id)}
    days = {
        start + timedelta(days=i): DayFigures(start + timedelta(days=i)) for i in range((end - start).days)
    }
    for move, goods_id, day in moves:
        flow = goods[goods_id]
        if day < start:
            flow.opening += move.qty
            continue
        flow.add(move.kind, move.qty)
        today = days[day]
        if move.kind in (MoveKind.REDEMPTION, MoveKind.CANCELLATION):
            today.goods_out -= move.qty
        elif move.kind == MoveKind.DONATION:
            today.donated += move.qty
        elif move.kind == MoveKind.PURCHASE:
            today.purchased += move.qty
    for goods_id, allocation in allocate_each(moves).items():
        flow = goods[goods_id]
        flow.value_fen, flow.donated_on_shelf, flow.unpriced = stock_value(allocation)
    made = redemptions_made(session, village_id, start, end)
    cancelled = redemptions_cancelled(session, village_id, start, end)
    for r in made:
        days[local_day(r.created_at)].redemptions += 1
        days[local_day(r.created_at)].points += r.points
    for r in cancelled:
        days[local_day(r.cancelled_at)].cancellations += 1
        days[local_day(r.cancelled_at)].points_returned += r.points
    intakes = list(
        session.scalars(
            sa.select(StockMove)
            .join(Goods, Goods.id == StockMove.goods_id)
            .where(
                Goods.village_id == village_id,
                StockMove.kind.in_([MoveKind.DONATION, MoveKind.PURCHASE]),
                sa.or_(
                    (StockMove.moved_on >= start) & (StockMove.moved_on < end),
                    StockMove.moved_on.is_(None) & (StockMove.created_at >= lo) & (StockMove.created_at < hi),
                ),
            )
            .options(selectinload(StockMove.goods))
            .order_by(StockMove.id)
        )
    )
    shown = [f for f in goods.values() if f.goods.active or f.opening or f.moved or f.closing]
    people = [r.operator_id for r in made] + [r.cancelled_by for r in cancelled]
    return ShopPeriod(
        start,
        end,
        made,
        cancelled,
        shown,
        intakes,
        list(days.values()),
        user_names(session, people),
    )
