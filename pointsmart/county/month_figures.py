"""A month's figures rebuilt at the county from a village's synced records: the same structure as the
village's own (:mod:`pointsmart.closing.figures`), so a month's digest is the same on both sides unless a
record differs."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..closing.figures import Builder, month_moves, month_utc_window, round_entry, round_period_keys


def county_month_figures(
    session: Session, village_id: int, month: str, as_of: datetime | None = None
) -> dict:
    """The same figures rebuilt at the county from the village's synced records.

    ``as_of`` defaults to the village's closing time as its synced close says (now, if not closed).
    """
    from ..org.models import Village
    from .models import (
        SyncedMonthClose,
        SyncedRedemption,
        SyncedRound,
        SyncedRoundResult,
        SyncedStockMove,
        SyncedTransfer,
    )

    if as_of is None:
        as_of = session.scalar(
            sa.select(sa.func.min(SyncedMonthClose.closed_at)).where(
                SyncedMonthClose.village_id == village_id, SyncedMonthClose.month == month
            )
        )
        as_of = as_of or utcnow()
    start, end = month_utc_window(month)
    code = session.scalar(sa.select(Village.code).where(Village.id == village_id))
    figures = Builder(code, month)
    t = SyncedTransfer
    for kind, amount, from_kind, to_kind, category in session.execute(
        sa.select(t.kind, t.amount, t.from_kind, t.to_kind, t.category).where(
            t.village_id == village_id, t.created_at >= start, t.created_at < end
        )
    ):
        figures.transfer(kind, amount, from_kind, to_kind, category)

    m = SyncedStockMove
    moved: set[str] = set()
    for goods_uuid, kind, qty, in_month in month_moves(
        session.execute(
            sa.select(m.goods_uuid, m.kind, m.qty, m.created_at, m.moved_on).where(m.village_id == village_id)
        ),
        month,
    ):
        if in_month:
            moved.add(goods_uuid)
        figures.stock(goods_uuid, kind, qty, in_month)

    r = SyncedRound
    finalised = []
    for uuid, key, scope, finalised_at in session.execute(
        sa.select(r.uuid, r.period_key, r.scope, r.finalised_at).where(
            r.village_id == village_id, r.period_key.in_(round_period_keys(month))
        )
    ):
        entry = round_entry(uuid, key, scope, finalised_at, as_of)
        figures.rounds.append(entry)
        if entry["state"] == "finalised":
            finalised.append(uuid)
    if finalised:
        res = SyncedRoundResult
        figures.households_scored = session.scalar(
            sa.select(sa.func.count(sa.distinct(res.household_uuid))).where(
                res.village_id == village_id, res.round_uuid.in_(finalised)
            )
        )
    d = SyncedRedemption
    made = (d.created_at >= start) & (d.created_at < end)
    cancelled = (d.cancelled_at >= start) & (d.cancelled_at < end)
    counts = session.execute(
        sa.select(sa.func.count().filter(made), sa.func.count().filter(cancelled)).where(
            d.village_id == village_id
        )
    ).one()
    figures.redemptions = {"made": counts[0], "cancelled": counts[1]}
    return figures.result(moved)
