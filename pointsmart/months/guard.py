"""The one refusal of a write into a closed month, asked for by every service that writes a dated row.

A closed month never changes. A transfer, a stock move, a redemption is dated by the clock when it is
recorded; a stock receipt and a stocktake also by the day a person gives; a round's scores belong to
the round's month (:func:`pointsmart.months.guard.month_of_round`) until a close carried the round
to the next month. A correction of a closed month is made in the open month: a reversal, which points
back to what it undoes (``Transfer.reverses_id``; a cancelled redemption's goods point back with
``StockMove.redemption_id``).

A village's database holds one village, so the ledger (which keeps no village) asks for any village.
"""

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session, scoped_session

from ..clock import utcnow
from ..errors import Conflict
from ..periods import Period, local, read_period
from .models import MonthClose, RoundCarry


class MonthClosed(Conflict):
    code = "month_closed"


def close_of(session: Session, village_id: int, month: str) -> MonthClose | None:
    """The close of ``month`` (its ``closed_at``, ``closed_by`` user id, ``sha256``, ``figures``), or None."""
    return session.scalar(
        sa.select(MonthClose).where(MonthClose.village_id == village_id, MonthClose.month == month)
    )


def month_label(month: str) -> str:
    return _("%(year)s年%(month)s月", year=int(month[:4]), month=int(month[5:]))


def closed_at_or_after(session: Session, month: str, village_id: int | None = None) -> str | None:
    """The first closed month from ``month`` on, or None. Months close in order, so a month before a
    closed one is as closed as it: a row dated in it would change the stock and balances it froze."""
    query = sa.select(sa.func.min(MonthClose.month)).where(MonthClose.month >= month)
    if village_id is not None:
        query = query.where(MonthClose.village_id == village_id)
    return session.scalar(query)


def is_closed(session: Session, month: str, village_id: int | None = None) -> bool:
    """Whether ``month`` is closed, or lies before a closed month."""
    return closed_at_or_after(session, month, village_id) is not None


def _found_open(session: Session) -> set:
    """The months this transaction has already found open: asked once per transaction (a redemption
    posts its points and moves its goods, both dated now). Not trusted beyond it: the clock of a
    village PC can be set back into a month closed meanwhile, so every transaction asks again."""
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    memo = session.info.get("closing.found_open")
    if memo is None or memo[0] is not transaction:
        memo = session.info["closing.found_open"] = (transaction, set())
    return memo[1]


def refuse_month(session: Session, month: str, village_id: int | None = None) -> None:
    """:raises MonthClosed: ``month`` (``2026-11``) is closed."""
    found_open = _found_open(session)
    if (month, village_id) in found_open:
        return
    closed = closed_at_or_after(session, month, village_id)
    if closed == month:
        raise MonthClosed(
            _(
                "%(month)s已经月结，这个月的记录不能再改动。如需更正，请在当前月份做撤销或冲正，"
                "它会注明所更正的原记录。",
                month=month_label(month),
            ),
            month=month,
        )
    if closed is not None:
        raise MonthClosed(
            _(
                "%(closed)s已经月结，在它以前的%(month)s的记录也不能再改动（月结按月份顺序，"
                "改动以前的月份会改变已月结的库存和积分）。如需更正，请在当前月份做撤销或冲正。",
                closed=month_label(closed),
                month=month_label(month),
            ),
            month=month,
        )
    found_open.add((month, village_id))


def month_of_time(at: datetime | None = None) -> str:
    """The villages' month (``2026-11``) of a stored, naive UTC time; now by default."""
    there = local(at or utcnow())
    return f"{there.year:04d}-{there.month:02d}"


def refuse_time(session: Session, at: datetime | None = None, village_id: int | None = None) -> None:
    """Refuse a row recorded at ``at`` (a stored, naive UTC time; now by default) in a closed month."""
    refuse_month(session, month_of_time(at), village_id)


#: a condition to add to a statement that writes a row of the month bound as ``open_month``: the
#: database checks it with the write, so the counter asks no question of its own (:func:`found_open`)
NOT_CLOSED = ~sa.exists().where(MonthClose.__table__.c.month >= sa.bindparam("open_month"))


def found_open(session: Session, month: str, village_id: int | None = None) -> None:
    """Note that a statement with :data:`NOT_CLOSED` found ``month`` open: the transaction's later
    writes into it ask no more (for any village: a village's database holds one)."""
    found = _found_open(session)
    found.add((month, None))
    found.add((month, village_id))


def is_found_open(session: Session, month: str, village_id: int | None = None) -> bool:
    """Whether this transaction already found ``month`` open (:func:`refuse_month`, :func:`found_open`)."""
    return (month, village_id) in _found_open(session)


def refuse_day(session: Session, day: date | None, village_id: int | None = None) -> None:
    """Refuse a row a person dated ``day`` (the villages' calendar) in a closed month."""
    if day is not None:
        refuse_month(session, Period.of(day).key, village_id)


def month_of_round(period_key: str) -> str | None:
    """The month a round belongs to: the last month of its period (``2026-Q4`` → ``2026-12``)."""
    period = read_period(period_key or "")
    return None if period is None else period.last_month


def refuse_round(session: Session, scoring_round) -> None:
    """Refuse a change to a round of a closed month that its close did not carry to the next month."""
    month = month_of_round(scoring_round.period_key)
    if month is None or not is_closed(session, month, scoring_round.village_id):
        return
    carried = session.scalar(
        sa.select(RoundCarry.id)
        .where(RoundCarry.round_id == scoring_round.id, RoundCarry.month >= month)
        .limit(1)
    )
    if carried is None:
        raise MonthClosed(
            _(
                "这次评定属于%(month)s，该月已经月结，评定和评分不能再改动。如需更正，请在当前月份做撤销或调整。",
                month=month_label(month),
            ),
            month=month,
        )


def carried_to(session: Session, round_ids) -> dict[int, list[str]]:
    """The months each of these rounds was carried to by a month's close (结转), oldest first: a carry out
    of ``2026-10`` carries the round to ``2026-11``. A round never carried is not in the answer."""
    ids = list(round_ids)
    if not ids:
        return {}
    found: dict[int, list[str]] = {}
    for round_id, month in session.execute(
        sa.select(RoundCarry.round_id, RoundCarry.month)
        .where(RoundCarry.round_id.in_(ids))
        .order_by(RoundCarry.round_id, RoundCarry.month)
    ):
        found.setdefault(round_id, []).append(read_period(month).next.key)
    return found
