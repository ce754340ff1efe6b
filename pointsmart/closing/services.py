"""The months of a village, what blocks closing one, closing it (月结) and carrying a round.

Rules, as the chair's page states them:

- a month can be closed once it has ended, the month before it is closed (months close in order, from
  the first month with any record), every round of the month is finalised or carried to the next
  month, and — when the shop had goods on hand in the month — a stocktake was counted on a day of it;
- a round belongs to the month its period ends (:func:`pointsmart.months.guard.month_of_round`); a
  round carried out of a month is due again in the next one;
- closing stores the month's figures (:func:`.figures.month_figures`) as canonical JSON with their
  sha256, who closed it and when, and sends the close to the county in the change log. Nothing reopens
  a month.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import record
from ..clock import utcnow
from ..errors import Conflict, NotFound
from ..ledger.models import Transfer
from ..months.guard import close_of, month_label, month_of_round
from ..months.models import MonthClose, RoundCarry
from ..org.models import Village
from ..periods import Period, local_day, parse_month, read_period, today
from ..scoring.models import STATUS_LABELS, RoundStatus, ScoringRound
from ..shop.models import Goods, StockMove, Stocktake
from . import figures as month_figures_module


@dataclass
class Blocker:
    """Why a month cannot be closed yet, and where to fix it."""

    text: str
    #: the page that fixes it: an endpoint and its arguments (None: nothing to open)
    endpoint: str | None = None
    args: dict = field(default_factory=dict)
    #: a round that may be carried to the next month instead
    round_id: int | None = None


@dataclass
class MonthState:
    month: str
    label: str
    close: MonthClose | None
    blockers: list[Blocker]
    #: the month that may be closed now (the earliest open one, when nothing blocks it)
    closable: bool = False
    #: the rounds carried out of this month
    carried: list[ScoringRound] = field(default_factory=list)


def _month_of(at: datetime) -> str:
    return Period.of(local_day(at)).key


def first_month(session: Session, village_id: int) -> str | None:
    """The first month with any record of the village: where closing starts.

    Each record is in the month the figures count it in (:mod:`.figures`): a stock move on its dated
    day (``moved_on``: a receipt typed in later, by the day written on it), else the day it was
    recorded; a transfer on the day it was recorded; a stocktake on the day it counted; a round in
    the month its period ends.
    """
    candidates = []
    first_transfer = session.scalar(sa.select(sa.func.min(Transfer.created_at)))
    if first_transfer is not None:
        candidates.append(_month_of(first_transfer))
    dated, undated = session.execute(
        sa.select(
            sa.func.min(StockMove.moved_on),
            sa.func.min(StockMove.created_at).filter(StockMove.moved_on.is_(None)),
        )
        .join(Goods, Goods.id == StockMove.goods_id)
        .where(Goods.village_id == village_id)
    ).one()
    if dated is not None:
        candidates.append(Period.of(dated).key)
    if undated is not None:
        candidates.append(_month_of(undated))
    first_count = session.scalar(
        sa.select(sa.func.min(Stocktake.counted_on)).where(Stocktake.village_id == village_id)
    )
    if first_count is not None:
        candidates.append(Period.of(first_count).key)
    for key in session.scalars(
        sa.select(ScoringRound.period_key).where(ScoringRound.village_id == village_id)
    ):
        month = month_of_round(key)
        if month:
            candidates.append(month)
    return min(candidates) if candidates else None


def _round_label(period_key: str) -> str:
    period = read_period(period_key)
    return period.label() if period is not None else period_key


def _next(month: str) -> str:
    return Period.containing("month", int(month[:4]), int(month[5:])).next.key


def _previous(month: str) -> str:
    return Period.containing("month", int(month[:4]), int(month[5:])).previous.key


def open_rounds(session: Session, village_id: int, month: str) -> list[ScoringRound]:
    """Rounds due by ``month`` that are not finalised and no close carried out of it (or a later month)."""
    rounds = session.scalars(
        sa.select(ScoringRound)
        .where(ScoringRound.village_id == village_id, ScoringRound.status != RoundStatus.FINALISED)
        .order_by(ScoringRound.period_key, ScoringRound.scope, ScoringRound.id)
    ).all()
    carried = _carried_months(session, [r.id for r in rounds])
    due = []
    for r in rounds:
        home = month_of_round(r.period_key)
        if home is None or home > month:
            continue
        if max(carried.get(r.id, [""])) >= month:
            continue
        due.append(r)
    return due


def _carried_months(session: Session, round_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if round_ids:
        for round_id, month in session.execute(
            sa.select(RoundCarry.round_id, RoundCarry.month).where(RoundCarry.round_id.in_(round_ids))
        ):
            found.setdefault(round_id, []).append(month)
    return found


def _needs_stocktake(session: Session, village_id: int, month: str) -> bool:
    """The shop had goods on hand at some point of the month and none was counted on a day of it.

    Goods were on hand when some goods' stock at the month's start was above zero, or when any stock
    move is dated in the month. A move is dated by the day on its paper (``moved_on``: a receipt written
    in later, back-dated into the month, counts in the month), else by the villages' day it was
    recorded — as the month's figures date it (:func:`.figures.month_moves`).
    """
    period = parse_month(month)
    start, end = period.utc_window()
    m = StockMove
    of_village = m.goods_id.in_(sa.select(Goods.id).where(Goods.village_id == village_id))
    undated = m.moved_on.is_(None)
    in_month = sa.or_(
        sa.and_(m.moved_on >= period.start, m.moved_on < period.end),
        sa.and_(undated, m.created_at >= start, m.created_at < end),
    )
    before = sa.or_(m.moved_on < period.start, sa.and_(undated, m.created_at < start))
    moved = session.scalar(sa.select(m.id).where(of_village, in_month).limit(1))
    stocked = session.scalar(
        sa.select(m.goods_id)
        .where(of_village, before)
        .group_by(m.goods_id)
        .having(sa.func.sum(m.qty) > 0)
        .limit(1)
    )
    if moved is None and stocked is None:
        return False
    counted = session.scalar(
        sa.select(Stocktake.id)
        .where(
            Stocktake.village_id == village_id,
            Stocktake.counted_on >= period.start,
            Stocktake.counted_on < period.end,
        )
        .limit(1)
    )
    return counted is None


def blockers(session: Session, village_id: int, month: str, first: str | None = None) -> list[Blocker]:
    """What stands between ``month`` and its close, each with the page that fixes it; empty: closable."""
    found: list[Blocker] = []
    if month >= Period.of(today()).key:
        found.append(Blocker(_("这个月还没有过完，月底以后才能月结。")))
    first = first or first_month(session, village_id)
    previous = _previous(month)
    if first is not None and previous >= first and close_of(session, village_id, previous) is None:
        found.append(
            Blocker(
                _("请先月结%(month)s：月份要按顺序月结。", month=month_label(previous)),
                "closing.index",
                {"_anchor": f"m-{previous}"},
            )
        )
    for r in open_rounds(session, village_id, month):
        found.append(
            Blocker(
                _(
                    "%(period)s%(scope)s的评定是“%(status)s”，还没有生效：请完成评定，或结转到下月。",
                    period=_round_label(r.period_key),
                    scope=f"（{r.scope}）" if r.scope else "",
                    status=str(STATUS_LABELS.get(r.status, r.status)),
                ),
                "scoring.overview",
                {"round_id": r.id},
                round_id=r.id,
            )
        )
    if _needs_stocktake(session, village_id, month):
        found.append(Blocker(_("这个月还没有物资盘点：请在本月的日期做一次盘点。"), "shop.stocktake"))
    return found


def month_states(session: Session, village_id: int) -> list[MonthState]:
    """Every month from the first with a record to this one (which cannot close yet), newest first."""
    first = first_month(session, village_id)
    if first is None:
        return []
    last = current = Period.of(today()).key
    closes = {
        c.month: c for c in session.scalars(sa.select(MonthClose).where(MonthClose.village_id == village_id))
    }
    carries: dict[str, list[ScoringRound]] = {}
    for carry, scoring_round in session.execute(
        sa.select(RoundCarry, ScoringRound)
        .join(ScoringRound, ScoringRound.id == RoundCarry.round_id)
        .where(ScoringRound.village_id == village_id)
        .order_by(RoundCarry.id)
    ):
        carries.setdefault(carry.month, []).append(scoring_round)
    states, month, earliest_open = [], first, None
    while month <= last:
        close = closes.get(month)
        state = MonthState(month, month_label(month), close, [], carried=carries.get(month, []))
        if close is None:
            if earliest_open is None:
                earliest_open = month
                state.blockers = blockers(session, village_id, month, first)
                state.closable = not state.blockers
            else:
                if month >= current:
                    state.blockers.append(Blocker(_("这个月还没有过完，月底以后才能月结。")))
                state.blockers.append(
                    Blocker(
                        _("请先月结%(month)s：月份要按顺序月结。", month=month_label(earliest_open)),
                        "closing.index",
                        {"_anchor": f"m-{earliest_open}"},
                    )
                )
        states.append(state)
        month = _next(month)
    return states[::-1]


def close_month(
    session: Session,
    village: Village,
    month: str,
    actor_id: int,
    keep_book: Callable[[str, datetime, str], str] | None = None,
) -> MonthClose:
    """Close ``month``: freeze its figures with their sha256, who and when; audited; sent to the county.

    ``keep_book(month, closed_at, sha256)`` keeps the month's book as a file (its cover naming the
    close: when, and the figures' hash) and returns the file's sha256; it runs once nothing blocks the
    close, inside the close's transaction (a refused or failed close keeps the row unwritten; a file
    left by one is overwritten by the next attempt).

    :raises Invalid: not a month. :raises Conflict: closed already, or something still blocks it
        (the message names the first blocker).
    """
    month = parse_month(month).key
    # one close at a time per village: two chairs pressing 月结 at once close the month once
    session.scalar(sa.select(Village.id).where(Village.id == village.id).with_for_update())
    if close_of(session, village.id, month) is not None:
        raise Conflict(
            _("%(month)s已经月结过了，不能重复月结，也不能重新打开。", month=month_label(month)),
            code="already_closed",
        )
    found = blockers(session, village.id, month)
    if found:
        raise Conflict(
            _("%(month)s还不能月结：%(why)s", month=month_label(month), why=found[0].text),
            code="month_blocked",
        )
    now = utcnow()
    figures = month_figures_module.month_figures(session, village.id, month, as_of=now)
    sha256 = month_figures_module.digest(figures)
    book_sha256 = keep_book(month, now, sha256) if keep_book is not None else None
    close = MonthClose(
        village_id=village.id,
        month=month,
        figures=month_figures_module.canonical(figures).decode(),
        sha256=sha256,
        book_sha256=book_sha256,
        closed_by=actor_id,
        closed_at=now,
    )
    session.add(close)
    session.flush()
    record(session, "closing.month.closed", actor_id, close, month=month, sha256=close.sha256)
    return close


def carry_round(session: Session, village_id: int, round_id: int, month: str, actor_id: int) -> RoundCarry:
    """Carry an unfinished round out of ``month`` (the month being closed) to the next month; audited.

    :raises NotFound: no such round in the village. :raises Conflict: it is finalised, not due in
        that month, or the month is closed already.
    """
    month = parse_month(month).key
    scoring_round = session.scalar(
        sa.select(ScoringRound).where(ScoringRound.id == round_id, ScoringRound.village_id == village_id)
    )
    if scoring_round is None:
        raise NotFound(_("找不到这次评定。"), code="unknown_round")
    if close_of(session, village_id, month) is not None:
        raise Conflict(_("%(month)s已经月结，不能再结转。", month=month_label(month)), code="month_closed")
    if scoring_round not in open_rounds(session, village_id, month):
        raise Conflict(
            _("这次评定不是%(month)s待完成的评定，不用结转。", month=month_label(month)), code="not_due"
        )
    carry = RoundCarry(round_id=scoring_round.id, month=month, carried_by=actor_id, carried_at=utcnow())
    session.add(carry)
    session.flush()
    record(
        session,
        "closing.round.carried",
        actor_id,
        scoring_round,
        month=month,
        period=scoring_round.period_key,
    )
    return carry


def month_to_close(session: Session, village_id: int) -> MonthState | None:
    """The earliest month that has ended and is not closed yet, with what blocks it; None: none waits."""
    first = first_month(session, village_id)
    if first is None:
        return None
    closed = set(session.scalars(sa.select(MonthClose.month).where(MonthClose.village_id == village_id)))
    month, current = first, Period.of(today()).key
    while month < current:
        if month not in closed:
            found = blockers(session, village_id, month, first)
            return MonthState(month, month_label(month), None, found, closable=not found)
        month = _next(month)
    return None
