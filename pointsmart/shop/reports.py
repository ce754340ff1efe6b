"""Shop reports and the shop's paper trail (台账), built from the live data.

What the chair prints for the county: daily and monthly figures, and three of the seven monthly
ledgers — 物资盘点台账 (stocktakes), 分值对应表 (the price list in points, with its history) and
积分兑换(领取)台账 (every redemption) — and the donors' honour board (爱心榜) with each donation traced
to where it went.

Everything here is a plain function of a session and explicit arguments; nothing here writes.

How the numbers are counted:

- **Calendar.** Times are stored as naive UTC; a day or a month is the village's
  (:mod:`pointsmart.periods`). A stocktake belongs to the month of its ``counted_on``.
- **Events count when they happen.** A redemption counts in the period it was made; its cancellation
  counts, with the opposite sign, in the period it was cancelled. So a printed day or month never
  changes afterwards, and the points and goods of a period agree with the ledger and the stock moves.
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

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl.styles import Font
from sqlalchemy.orm import Session, selectinload

from ..auth.services import user_names
from ..errors import NotFound
from ..org.models import Village
from ..periods import Period, local_day, local_naive, shown, utc_window
from ..xlsx import Book, ledger_sheet, workbook_bytes
from .models import (
    MOVE_LABELS,
    Goods,
    MoveKind,
    PriceChange,
    Redemption,
    RedemptionLine,
    RedemptionStatus,
    StockMove,
    Stocktake,
    StocktakeLine,
)
from .services import list_goods

MONEY = "#,##0.00"
WHEN = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"


def yuan(fen: int | None) -> str:
    """Fen as yuan for a page: ``123456`` → ``1,234.56``; unknown → ``—``."""
    return "—" if fen is None else f"{fen / 100:,.2f}"


# --- first in, first out: where each intake went ------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One stock move as the allocation needs it (``qty`` positive in, negative out)."""

    id: int
    kind: str
    qty: int
    donor: str = ""
    cost_fen: int | None = None
    redemption_id: int | None = None


@dataclass
class Lot:
    """An intake and what has become of it."""

    move_id: int
    #: donation, purchase, or stocktake / cancellation for goods that turned up without an intake
    kind: str
    donor: str
    cost_fen: int | None
    qty: int
    redeemed: int = 0
    lost: int = 0
    #: gone in a stocktake shortage (盘亏)
    counted_out: int = 0
    #: redemption id → units of this lot that redemption holds (a cancellation gives them back)
    takes: dict[int, int] = field(default_factory=dict)

    @property
    def on_shelf(self) -> int:
        return self.qty - self.redeemed - self.lost - self.counted_out

    @property
    def other_out(self) -> int:
        return self.lost + self.counted_out


@dataclass
class Allocation:
    lots: list[Lot]
    #: units that went out with no lot left to take them from (never, while stock cannot go below zero)
    unallocated: int = 0

    @property
    def on_shelf(self) -> int:
        return sum(lot.on_shelf for lot in self.lots)


