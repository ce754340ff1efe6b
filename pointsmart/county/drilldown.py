"""The county's read-only drill-down into one village: its line of the dashboard, its rounds, its
households, its honour roll, its shop — from the synced records.

Only these read ``synced_transfer``, for that one village, through
its ``(village_id, household_uuid)`` index:

====================== =======================================================================
``village_figures``    :class:`VillageRow` — the village's own line of the dashboard
``village_rounds``     list of :class:`RoundRow` — its scoring rounds in the period, with result sums
``village_households`` list of :class:`HouseholdRow` — every household, its balance at the end of the
                       period computed from the synced transfers, what it earned / redeemed / lost,
                       the opening balance carried over from its paper card
``honour_roll``        list of :class:`HouseholdRow` — the households that earned most in the period
``village_shop``       :class:`VillageShop` — redeemed points by month, goods redeemed, donations
====================== =======================================================================

A round's points count in the month the round scores (its period), not the month it was finalised: a
round for October finalised on 3 November is October's, on the rounds table, in the households'
points and on the honour roll (:func:`round_belongs`). Other movements count in the month they were
posted. Opening balances carried over from paper cards (:mod:`.opening`) are their own column.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth.models import User
from ..periods import Period, local, read_period
from ..scoring.models import CADENCE_LABELS, STATUS_LABELS
from . import services
from .dashboard import GoodsRow, MonthRow, VillageRow, goods_rows, month_rows, village_rows
from .models import (
    SyncedGoods,
    SyncedHousehold,
    SyncedRedemption,
    SyncedRound,
    SyncedRoundResult,
    SyncedStockMove,
    SyncedTransfer,
)
from .opening import opening_clause


def _village_id(session: Session, user: User, code: str) -> int:
    """:raises NotFound: unknown, or outside what the user may see."""
    village, _link = services.village_for(session, user, code)
    return village.id


def village_figures(session: Session, user: User, period: Period, code: str) -> VillageRow:
    """One village's line of the dashboard.

    :raises NotFound: the village is unknown or outside the user's township.
    """
    return village_rows(session, user, period, _village_id(session, user, code))[0]


@dataclass
class RoundRow:
    uuid: str
    period_type: str
    period_key: str
    scope: str
    status: str
    created_at: datetime | None
    finalised_at: datetime | None
    households: int = 0
    awarded: int = 0
    deducted: int = 0
    shortfall: int = 0

    @property
    def net(self) -> int:
        """What the round posted: awards, less the deductions the balances covered."""
        return self.awarded - (self.deducted - self.shortfall)

    @property
    def cadence_label(self) -> str:
        return str(CADENCE_LABELS.get(self.period_type, self.period_type))

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))


def round_belongs(period_key: str, period: Period) -> bool:
    """Whether a round's points count in ``period``: the round's own period ends in it (a month's
    round in that month, a quarter's in its last month). A key no period reads as counts nowhere."""
    its = read_period(period_key)
    return its is not None and period.first_month <= its.last_month <= period.last_month


def village_rounds(session: Session, user: User, period: Period, code: str) -> list[RoundRow]:
    """The village's scoring rounds whose period overlaps this one, newest first, with result sums."""
    village_id = _village_id(session, user, code)
    r, res = SyncedRound, SyncedRoundResult
    sums = {
        round_uuid: values
        for round_uuid, *values in session.execute(
            sa.select(
                res.round_uuid,
                sa.func.count(),
                sa.func.sum(res.awarded),
                sa.func.sum(res.deducted),
                sa.func.sum(res.shortfall),
            )
            .where(res.village_id == village_id)
            .group_by(res.round_uuid)
        )
    }
    wanted = set(period.months)
    rows = []
    for found in session.scalars(sa.select(r).where(r.village_id == village_id)):
        its = read_period(found.period_key)
        if its is not None and not wanted.intersection(its.months):
            continue
        count, awarded, deducted, shortfall = sums.get(found.uuid, (0, 0, 0, 0))
        rows.append(
            RoundRow(
                found.uuid,
                found.period_type,
                found.period_key,
                found.scope,
                found.status,
                found.created_at,
                found.finalised_at,
                int(count),
                int(awarded or 0),
                int(deducted or 0),
                int(shortfall or 0),
            )
        )
    return sorted(rows, key=lambda row: (row.period_key, row.created_at or datetime.min), reverse=True)


@dataclass
class HouseholdRow:
    uuid: str
    household_no: str
    head_name: str
    group: str
    active: bool
    #: the balance at the end of the period, from the synced transfers
    balance: int = 0
    #: points the household earned in the period: its rounds scored for the period, and other awards
    #: posted in it (less reversed awards); not its opening balance
    earned: int = 0
    #: the opening balance carried over from its paper card, posted in the period
    opening: int = 0
    redeemed: int = 0
    deducted: int = 0
    #: place on the honour roll (equal points, equal place)
    rank: int = 0


def village_households(session: Session, user: User, period: Period, code: str) -> list[HouseholdRow]:
    """Every household of the village with its balance at the period's end and its period's movements.

    Reads the village's synced transfers (one village: the ``(village_id, household_uuid)`` index) and
    its round results: a round's awards and deductions count in the period the round scores
    (:func:`round_belongs`), everything else in the month it was posted.
    """
    village_id = _village_id(session, user, code)
    t = SyncedTransfer
    in_period = t.month.between(period.first_month, period.last_month)
    of_round = sa.and_(t.kind.in_(("award", "deduction")), t.category.is_not(None))
    opening_uuids = sa.select(t.uuid).where(t.village_id == village_id, opening_clause(t)).scalar_subquery()
    # an opening transfer, or the reversal of one
    opening = sa.or_(opening_clause(t), sa.and_(t.kind == "reversal", t.reverses_uuid.in_(opening_uuids)))

    def net(kind: str, sign: int = 1, unless=None):
        """Points moved to the ``kind`` end in the period, less those moved back."""
        amount = sa.case((t.to_kind == kind, t.amount), (t.from_kind == kind, -t.amount), else_=0)
        counted = in_period if unless is None else sa.and_(in_period, sa.not_(unless))
        return sa.func.coalesce(sa.func.sum(sa.case((counted, sign * amount), else_=0)), 0)

    balance = sa.func.coalesce(
        sa.func.sum(
            sa.case((t.month > period.last_month, 0), (t.to_kind == "household", t.amount), else_=-t.amount)
        ),
        0,
    )
    carried = sa.func.coalesce(
        sa.func.sum(sa.case((sa.and_(in_period, opening), -net_amount(t, "issuance")), else_=0)), 0
    )
    moved = {
        uuid: [int(v) for v in values]
        for uuid, *values in session.execute(
            sa.select(
                t.household_uuid,
                balance,
                net("issuance", -1, sa.or_(of_round, opening)),
                net("shop"),
                net("deductions", 1, of_round),
                carried,
            )
            .where(t.village_id == village_id, t.household_uuid.is_not(None))
            .group_by(t.household_uuid)
        )
    }
    scored = _round_points(session, village_id, period)
    h = SyncedHousehold
    rows = []
    for found in session.scalars(sa.select(h).where(h.village_id == village_id).order_by(h.household_no)):
        row = HouseholdRow(found.uuid, found.household_no, found.head_name, found.group, found.active)
        row.balance, row.earned, row.redeemed, row.deducted, row.opening = moved.get(found.uuid, (0,) * 5)
        awarded, deducted = scored.get(found.uuid, (0, 0))
        row.earned += awarded
        row.deducted += deducted
        rows.append(row)
    return rows


def net_amount(t, kind: str):
    """A transfer's amount into the ``kind`` end, negative out of it."""
    return sa.case((t.to_kind == kind, t.amount), (t.from_kind == kind, -t.amount), else_=0)


def _round_points(session: Session, village_id: int, period: Period) -> dict[str, tuple[int, int]]:
    """Per household: what the village's finalised rounds of ``period`` awarded, and deducted (less
    what the balance could not cover) — from the round results, whichever month they were posted."""
    r, res = SyncedRound, SyncedRoundResult
    rounds = [
        uuid
        for uuid, key in session.execute(sa.select(r.uuid, r.period_key).where(r.village_id == village_id))
        if round_belongs(key, period)
    ]
    if not rounds:
        return {}
    found = session.execute(
        sa.select(res.household_uuid, sa.func.sum(res.awarded), sa.func.sum(res.deducted - res.shortfall))
        .where(res.village_id == village_id, res.round_uuid.in_(rounds))
        .group_by(res.household_uuid)
    )
    return {household: (int(a or 0), int(d or 0)) for household, a, d in found}


def village_figures_by_round(row: VillageRow, households: list[HouseholdRow]) -> VillageRow:
    """The drill-down's line: households that earned points counted as on its households table (a
    round in the month it scores), so the line and the tables below it agree."""
    row.earned_households = sum(1 for h in households if h.earned > 0)
    return row


def honour_roll(
    session: Session, user: User, period: Period, code: str, limit: int = 10
) -> list[HouseholdRow]:
    """光荣榜: the households that earned most in the period; equal points share a place."""
    return rank(village_households(session, user, period, code), limit)


def rank(households: list[HouseholdRow], limit: int = 10) -> list[HouseholdRow]:
    """The top ``limit`` earners (more when the last place is shared), ranked 1, 2, 2, 4 …"""
    earners = sorted((h for h in households if h.earned > 0), key=lambda h: (-h.earned, h.household_no))
    ranked: list[HouseholdRow] = []
    for index, household in enumerate(earners):
        place = ranked[-1].rank if ranked and ranked[-1].earned == household.earned else index + 1
        if place > limit:
            break
        household.rank = place
        ranked.append(household)
    return ranked


@dataclass
class DonationRow:
    day: date | None
    donor: str
    goods: str
    spec: str
    qty: int


@dataclass
class VillageShop:
    #: the 12 months ending with the period's last month
    months: list[MonthRow]
    goods: list[GoodsRow]
    donations: list[DonationRow]
    #: redemptions made in the period and not cancelled, and their points
    redemptions: int = 0
    redemption_points: int = 0
    donated: int = field(default=0)


def village_shop(session: Session, user: User, period: Period, code: str) -> VillageShop:
    """The village shop's figures: redeemed points by month, goods redeemed, donations received."""
    village_id = _village_id(session, user, code)
    months = month_rows(session, user, period, village_id, 12)
    goods = goods_rows(session, user, period, village_id, None)
    m, g = SyncedStockMove, SyncedGoods
    donations = [
        DonationRow(moved_on or local(created_at).date(), donor, name, spec or "", qty)
        for moved_on, created_at, donor, name, spec, qty in session.execute(
            sa.select(m.moved_on, m.created_at, m.donor, g.name, g.spec, m.qty)
            .join(g, sa.and_(g.village_id == m.village_id, g.uuid == m.goods_uuid))
            .where(m.village_id == village_id, m.kind == "donation")
            .where(m.month.between(period.first_month, period.last_month))
            .order_by(m.created_at, m.id)
        )
    ]
    start, end = period.utc_window()
    r = SyncedRedemption
    count, points = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(r.points), 0)).where(
            r.village_id == village_id, r.status == "done", r.created_at >= start, r.created_at < end
        )
    ).one()
    return VillageShop(
        months=months,
        goods=goods,
        donations=donations,
        redemptions=int(count),
        redemption_points=int(points),
        donated=sum(d.qty for d in donations),
    )
