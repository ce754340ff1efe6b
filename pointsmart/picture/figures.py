"""The village picture's figures: plain functions of ``(session, village_id, month)`` over the village's
own tables — the ledger's transfers, the households, the finalised rounds' scores, the goods and their
stock moves — each returning dataclasses. Nothing here writes.

The figures mean what the county dashboard's mean, counted here from the live data:

- **Calendar.** Times are stored as naive UTC; a month is the village's (:mod:`pointsmart.periods`).
  An event counts in the month it happened; a reversal counts, with the opposite sign, in its own month.
- **Issued** (发放): points from issuance to the households, net of reversals. **Opening balances**
  (期初结转, :mod:`pointsmart.county.opening`: paper-card balances carried over) are a figure of their
  own, outside issued. **Redeemed** (兑换): points into the shop, net of cancellations. **Deducted**
  (扣减): points to deductions, net of reversals.
- **A household earned points** (得分农户) in a month when at least one award — a round's or a chair's
  — was posted to it that month (入账), not an opening balance; an award reversed later still counts, as
  it does at the county, whose dashboard counts the same households from the synced transfers
  (:mod:`pointsmart.county.projection`). Participation is those households over the group's households
  (active, registered before the month ended). Quiet households leave reversed awards out.
- **Points by category** are the scores of the rounds that took effect (were finalised) in the month,
  for the households whose points were posted: awards as posted, deductions as scored (what a balance
  could not cover is the round's 未扣足, shown with the round).
- **Goods redeemed**: units out of stock by redemption in the month, net of cancellations.
- **Stock outlook**: each active goods item's stock at the month's end over its pace, the units
  redeemed in the three months ending with the month (net, per month on average). Goods nobody
  redeemed in those months never run out.
- **Quiet households**: active households, registered before the three months ended, that earned
  nothing in them — for the panel to visit.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from ..county.opening import MARKS, is_opening
from ..households.models import Household
from ..households.services import group_sort_key
from ..ledger.models import Account, AccountKind, Transfer, TransferKind
from ..periods import MAX_YEAR, MonthOf, Period, local_day, month_window, utc_window
from ..scoring.models import RoundCriterion, RoundResult, RoundStatus, Score, ScoringRound
from ..shop.models import Goods, MoveKind, StockMove

#: months of the trend; months of the stock's pace and of the quiet households' silence
TREND_MONTHS, PACE_MONTHS, QUIET_MONTHS = 12, 3, 3


def _months_window(month: Period, count: int) -> tuple[list[Period], datetime, datetime]:
    """The ``count`` months ending with ``month``, and their stored-time window ``[start, end)``."""
    months = month_window(month, count)
    start, end = utc_window(months[0].start, months[-1].end)
    return months, start, end


def _village_accounts(village_id: int):
    return sa.select(Household.account_id).where(Household.village_id == village_id).scalar_subquery()


def _opening(transfer) -> sa.ColumnElement[bool]:
    """SQL: the transfer is a chair's award whose reason marks a carried-over balance."""
    return sa.and_(
        transfer.kind == TransferKind.ADJUSTMENT,
        sa.or_(*(transfer.reason.contains(mark, autoescape=True) for mark in MARKS)),
    )


def _earnings(
    village_id: int, end: datetime, start: datetime | None = None, *, reversed_too: bool = False
) -> sa.Select:
    """``(household id, time)`` of every point a household of the village earned in ``[start, end)``:
    awards from issuance (a round's or a chair's), not opening balances, not reversed since (unless
    ``reversed_too``: every award posted, as the county's 得分农户 counts them)."""
    t, undo = Transfer, aliased(Transfer)
    issuance = sa.select(Account.id).where(Account.code == str(AccountKind.ISSUANCE)).scalar_subquery()
    query = (
        sa.select(Household.id, t.created_at)
        .join(t, t.to_account_id == Household.account_id)
        .where(
            Household.village_id == village_id,
            t.from_account_id == issuance,
            t.kind.in_((TransferKind.AWARD, TransferKind.ADJUSTMENT)),
            sa.not_(_opening(t)),
            t.created_at < end,
        )
    )
    if not reversed_too:
        query = query.where(~sa.exists().where(undo.reverses_id == t.id))
    return query if start is None else query.where(t.created_at >= start)