def allocate_fifo(moves: Iterable[Move]) -> Allocation:
    """Allocate one goods item's outflows to its intakes, oldest intake first.

    Donations and purchases open a lot. A redemption, a loss and a stocktake shortage take from the
    oldest lots that still have goods on the shelf. A cancellation gives its redemption's units back
    to the lots they were taken from (the newest lot first); more than that redemption took, or a
    stocktake surplus, opens a lot of its own with no donor and no cost. Moves are taken in id order.
    """
    lots: list[Lot] = []
    unallocated = 0

    def take(qty: int, kind: str, redemption_id: int | None) -> int:
        for lot in lots:
            if qty == 0:
                break
            n = min(qty, lot.on_shelf)
            if n <= 0:
                continue
            if kind == MoveKind.REDEMPTION:
                lot.redeemed += n
                if redemption_id is not None:
                    lot.takes[redemption_id] = lot.takes.get(redemption_id, 0) + n
            elif kind == MoveKind.LOSS:
                lot.lost += n
            else:
                lot.counted_out += n
            qty -= n
        return qty

    def give_back(qty: int, redemption_id: int | None) -> int:
        if redemption_id is None:
            return qty
        for lot in reversed(lots):
            n = min(qty, lot.takes.get(redemption_id, 0))
            if n <= 0:
                continue
            lot.redeemed -= n
            lot.takes[redemption_id] -= n
            if not lot.takes[redemption_id]:
                del lot.takes[redemption_id]
            qty -= n
            if qty == 0:
                break
        return qty

    for move in sorted(moves, key=lambda m: m.id):
        if move.qty < 0:
            unallocated += take(-move.qty, move.kind, move.redemption_id)
            continue
        left = move.qty
        if move.kind == MoveKind.CANCELLATION:
            left = give_back(left, move.redemption_id)
        if left > 0:
            intake = move.kind in (MoveKind.DONATION, MoveKind.PURCHASE)
            lots.append(
                Lot(
                    move.id,
                    move.kind,
                    move.donor if intake else "",
                    move.cost_fen if move.kind == MoveKind.PURCHASE else None,
                    left,
                )
            )
    return Allocation(lots, unallocated)


def stock_value(allocation: Allocation) -> tuple[int, int, int]:
    """``(value in fen, donated units on the shelf, purchased units on the shelf without a price)``.

    Purchased lots count at their unit cost; donations and surpluses at 0.
    """
    value = donated = unpriced = 0
    for lot in allocation.lots:
        if lot.kind == MoveKind.PURCHASE:
            if lot.cost_fen is None:
                unpriced += lot.on_shelf
            else:
                value += lot.on_shelf * lot.cost_fen
        elif lot.kind == MoveKind.DONATION:
            donated += lot.on_shelf
    return value, donated, unpriced


def _moves(
    session: Session, village_id: int, before: datetime | None = None
) -> list[tuple[Move, int, datetime]]:
    """Every stock move of the village (before a time), in id order: ``(move, goods_id, created_at)``."""
    query = (
        sa.select(
            StockMove.id,
            StockMove.goods_id,
            StockMove.kind,
            StockMove.qty,
            StockMove.donor,
            StockMove.cost_fen,
            StockMove.redemption_id,
            StockMove.created_at,
        )
        .join(Goods, Goods.id == StockMove.goods_id)
        .where(Goods.village_id == village_id)
        .order_by(StockMove.id)
    )
    if before is not None:
        query = query.where(StockMove.created_at < before)
    return [
        (Move(mid, kind, qty, donor or "", cost, rid), goods_id, at)
        for mid, goods_id, kind, qty, donor, cost, rid, at in session.execute(query)
    ]


def _allocations(moves: list[tuple[Move, int, datetime]]) -> dict[int, Allocation]:
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
    #: donations and purchases recorded in the period
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
    moves = _moves(session, village_id, before=hi)
    goods = {g.id: GoodsFlow(g) for g in list_goods(session, village_id)}
    days = {
        start + timedelta(days=i): DayFigures(start + timedelta(days=i)) for i in range((end - start).days)
    }
    for move, goods_id, at in moves:
        flow = goods[goods_id]
        if at < lo:
            flow.opening += move.qty
            continue
        flow.add(move.kind, move.qty)
        today = days[local_day(at)]
        if move.kind in (MoveKind.REDEMPTION, MoveKind.CANCELLATION):
            today.goods_out -= move.qty
        elif move.kind == MoveKind.DONATION:
            today.donated += move.qty
        elif move.kind == MoveKind.PURCHASE:
            today.purchased += move.qty
    for goods_id, allocation in _allocations(moves).items():
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
                StockMove.created_at >= lo,
                StockMove.created_at < hi,
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


# --- 积分兑换(领取)台账: the redemption register -------------------------------------------------


