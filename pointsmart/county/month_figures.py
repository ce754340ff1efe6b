"""A month's figures rebuilt at the county from a village's synced records: the same structure as the
village's own (:mod:`pointsmart.closing.figures`), so a month's digest is the same on both sides unless a
record differs.

The month's rounds are those of its book as the village's book takes them (:func:`book_rounds`): the
county's round table, its photos ledger and these figures all ask that one function.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..closing.figures import Builder, month_moves, month_utc_window, round_entries, round_period_keys
from ..months.guard import month_of_round
from ..periods import read_period


def book_rounds(session: Session, village_id: int, month: str) -> list[tuple[str, str, str, datetime | None]]:
    """``(uuid, period_key, scope, finalised_at)`` of the village's synced rounds of ``month``'s book, as
    the village's book takes them (:func:`pointsmart.book.month_rounds`): a round's period ends in the
    month — unless a close carried it on. The county holds no carries, but each is seen in the closes:
    a month's close carried every round of the month not finalised by the closing time to the next
    month (months close only so)."""
    from .models import SyncedMonthClose, SyncedRound

    closes = dict(
        session.execute(
            sa.select(SyncedMonthClose.month, SyncedMonthClose.closed_at).where(
                SyncedMonthClose.village_id == village_id
            )
        ).all()
    )
    r = SyncedRound
    found = []
    for uuid, key, scope, finalised_at in session.execute(
        sa.select(r.uuid, r.period_key, r.scope, r.finalised_at)
        .where(r.village_id == village_id, r.period_key <= month[:4] + "~")
        .order_by(r.period_key, r.scope, r.uuid)
    ):
        book = month_of_round(key)
        while book is not None and book <= month and book in closes:
            if finalised_at is not None and finalised_at <= closes[book]:
                break  # finalised before its month closed: that month's book
            book = read_period(book).next.key  # carried on by that close
        if book == month:
            found.append((uuid, key, scope, finalised_at))
    return found


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

    def scored(round_uuids: list[str]) -> int:
        if not round_uuids:
            return 0
        res = SyncedRoundResult
        return session.scalar(
            sa.select(sa.func.count(sa.distinct(res.household_uuid))).where(
                res.village_id == village_id, res.round_uuid.in_(round_uuids)
            )
        )

    r = SyncedRound
    period_rounds = session.execute(
        sa.select(r.uuid, r.uuid, r.period_key, r.scope, r.finalised_at).where(
            r.village_id == village_id, r.period_key.in_(round_period_keys(month))
        )
    ).all()
    figures.rounds, finalised = round_entries(
        [(uuid, uuid, *row) for uuid, *row in book_rounds(session, village_id, month)], as_of
    )
    figures.households_scored = scored(finalised)
    figures.period_rounds, finalised = round_entries(period_rounds, as_of)
    figures.period_households_scored = scored(finalised)
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