# --- points by month --------------------------------------------------------------------------------


@dataclass
class MonthRow:
    month: str
    #: issued in the month, not counting the opening balances
    issued: int = 0
    redeemed: int = 0
    deducted: int = 0
    #: paper-card balances carried over in the month
    opening: int = 0


#: the figure a flow between a household and a system account adds to, and the sign of a flow into
#: the household: issued counts points going in (from issuance), the others points going out
_FIGURES = {
    AccountKind.ISSUANCE: ("issued", 1),
    AccountKind.SHOP: ("redeemed", -1),
    AccountKind.DEDUCTIONS: ("deducted", -1),
}


def monthly_points(
    session: Session, village_id: int, month: Period, count: int = TREND_MONTHS
) -> list[MonthRow]:
    """Points issued, redeemed, deducted and carried over per month: the ``count`` months ending with
    ``month``, oldest first."""
    months, start, end = _months_window(month, count)
    rows = {m.key: MonthRow(m.key) for m in months}
    source, target = aliased(Account), aliased(Account)
    accounts = _village_accounts(village_id)
    t = Transfer
    found = session.execute(
        sa.select(t.created_at, t.amount, t.kind, t.reason, t.reverses_id, source.kind, target.kind)
        .join(source, source.id == t.from_account_id)
        .join(target, target.id == t.to_account_id)
        .where(
            t.created_at >= start,
            t.created_at < end,
            sa.or_(t.from_account_id.in_(accounts), t.to_account_id.in_(accounts)),
        )
    ).all()
    # the opening balances that reversals in the window undo (the balances may be older than the window)
    undone = {r.reverses_id for r in found if r.reverses_id}
    openings = set()
    if undone:
        openings = set(
            session.scalars(
                sa.select(t.id)
                .join(source, source.id == t.from_account_id)
                .where(t.id.in_(undone), source.kind == AccountKind.ISSUANCE, _opening(t))
            )
        )
    month_of = MonthOf()
    for at, amount, kind, reason, reverses, from_kind, to_kind in found:
        row = rows[month_of(at)]
        if is_opening(kind, from_kind, to_kind, reason):
            row.opening += amount
            continue
        if reverses in openings and to_kind == AccountKind.ISSUANCE:
            row.opening -= amount
            continue
        if to_kind == AccountKind.HOUSEHOLD and from_kind in _FIGURES:
            name, sign = _FIGURES[from_kind]
        elif from_kind == AccountKind.HOUSEHOLD and to_kind in _FIGURES:
            name, sign = _FIGURES[to_kind][0], -_FIGURES[to_kind][1]
        else:
            continue  # expiry, or a flow between system accounts: not on this picture
        setattr(row, name, getattr(row, name) + sign * amount)
    return list(rows.values())


# --- participation by 村民小组 ----------------------------------------------------------------------


@dataclass
class GroupRow:
    #: the group's name; "" for households without one
    group: str
    households: int = 0
    earned: int = 0

    @property
    def participation(self) -> float | None:
        """Households that earned points over households, or None when the group has none."""
        return self.earned / self.households if self.households else None


def participation(session: Session, village_id: int, month: Period) -> list[GroupRow]:
    """Per 村民小组, in counting order: its active households registered by the month's end, and how
    many of them earned points in the month."""
    start, end = month.utc_window()
    earned = set(
        session.scalars(sa.select(_earnings(village_id, end, start, reversed_too=True).subquery().c.id))
    )
    groups: dict[str, GroupRow] = {}
    for household_id, group in session.execute(
        sa.select(Household.id, Household.group).where(
            Household.village_id == village_id, Household.active.is_(True), Household.created_at < end
        )
    ):
        row = groups.setdefault(group or "", GroupRow(group or ""))
        row.households += 1
        row.earned += household_id in earned
    return sorted(groups.values(), key=lambda r: group_sort_key(r.group))


def total_of(groups: list[GroupRow]) -> GroupRow:
    """The whole village's households and those that earned, from its groups."""
    total = GroupRow("")
    for row in groups:
        total.households += row.households
        total.earned += row.earned
    return total


# --- points by rulebook category --------------------------------------------------------------------