@dataclass
class RedemptionRegister:
    month: Period
    #: made in the month, oldest first
    redemptions: list[Redemption]
    #: made in an earlier month, cancelled in this one
    earlier_cancelled: list[Redemption]
    #: every redemption cancelled in this month (points count back in the month of the cancellation)
    cancelled: list[Redemption]
    names: dict[int, str]

    @property
    def points(self) -> int:
        return sum(r.points for r in self.redemptions)

    @property
    def points_returned(self) -> int:
        return sum(r.points for r in self.cancelled)

    @property
    def net_points(self) -> int:
        return self.points - self.points_returned

    @property
    def units(self) -> int:
        return sum(line.qty for r in self.redemptions for line in r.lines)


def redemption_register(session: Session, village_id: int, month: Period) -> RedemptionRegister:
    """Every redemption of a month with its lines at the prices paid, the household and the operator;
    and the cancellations of the month."""
    made = redemptions_made(session, village_id, month.start, month.end)
    cancelled = redemptions_cancelled(session, village_id, month.start, month.end)
    lo, _hi = utc_window(month.start, month.end)
    earlier = [r for r in cancelled if r.created_at < lo]
    people = [r.operator_id for r in made + earlier] + [r.cancelled_by for r in made + earlier]
    return RedemptionRegister(month, made, earlier, cancelled, user_names(session, people))


# --- 物资盘点台账: stocktakes ----------------------------------------------------------------------


@dataclass
class StocktakeSheet:
    stocktake: Stocktake
    lines: list[StocktakeLine]
    recorder: str

    @property
    def surplus(self) -> int:
        return sum(max(line.counted - line.recorded, 0) for line in self.lines)

    @property
    def shortage(self) -> int:
        return sum(max(line.recorded - line.counted, 0) for line in self.lines)

    @property
    def differing(self) -> int:
        return sum(1 for line in self.lines if line.counted != line.recorded)


def stocktakes(session: Session, village_id: int, month: Period) -> list[StocktakeSheet]:
    """The month's stocktakes (by the day counted): each goods counted against the recorded stock."""
    found = list(
        session.scalars(
            sa.select(Stocktake)
            .where(
                Stocktake.village_id == village_id,
                Stocktake.counted_on >= month.start,
                Stocktake.counted_on < month.end,
            )
            .options(selectinload(Stocktake.lines).selectinload(StocktakeLine.goods))
            .order_by(Stocktake.counted_on, Stocktake.id)
        )
    )
    names = user_names(session, [t.actor_id for t in found])
    return [StocktakeSheet(t, list(t.lines), names.get(t.actor_id, "")) for t in found]


# --- 分值对应表: the price list and its history ------------------------------------------------------


@dataclass
class PriceStep:
    price: int
    since: datetime
    #: when the next price took over, or None for the price in force
    until: datetime | None
    by: str


@dataclass
class PriceRow:
    goods: Goods
    #: oldest first; the last one is the price in force
    steps: list[PriceStep]

    @property
    def since(self) -> datetime | None:
        return self.steps[-1].since if self.steps else None

    @property
    def changed(self) -> bool:
        return len(self.steps) > 1


def _price_history(session: Session, village_id: int) -> dict[int, list[PriceChange]]:
    rows = session.scalars(
        sa.select(PriceChange)
        .join(Goods, Goods.id == PriceChange.goods_id)
        .where(Goods.village_id == village_id)
        .order_by(PriceChange.changed_at, PriceChange.id)
    )
    found: dict[int, list[PriceChange]] = defaultdict(list)
    for change in rows:
        found[change.goods_id].append(change)
    return found


def price_at(history: list[PriceChange], when: datetime, default: int) -> int:
    """The price in force at a time: the last change at or before it (else the first, else ``default``)."""
    price = history[0].price if history else default
    for change in history:
        if change.changed_at <= when:
            price = change.price
    return price


