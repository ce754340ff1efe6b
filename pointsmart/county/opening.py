"""Opening balances (期初结转): the points a village carried over from its paper point cards.

A village starts on PointsMart by posting each household's paper-card balance as a chair's adjustment
(``pointsmart demo`` posts ``seed/demo/opening_balances.csv`` so, with the reason
"纸质积分卡余额结转（2026年1—10月）"; a chair types a reason like "开户积分" or "期初余额"). Those
points were earned before, on paper: counted as the month's issued points they dwarf the trend and
make every household look like it earned in that month. The county tells them apart by what the sync
carries — the transfer's kind, its ends and its reason:

an **opening transfer** is an ``adjustment`` from ``issuance`` to a household whose reason contains
one of :data:`MARKS`; the reversal of an opening transfer is one too (it subtracts).

The ingest keeps them in the month's rollup under :data:`OPENING_CATEGORY` (a category name no
round can send: rounds' categories are never empty) and leaves them out of the households that
earned points; the dashboard shows them as their own figure and series, outside "issued".
:func:`rebuild` recomputes both from the synced transfers, for rollups kept before this rule.
"""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..periods import rollup_keys
from .models import HouseholdPeriod, SyncedTransfer, VillageMonthCategory

#: words in a reason that mark a carried-over balance
MARKS = ("结转", "期初", "开户")
#: the ``village_month_category.category`` under which a month's opening points are summed
OPENING_CATEGORY = ""

RULE = _l(
    "期初结转：村里把纸质积分卡上的余额记入系统的临时加分（原因里写着“结转”“期初”或“开户”），"
    "单独列出，不算作当月发放的积分，也不算得分农户；期末未兑换积分里包括它。"
)


def is_opening(kind: str, from_kind: str, to_kind: str, reason: str | None) -> bool:
    """Whether a synced transfer is an opening balance carried over from a paper card."""
    return (
        kind == "adjustment"
        and from_kind == "issuance"
        and to_kind == "household"
        and any(mark in (reason or "") for mark in MARKS)
    )


def opening_clause(transfer):
    """SQL: ``transfer`` (a ``SyncedTransfer`` or its alias) is an opening transfer (no reversals)."""
    return sa.and_(
        transfer.kind == "adjustment",
        transfer.from_kind == "issuance",
        transfer.to_kind == "household",
        sa.or_(*(transfer.reason.contains(mark, autoescape=True) for mark in MARKS)),
    )


def rebuild(session: Session, village_id: int) -> None:
    """Recompute one village's opening-balance rollup rows and its households that earned points from
    its synced transfers, for a county whose rollups were kept before opening balances were told apart
    (the ingest keeps both up to date from then on). Running it again changes nothing."""
    t, c, hp = SyncedTransfer, VillageMonthCategory, HouseholdPeriod
    originals = sa.select(t.uuid).where(t.village_id == village_id, opening_clause(t)).scalar_subquery()
    undone = sa.and_(t.kind == "reversal", t.to_kind == "issuance", t.reverses_uuid.in_(originals))
    points = sa.func.sum(sa.case((undone, -t.amount), else_=t.amount))
    months = session.execute(
        sa.select(t.month, points)
        .where(t.village_id == village_id, sa.or_(opening_clause(t), undone))
        .group_by(t.month)
    ).all()
    session.execute(sa.delete(c).where(c.village_id == village_id, c.category == OPENING_CATEGORY))
    rows = [
        {
            "village_id": village_id,
            "month": month,
            "category": OPENING_CATEGORY,
            "awarded": int(n),
            "deducted": 0,
        }
        for month, n in months
        if n
    ]
    if rows:
        session.execute(sa.insert(c), rows)
    earned = session.execute(
        sa.select(t.month, t.household_uuid)
        .where(t.village_id == village_id, t.from_kind == "issuance", t.household_uuid.is_not(None))
        .where(t.kind.in_(("award", "adjustment")), sa.not_(opening_clause(t)))
        .distinct()
    ).all()
    keys = {(period, household) for month, household in earned for period in rollup_keys(month)}
    session.execute(sa.delete(hp).where(hp.village_id == village_id))
    if keys:
        session.execute(
            sa.insert(hp),
            [{"village_id": village_id, "period": p, "household_uuid": h} for p, h in sorted(keys)],
        )
    session.flush()
