"""The months a book (台账汇编, :mod:`pointsmart.book`) can be opened for, listed on the ledgers' page."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..periods import Period, today
from ..shop.models import Goods, Redemption, StockMove, Stocktake
from .models import ScoringRound
from .periods import round_period


def book_months(session: Session, village_id: int, limit: int = 120) -> list[Period]:
    """The months a book can be opened for, newest first: from the first month with anything in it
    (a round's period, a redemption, a stock move, a count) to this month, at most ``limit`` of them."""
    firsts = []
    for column, where in (
        (Redemption.created_at, Redemption.village_id == village_id),
        (Stocktake.counted_on, Stocktake.village_id == village_id),
    ):
        first = session.scalar(sa.select(sa.func.min(column)).where(where))
        if first is not None:
            firsts.append(first.date() if isinstance(first, datetime) else first)
    first_move = session.scalar(
        sa.select(sa.func.min(StockMove.created_at))
        .join(Goods, Goods.id == StockMove.goods_id)
        .where(Goods.village_id == village_id)
    )
    if first_move is not None:
        firsts.append(first_move.date())
    for period_type, period_key in session.execute(
        sa.select(ScoringRound.period_type, ScoringRound.period_key)
        .where(ScoringRound.village_id == village_id)
        .distinct()
    ):
        firsts.append(round_period(period_type, period_key).start)
    month = Period.of(today())
    first = min(Period.of(min(firsts)), month) if firsts else month  # data dated ahead: from this month
    months = []
    while month >= first and len(months) < limit:
        months.append(month)
        month = month.previous
    return months