def price_list(session: Session, village_id: int) -> list[PriceRow]:
    """Every goods item with its price in points and each earlier price, with when and who changed it."""
    history = _price_history(session, village_id)
    names = user_names(session, [c.changed_by for changes in history.values() for c in changes])
    rows = []
    for goods in list_goods(session, village_id):
        changes = history.get(goods.id, [])
        steps = [
            PriceStep(
                c.price,
                c.changed_at,
                changes[i + 1].changed_at if i + 1 < len(changes) else None,
                names.get(c.changed_by, ""),
            )
            for i, c in enumerate(changes)
        ]
        rows.append(PriceRow(goods, steps))
    rows.sort(key=lambda r: (not r.goods.active, r.goods.position, r.goods.name, r.goods.id))
    return rows


# --- donations traced, and the 爱心榜 ----------------------------------------------------------------


@dataclass
class DonationLot:
    move: StockMove
    goods: Goods
    qty: int
    redeemed: int
    other_out: int
    on_shelf: int
    #: points households paid for the redeemed units (at the prices of their redemptions)
    redeemed_points: int
    #: the donation at the goods' price in points on the day it was recorded
    worth: int

    @property
    def given_on(self) -> date:
        return self.move.moved_on or local_day(self.move.created_at)


@dataclass
class DonorTrace:
    name: str
    lots: list[DonationLot]

    @property
    def given(self) -> int:
        return sum(lot.qty for lot in self.lots)

    @property
    def redeemed(self) -> int:
        return sum(lot.redeemed for lot in self.lots)

    @property
    def other_out(self) -> int:
        return sum(lot.other_out for lot in self.lots)

    @property
    def on_shelf(self) -> int:
        return sum(lot.on_shelf for lot in self.lots)

    @property
    def redeemed_points(self) -> int:
        return sum(lot.redeemed_points for lot in self.lots)

    @property
    def worth(self) -> int:
        return sum(lot.worth for lot in self.lots)

    @property
    def first_on(self) -> date:
        return min(lot.given_on for lot in self.lots)

    @property
    def last_on(self) -> date:
        return max(lot.given_on for lot in self.lots)

    @property
    def goods_given(self) -> list[tuple[Goods, int]]:
        """Each goods item given and how many, in the order first given."""
        totals: dict[int, list] = {}
        for lot in self.lots:
            totals.setdefault(lot.goods.id, [lot.goods, 0])[1] += lot.qty
        return [(goods, qty) for goods, qty in totals.values()]


def trace_donations(session: Session, village_id: int) -> list[DonorTrace]:
    """Every donor with each donation and where it went (FIFO), most worth first."""
    moves = _moves(session, village_id)
    allocations = _allocations(moves)
    donation_ids = [
        lot.move_id for a in allocations.values() for lot in a.lots if lot.kind == MoveKind.DONATION
    ]
    if not donation_ids:
        return []
    rows = {
        m.id: m
        for m in session.scalars(
            sa.select(StockMove)
            .join(Goods, Goods.id == StockMove.goods_id)
            .where(Goods.village_id == village_id, StockMove.kind == MoveKind.DONATION)
            .options(selectinload(StockMove.goods))
        )
    }
    paid = {
        (rid, gid): price
        for rid, gid, price in session.execute(
            sa.select(RedemptionLine.redemption_id, RedemptionLine.goods_id, RedemptionLine.unit_price)
            .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
            .where(Redemption.village_id == village_id)
        )
    }
    history = _price_history(session, village_id)
    donors: dict[str, list[DonationLot]] = defaultdict(list)
    for goods_id, allocation in allocations.items():
        for lot in allocation.lots:
            if lot.kind != MoveKind.DONATION:
                continue
            move = rows[lot.move_id]
            points = sum(n * paid.get((rid, goods_id), 0) for rid, n in lot.takes.items())
            worth = lot.qty * price_at(history.get(goods_id, []), move.created_at, move.goods.price)
            donors[lot.donor].append(
                DonationLot(
                    move, move.goods, lot.qty, lot.redeemed, lot.other_out, lot.on_shelf, points, worth
                )
            )
    traces = [DonorTrace(name, sorted(lots, key=lambda x: x.move.id)) for name, lots in donors.items()]
    traces.sort(key=lambda t: (-t.worth, t.first_on, t.name))
    return traces