@dataclass
class CategoryRow:
    category: str
    awarded: int
    #: as scored (a shortfall the balance could not cover included)
    deducted: int

    @property
    def net(self) -> int:
        return self.awarded - self.deducted


def points_by_category(session: Session, village_id: int, month: Period) -> list[CategoryRow]:
    """Points awarded and deducted per rulebook category by the rounds finalised in the month, most
    awarded first."""
    start, end = month.utc_window()
    c, s = RoundCriterion, Score
    points = s.times * c.points
    rows = session.execute(
        sa.select(
            c.category_name,
            sa.func.coalesce(sa.func.sum(sa.case((c.points > 0, points), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((c.points < 0, -points), else_=0)), 0),
        )
        .select_from(s)
        .join(c, c.id == s.round_criterion_id)
        .join(ScoringRound, ScoringRound.id == s.round_id)
        # a result row exists for each household whose points were posted (active, in the round's scope)
        .join(
            RoundResult,
            sa.and_(RoundResult.round_id == s.round_id, RoundResult.household_id == s.household_id),
        )
        .where(
            ScoringRound.village_id == village_id,
            ScoringRound.status == RoundStatus.FINALISED,
            ScoringRound.finalised_at >= start,
            ScoringRound.finalised_at < end,
            s.times > 0,
        )
        .group_by(c.category_name)
    )
    found = [CategoryRow(name, int(awarded), int(deducted)) for name, awarded, deducted in rows]
    return sorted(found, key=lambda r: (-r.awarded, -r.deducted, r.category))


# --- goods ------------------------------------------------------------------------------------------


@dataclass
class GoodsRow:
    name: str
    spec: str
    qty: int

    @property
    def label(self) -> str:
        return f"{self.name} {self.spec}".strip()


def _redeemed_units():
    """SQL: units out of stock by redemption, net of cancellations (summed over stock moves)."""
    moved = sa.case(
        (StockMove.kind.in_((MoveKind.REDEMPTION, MoveKind.CANCELLATION)), -StockMove.qty), else_=0
    )
    return sa.func.coalesce(sa.func.sum(moved), 0)


def top_goods(session: Session, village_id: int, month: Period, limit: int | None = 10) -> list[GoodsRow]:
    """The goods redeemed most in the month (units, net of cancellations), most first."""
    start, end = month.utc_window()
    units = _redeemed_units()
    query = (
        sa.select(Goods.name, Goods.spec, units)
        .join(StockMove, StockMove.goods_id == Goods.id)
        .where(Goods.village_id == village_id, StockMove.created_at >= start, StockMove.created_at < end)
        .group_by(Goods.id, Goods.name, Goods.spec)
        .having(units > 0)
        .order_by(units.desc(), Goods.name, Goods.spec)
    )
    if limit:
        query = query.limit(limit)
    return [GoodsRow(name, spec or "", int(qty)) for name, spec, qty in session.execute(query)]


@dataclass
class StockRow:
    """A goods item's stock at the month's end, and how long it lasts at the last months' pace."""

    name: str
    spec: str
    #: units in stock at the end of the month
    stock: int
    #: units redeemed (net) in the :data:`PACE_MONTHS` months ending with the month
    redeemed: int
    #: days in those months
    days: int
    #: the month's end (the first day after it)
    as_of: date

    @property
    def label(self) -> str:
        return f"{self.name} {self.spec}".strip()

    @property
    def per_month(self) -> float:
        """Units redeemed a month, on average over the pace's months."""
        return max(self.redeemed, 0) / PACE_MONTHS

    @property
    def runs_out(self) -> bool:
        """Whether it ever runs out at this pace (never, when nobody redeemed it)."""
        return self.redeemed > 0

    @property
    def months_left(self) -> float | None:
        """Months of stock at the pace; None when it never runs out."""
        return self.stock / self.per_month if self.runs_out else None

    @property
    def days_left(self) -> int | None:
        return round(self.stock * self.days / self.redeemed) if self.runs_out else None

    @property
    def runs_out_on(self) -> date | None:
        """The day it runs out at the pace, counted from the month's end; None when it never does, or
        not before the last year the app knows (a large stock redeemed once would overflow a date)."""
        if self.days_left is None or self.days_left > (date(MAX_YEAR, 12, 31) - self.as_of).days:
            return None
        return self.as_of + timedelta(days=self.days_left)


def stock_outlook(
    session: Session, village_id: int, month: Period, months: int = PACE_MONTHS
) -> list[StockRow]:
    """Every active goods item's stock at the month's end and how long it lasts at the pace of the
    ``months`` months ending with the month: soonest to run out first; those that never do last."""
    window, start, end = _months_window(month, months)
    in_window = sa.and_(StockMove.created_at >= start, StockMove.created_at < end)
    redeemed = sa.case(
        (
            sa.and_(in_window, StockMove.kind.in_((MoveKind.REDEMPTION, MoveKind.CANCELLATION))),
            -StockMove.qty,
        ),
        else_=0,
    )
    rows = session.execute(
        sa.select(
            Goods.name,
            Goods.spec,
            sa.func.coalesce(sa.func.sum(StockMove.qty), 0),
            sa.func.coalesce(sa.func.sum(redeemed), 0),
        )
        .outerjoin(StockMove, sa.and_(StockMove.goods_id == Goods.id, StockMove.created_at < end))
        .where(Goods.village_id == village_id, Goods.active.is_(True))
        .group_by(Goods.id, Goods.name, Goods.spec)
    )
    days = (window[-1].end - window[0].start).days
    found = [
        StockRow(name, spec or "", int(stock), int(units), days, month.end)
        for name, spec, stock, units in rows
    ]
    return sorted(found, key=lambda r: (r.months_left is None, r.months_left or 0, r.name, r.spec))


# --- households that earned nothing -----------------------------------------------------------------


@dataclass
class QuietHousehold:
    household_no: str
    head_name: str
    group: str
    #: the last day it earned points before the months ended; None: never
    last_earned: date | None = None


def quiet_households(
    session: Session, village_id: int, month: Period, months: int = QUIET_MONTHS
) -> list[QuietHousehold]:
    """Active households, registered before the ``months`` months ending with ``month`` ended, that
    earned no points in them; by group in counting order, then 户号."""
    _window, start, end = _months_window(month, months)
    earnings = _earnings(village_id, end).subquery()
    last = dict(
        session.execute(
            sa.select(earnings.c.id, sa.func.max(earnings.c.created_at)).group_by(earnings.c.id)
        ).all()
    )
    quiet = []
    for household_id, no, head, group in session.execute(
        sa.select(Household.id, Household.household_no, Household.head_name, Household.group).where(
            Household.village_id == village_id, Household.active.is_(True), Household.created_at < end
        )
    ):
        at = last.get(household_id)
        if at is not None and at >= start:
            continue
        quiet.append(QuietHousehold(no, head, group or "", local_day(at) if at else None))
    return sorted(quiet, key=lambda h: (group_sort_key(h.group), h.household_no))


# --- the whole picture ------------------------------------------------------------------------------


@dataclass
class Picture:
    month: Period
    trend: list[MonthRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    categories: list[CategoryRow] = field(default_factory=list)
    goods: list[GoodsRow] = field(default_factory=list)
    stock: list[StockRow] = field(default_factory=list)
    quiet: list[QuietHousehold] = field(default_factory=list)

    @property
    def this_month(self) -> MonthRow:
        return self.trend[-1]

    @property
    def total(self) -> GroupRow:
        return total_of(self.groups)


def first_day(session: Session, village_id: int):
    """The village's day of its first transfer, or None when its ledger is empty."""
    t = Transfer
    first = session.scalar(
        sa.select(t.created_at)
        .where(
            sa.or_(
                t.to_account_id.in_(_village_accounts(village_id)),
                t.from_account_id.in_(_village_accounts(village_id)),
            )
        )
        .order_by(t.id)
        .limit(1)
    )
    return None if first is None else local_day(first)


def picture(session: Session, village_id: int, month: Period) -> Picture:
    """Every figure of the village's picture for ``month``."""
    return Picture(
        month=month,
        trend=monthly_points(session, village_id, month),
        groups=participation(session, village_id, month),
        categories=points_by_category(session, village_id, month),
        goods=top_goods(session, village_id, month),
        stock=stock_outlook(session, village_id, month),
        quiet=quiet_households(session, village_id, month),
    )
