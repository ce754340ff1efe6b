"""The shop's paper trail (台账), built from the live data: three of the seven monthly ledgers —
积分兑换(领取)台账 (every redemption), 物资盘点台账 (stocktakes), 分值对应表 (the price list in
points, with its history) — and the donors' honour board (爱心榜) with each donation traced to where
it went. Nothing here writes.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session, selectinload

from ..auth.services import user_names
from ..errors import NotFound
from ..periods import Period, local_day, shown, utc_window
from ..text import visible
from .figures import allocate_each, redemptions_cancelled, redemptions_made, stock_moves
from .models import (
    Goods,
    MoveKind,
    PriceChange,
    Redemption,
    RedemptionLine,
    StockMove,
    Stocktake,
    StocktakeLine,
)
from .services import list_goods


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
    def price(self) -> int:
        """The price in force: the last step's (the goods' own, for goods without a price history)."""
        return self.steps[-1].price if self.steps else self.goods.price

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


def _first_receipts(session: Session, village_id: int) -> dict[int, datetime]:
    """Each goods item's earliest receipt day written on the paper (``moved_on``), as the stored (UTC)
    time that day began in the village."""
    found = session.execute(
        sa.select(StockMove.goods_id, sa.func.min(StockMove.moved_on))
        .join(Goods, Goods.id == StockMove.goods_id)
        .where(
            Goods.village_id == village_id,
            StockMove.kind.in_([MoveKind.DONATION, MoveKind.PURCHASE]),
            StockMove.moved_on.is_not(None),
        )
        .group_by(StockMove.goods_id)
    )
    return {goods_id: utc_window(day, day + timedelta(days=1))[0] for goods_id, day in found if day}


def price_list(session: Session, village_id: int) -> list[PriceRow]:
    """Every goods item with its price in points and each earlier price, with when and who changed it.

    A price holds from when it was set — except the first, which holds from the goods' first receipt
    when that is dated earlier (goods typed in after they came, with the day they came on): the goods
    were in the shop at that price from then, and a month's 分值对应表 lists them in that month."""
    history = _price_history(session, village_id)
    received = _first_receipts(session, village_id)
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
        if steps and goods.id in received and received[goods.id] < steps[0].since:
            steps[0].since = received[goods.id]
        rows.append(PriceRow(goods, steps))
    rows.sort(key=lambda r: (not r.goods.active, r.goods.position, r.goods.name, r.goods.id))
    return rows


def prices_until(rows: list[PriceRow], until: datetime) -> list[PriceRow]:
    """The price list as it stood just before ``until`` (stored UTC): the goods that had a price by
    then, each with the steps up to then and the last of them in force (a month's 分值对应表)."""
    kept = []
    for row in rows:
        steps = [s for s in row.steps if s.since < until]
        if not steps and row.steps:
            continue  # priced only later: not in the shop yet
        if steps:
            last = steps[-1]
            if last.until is not None and last.until >= until:
                steps[-1] = PriceStep(last.price, last.since, None, last.by)
        kept.append(PriceRow(row.goods, steps))
    return kept


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


def trace_donations(
    session: Session,
    village_id: int,
    since: date | None = None,
    before: date | None = None,
    until: date | None = None,
) -> list[DonorTrace]:
    """Every donor with each donation and where it went (FIFO), most worth first.

    Days as the month's figures count them (:func:`pointsmart.closing.figures.month_moves`): a receipt
    on the day written on it (``moved_on``), any other move on the day it was recorded. With
    ``before``: as the stock moves of the days before it leave it (a closed month's board reads the
    same for ever: a receipt dated in a closed month is refused); with ``since`` / ``until``: only the
    donations given from that day on / before that day (still traced as far as the moves go).
    """
    moves = stock_moves(session, village_id, before_day=before)
    allocations = allocate_each(moves)
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
            found = DonationLot(
                move, move.goods, lot.qty, lot.redeemed, lot.other_out, lot.on_shelf, points, worth
            )
            if (since is not None and found.given_on < since) or (
                until is not None and found.given_on >= until
            ):
                continue
            donors[lot.donor].append(found)
    traces = [DonorTrace(name, sorted(lots, key=lambda x: x.move.id)) for name, lots in donors.items()]
    traces.sort(key=lambda t: (-t.worth, t.first_on, t.name))
    return traces


def trace_donor(session: Session, village_id: int, name: str) -> DonorTrace:
    """One donor's donations and where they went, by the donor's name as stored.

    :raises NotFound: no donation from this name (code ``unknown_donor``).
    """
    for trace in trace_donations(session, village_id):
        if trace.name == name:
            return trace
    raise NotFound(_("没有找到捐赠人“%(name)s”的捐赠记录。", name=shown(name)), code="unknown_donor")


def donor_key(name: str) -> str:
    r"""A donor's name as its address (``?name=`` of :func:`pointsmart.shop.reports_views.donor`): the name
    itself, but a backslash doubled and a control character stored before the text rule written as its
    escape (``\x07``), so that every stored name has one address and no two share it: ``爱心<BEL>企业``
    stored with the character is ``爱心\x07企业``, ``爱心\x07企业`` typed with a backslash is
    ``爱心\\x07企业``. :func:`donor_name` reads it back."""
    return visible(name.replace("\\", "\\\\"))


_KEY_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def donor_name(key: str) -> str:
    """The stored name a :func:`donor_key` stands for."""
    return _KEY_ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), key)


def trace_donor_by_key(session: Session, village_id: int, key: str) -> DonorTrace:
    """The donor whose address (:func:`donor_key`) is ``key``.

    :raises NotFound: no donation from this name (code ``unknown_donor``).
    """
    return trace_donor(session, village_id, donor_name(key))


_DIGITS = re.compile(r"\d[\d\s\-]{5,}\d")  # a phone number, however it was spaced


def public_name(name: str) -> str:
    """A donor's name for the public board: a phone or other long number typed into it is hidden."""
    return _DIGITS.sub("****", name).strip()