def trace_donor(session: Session, village_id: int, name: str) -> DonorTrace:
    """One donor's donations and where they went.

    :raises NotFound: no donation from this name (code ``unknown_donor``).
    """
    for trace in trace_donations(session, village_id):
        if trace.name == name:
            return trace
    raise NotFound(_("没有找到捐赠人“%(name)s”的捐赠记录。", name=shown(name)), code="unknown_donor")


_DIGITS = re.compile(r"\d[\d\s\-]{5,}\d")  # a phone number, however it was spaced


def public_name(name: str) -> str:
    """A donor's name for the public board: a phone or other long number typed into it is hidden."""
    return _DIGITS.sub("****", name).strip()


# --- workbooks --------------------------------------------------------------------------------


def _formats(sheet, **columns: str) -> None:
    """Give whole columns a number format from row 3 down: ``_formats(sheet, D=MONEY)``."""
    for letter, fmt in columns.items():
        for cell in sheet[letter][2:]:
            cell.number_format = fmt


def _total_row(sheet, values: list) -> None:
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _money(fen: int | None) -> float | None:
    return None if fen is None else round(fen / 100, 2)


def _household(r: Redemption) -> tuple[str, str]:
    return r.household.household_no, r.household.head_name


def _status(r: Redemption) -> str:
    if r.status == RedemptionStatus.CANCELLED:
        return _(
            "%(day)s 撤销：%(reason)s", day=local_day(r.cancelled_at).isoformat(), reason=r.cancel_reason
        )
    return ""


def _goods_sheet(sheet, period: ShopPeriod, heading: str) -> None:
    ledger_sheet(
        sheet,
        _("商品进出"),
        heading,
        [
            _("商品"),
            _("规格"),
            _("期初库存"),
            _("捐赠入库"),
            _("采购入库"),
            _("兑换出库"),
            _("撤销退回"),
            _("损耗"),
            _("盘点调整"),
            _("期末库存"),
            _("其中捐赠"),
            _("库存金额（元）"),
        ],
        [14, 10, 9, 9, 9, 9, 9, 8, 9, 9, 9, 13],
        landscape=True,
    )
    for f in period.goods:
        sheet.append(
            [
                f.goods.name,
                f.goods.spec,
                f.opening,
                f.donated,
                f.purchased,
                f.redeemed,
                f.returned,
                f.lost,
                f.adjusted,
                f.closing,
                f.donated_on_shelf,
                _money(f.value_fen),
            ]
        )
    _total_row(
        sheet,
        [
            _("合计"),
            "",
            sum(f.opening for f in period.goods),
            period.donated,
            period.purchased,
            sum(f.redeemed for f in period.goods),
            sum(f.returned for f in period.goods),
            period.lost,
            sum(f.adjusted for f in period.goods),
            period.stock,
            period.donated_on_shelf,
            _money(period.value_fen),
        ],
    )
    _formats(sheet, L=MONEY)
    sheet.append([])
    sheet.append([stock_value_note()])


def stock_value_note() -> str:
    return _("库存金额按采购入库登记的单价计算（先进先出）；捐赠物资和盘盈物资不计金额（按 0 元）。")


def _summary_rows(period: ShopPeriod) -> list[tuple[str, object]]:
    return [
        (_("兑换笔数"), len(period.redemptions)),
        (_("兑换户数"), period.households),
        (_("兑换积分"), period.points),
        (_("撤销笔数"), len(period.cancellations)),
        (_("撤销退回积分"), period.points_returned),
        (_("净兑换积分"), period.net_points),
        (_("兑换出库（件，扣除撤销退回）"), period.goods_out),
        (_("捐赠入库（件）"), period.donated),
        (_("采购入库（件）"), period.purchased),
        (_("损耗（件）"), period.lost),
        (_("期末库存（件）"), period.stock),
        (_("其中捐赠物资（件）"), period.donated_on_shelf),
        (_("库存金额（元）"), _money(period.value_fen)),
    ]


def _summary_sheet(sheet, period: ShopPeriod, heading: str) -> None:
    ledger_sheet(sheet, _("汇总"), heading, [_("项目"), _("数值")], [30, 14])
    for label, value in _summary_rows(period):
        sheet.append([label, value])
    sheet[f"B{sheet.max_row}"].number_format = MONEY
    sheet.append([])
    sheet.append([_("撤销按撤销当天计入；库存为期末时点的数量。")])
    sheet.append([stock_value_note()])


def _intake_sheet(sheet, period: ShopPeriod) -> None:
    ledger_sheet(
        sheet,
        _("入库明细"),
        _("捐赠和采购入库"),
        [
            _("登记时间"),
            _("捐赠或采购日期"),
            _("类型"),
            _("商品"),
            _("数量"),
            _("捐赠人"),
            _("经费来源"),
            _("单价（元）"),
            _("备注"),
        ],
        [17, 12, 10, 14, 7, 16, 12, 10, 20],
        landscape=True,
    )
    for m in period.intakes:
        sheet.append(
            [
                local_naive(m.created_at),
                m.moved_on,
                str(MOVE_LABELS[MoveKind(m.kind)]),
                m.goods.name,
                m.qty,
                m.donor,
                m.funding_source,
                _money(m.cost_fen),
                m.note,
            ]
        )
    _formats(sheet, A=WHEN, B=DAY, H=MONEY)


def _redemption_rows(sheet, redemptions: list[Redemption], names: dict[int, str]) -> None:
    for r in redemptions:
        household_no, head = _household(r)
        for line in r.lines:
            sheet.append(
                [
                    local_naive(r.created_at),
                    r.id,
                    household_no,
                    head,
                    line.goods_name,
                    line.qty,
                    line.unit_price,
                    line.qty * line.unit_price,
                    names.get(r.operator_id, ""),
                    _status(r),
                ]
            )


def _redemption_header() -> list[str]:
    return [
        _("时间"),
        _("单号"),
        _("户号"),
        _("户主"),
        _("商品"),
        _("数量"),
        _("单价（积分）"),
        _("积分"),
        _("经办人"),
        _("撤销"),
    ]


REDEMPTION_WIDTHS = [17, 7, 9, 10, 14, 6, 9, 8, 10, 26]


def daily_xlsx(period: ShopPeriod, village: Village) -> bytes:
    """A day's figures: the summary, every redemption line, each goods item's moves, the intakes."""
    book = Book()
    day = period.start.isoformat()
    _summary_sheet(
        book.active, period, _("%(village)s 积分超市日报 %(day)s", village=village.label, day=day)
    )
    sheet = ledger_sheet(
        book.create_sheet(),
        _("兑换明细"),
        _("%(day)s 兑换明细", day=day),
        _redemption_header(),
        REDEMPTION_WIDTHS,
        landscape=True,
    )
    _redemption_rows(sheet, period.redemptions, period.names)
    _total_row(sheet, [_("合计"), "", "", "", "", "", "", period.points])
    _formats(sheet, A=WHEN)
    _goods_sheet(book.create_sheet(), period, _("%(day)s 商品进出和库存", day=day))
    _intake_sheet(book.create_sheet(), period)
    return workbook_bytes(book)


def monthly_xlsx(period: ShopPeriod, village: Village, month: Period) -> bytes:
    """A month's figures: the summary, day by day, each goods item's moves, the intakes."""
    book = Book()
    title = _("%(village)s 积分超市月报 %(month)s", village=village.label, month=month.label())
    _summary_sheet(book.active, period, title)
    sheet = ledger_sheet(
        book.create_sheet(),
        _("每日"),
        _("%(month)s 每日兑换和入库", month=month.label()),
        [
            _("日期"),
            _("兑换笔数"),
            _("兑换积分"),
            _("撤销笔数"),
            _("撤销退回积分"),
            _("净兑换积分"),
            _("兑换出库（件）"),
            _("捐赠入库（件）"),
            _("采购入库（件）"),
        ],
        [12, 9, 9, 9, 11, 10, 10, 10, 10],
        landscape=True,
    )
    for d in period.days:
        sheet.append(
            [d.day, d.redemptions, d.points, d.cancellations, d.points_returned, d.net_points, d.goods_out]
            + [d.donated, d.purchased]
        )
    _total_row(
        sheet,
        [
            _("合计"),
            len(period.redemptions),
            period.points,
            len(period.cancellations),
            period.points_returned,
            period.net_points,
            period.goods_out,
            period.donated,
            period.purchased,
        ],
    )
    _formats(sheet, A=DAY)
    _goods_sheet(book.create_sheet(), period, _("%(month)s 商品进出和库存", month=month.label()))
    _intake_sheet(book.create_sheet(), period)
    return workbook_bytes(book)


def register_xlsx(register: RedemptionRegister, village: Village) -> bytes:
    """积分兑换(领取)台账 as a workbook: one row per goods line of each redemption."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("积分兑换台账"),
        _(
            "%(village)s 积分兑换（领取）台账 %(month)s",
            village=village.label,
            month=register.month.label(),
        ),
        _redemption_header(),
        REDEMPTION_WIDTHS,
        landscape=True,
    )
    _redemption_rows(sheet, register.redemptions, register.names)
    _total_row(sheet, [_("本月兑换合计"), "", "", "", "", register.units, "", register.points])
    _total_row(sheet, [_("本月撤销退回"), "", "", "", "", "", "", -register.points_returned])
    _total_row(sheet, [_("净兑换积分"), "", "", "", "", "", "", register.net_points])
    _formats(sheet, A=WHEN)
    if register.earlier_cancelled:
        sheet.append([])
        sheet.append([_("本月撤销的以前月份兑换")])
        sheet[f"A{sheet.max_row}"].font = Font(bold=True)
        _redemption_rows(sheet, register.earlier_cancelled, register.names)
        for cell in sheet["A"][2:]:
            cell.number_format = WHEN
    return workbook_bytes(book)


def stocktakes_xlsx(sheets: list[StocktakeSheet], village: Village, month: Period) -> bytes:
    """物资盘点台账 as a workbook: one row per goods counted, with the count's date and counters."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("物资盘点台账"),
        _("%(village)s 物资盘点台账 %(month)s", village=village.label, month=month.label()),
        [
            _("盘点日期"),
            _("商品"),
            _("规格"),
            _("账面数量"),
            _("实盘数量"),
            _("盈亏"),
            _("盘点人"),
            _("登记人"),
            _("备注"),
        ],
        [12, 14, 10, 9, 9, 7, 18, 10, 20],
        landscape=True,
    )
    for s in sheets:
        for line in s.lines:
            sheet.append(
                [
                    s.stocktake.counted_on,
                    line.goods.name,
                    line.goods.spec,
                    line.recorded,
                    line.counted,
                    line.counted - line.recorded,
                    s.stocktake.counted_by,
                    s.recorder,
                    s.stocktake.note,
                ]
            )
    _formats(sheet, A=DAY)
    if not sheets:
        sheet.append([_("本月没有盘点记录。")])
    return workbook_bytes(book)


def prices_xlsx(rows: list[PriceRow], village: Village) -> bytes:
    """分值对应表 as a workbook: the prices in force, and every change on a second sheet."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("分值对应表"),
        _("%(village)s 分值对应表", village=village.label),
        [_("序号"), _("商品"), _("规格"), _("兑换分值（积分）"), _("执行日期"), _("状态")],
        [6, 16, 12, 12, 17, 8],
    )
    for i, row in enumerate(rows, 1):
        sheet.append(
            [
                i,
                row.goods.name,
                row.goods.spec,
                row.goods.price,
                local_naive(row.since),
                _("上架") if row.goods.active else _("已下架"),
            ]
        )
    _formats(sheet, E=WHEN)
    changes = ledger_sheet(
        book.create_sheet(),
        _("调整记录"),
        _("分值调整记录"),
        [_("商品"), _("规格"), _("分值（积分）"), _("执行起"), _("执行止"), _("调整人")],
        [16, 12, 10, 17, 17, 10],
    )
    for row in rows:
        for step in row.steps:
            changes.append(
                [
                    row.goods.name,
                    row.goods.spec,
                    step.price,
                    local_naive(step.since),
                    local_naive(step.until),
                    step.by,
                ]
            )
    _formats(changes, D=WHEN, E=WHEN)
    return workbook_bytes(book)


def _donation_rows(sheet, trace: DonorTrace, with_donor: bool) -> None:
    for lot in trace.lots:
        sheet.append(
            ([trace.name] if with_donor else [])
            + [
                lot.given_on,
                lot.goods.name,
                lot.goods.spec,
                lot.qty,
                lot.redeemed,
                lot.other_out,
                lot.on_shelf,
                lot.redeemed_points,
                lot.worth,
                lot.move.note,
            ]
        )


def _donation_header() -> list[str]:
    return [
        _("捐赠日期"),
        _("商品"),
        _("规格"),
        _("捐赠数量"),
        _("已兑换"),
        _("损耗和盘亏"),
        _("在架"),
        _("兑换积分"),
        _("折合积分"),
        _("备注"),
    ]


def donors_xlsx(traces: list[DonorTrace], village: Village) -> bytes:
    """爱心榜 and every donation traced, as a workbook."""
    book = Book()
    board = ledger_sheet(
        book.active,
        _("爱心榜"),
        _("%(village)s 爱心榜", village=village.label),
        [
            _("捐赠人"),
            _("捐赠物资"),
            _("捐赠件数"),
            _("已兑换"),
            _("损耗和盘亏"),
            _("在架"),
            _("兑换积分"),
            _("折合积分"),
            _("首次捐赠"),
            _("最近捐赠"),
        ],
        [18, 30, 9, 8, 9, 7, 9, 9, 12, 12],
        landscape=True,
    )
    for t in traces:
        board.append(
            [
                t.name,
                _("、").join(f"{g.name}×{n}" for g, n in t.goods_given),
                t.given,
                t.redeemed,
                t.other_out,
                t.on_shelf,
                t.redeemed_points,
                t.worth,
                t.first_on,
                t.last_on,
            ]
        )
    _formats(board, I=DAY, J=DAY)
    detail = ledger_sheet(
        book.create_sheet(),
        _("捐赠去向"),
        _("每笔捐赠的去向（先进先出）"),
        [_("捐赠人"), *_donation_header()],
        [18, 12, 14, 10, 9, 8, 9, 7, 9, 9, 20],
        landscape=True,
    )
    for t in traces:
        _donation_rows(detail, t, with_donor=True)
    _formats(detail, B=DAY)
    return workbook_bytes(book)


def donor_xlsx(trace: DonorTrace, village: Village) -> bytes:
    """One donor's donations and where they went, as a workbook."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("捐赠去向"),
        _("%(village)s 捐赠去向：%(name)s", village=village.label, name=trace.name),
        _donation_header(),
        [12, 14, 10, 9, 8, 9, 7, 9, 9, 20],
        landscape=True,
    )
    _donation_rows(sheet, trace, with_donor=False)
    _total_row(
        sheet,
        [
            _("合计"),
            "",
            "",
            trace.given,
            trace.redeemed,
            trace.other_out,
            trace.on_shelf,
            trace.redeemed_points,
            trace.worth,
        ],
    )
    _formats(sheet, A=DAY)
    return workbook_bytes(book)
