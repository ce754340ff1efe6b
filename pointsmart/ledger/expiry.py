"""Which of a household's points are still held, and when each expires: the ledger replayed as lots.

Expiry is an ordinary transfer (household → the expiry account, :attr:`TransferKind.EXPIRY`); nothing
here edits a balance. What this module does is decide *how much* of a balance is past its deadline,
by replaying the account's transfers in the order they were written:

- every credit is a **lot**: the points, when they were earned, and their deadline (given by the
  caller's ``deadline_of(earned_at)``; None when they never expire);
- every debit (a redemption, a deduction) takes the **oldest** points first (FIFO);
- an expiry takes the lots whose deadline had passed when it was posted, oldest first (and what is
  left of it, which happens only when a later reversal took away a lot it had counted, from the
  oldest lots);
- a reversal of a credit (an award entered by mistake) removes that lot, as if it had never been
  earned; a reversal of a debit (a cancelled redemption, a corrected deduction, an expiry undone)
  gives the points back as a new lot, earned when they were given back.

The points due to expire at ``now`` are then what is left of the lots whose deadline is ``now`` or
earlier; posting exactly that makes the next replay find nothing due, so a second run posts nothing.

The ledger knows no rules: the caller (:mod:`pointsmart.settings.expiry`) turns the chair's rule into
``deadline_of``.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Account, AccountKind, Transfer, TransferKind

#: the moment points earned at a time stop counting, or None when they never do
DeadlineOf = Callable[[datetime], datetime | None]


@dataclass
class Lot:
    earned_at: datetime
    deadline: datetime | None
    left: int


@dataclass(frozen=True)
class Move:
    """One transfer as an account's replay needs it."""

    id: int
    from_account_id: int
    to_account_id: int
    amount: int
    kind: str
    reverses_id: int | None
    created_at: datetime


def _take(lots: list[Lot], amount: int, only=None) -> int:
    """Take up to ``amount`` points from the lots, oldest first (from those ``only`` accepts); return
    what could not be taken."""
    for lot in lots:
        if amount == 0:
            break
        if lot.left and (only is None or only(lot)):
            used = min(lot.left, amount)
            lot.left -= used
            amount -= used
    return amount


def replay(account_id: int, moves: Iterable[Move], deadline_of: DeadlineOf) -> list[Lot]:
    """The account's lots after its transfers (``moves``, oldest first), each with the points left."""
    moves = list(moves)
    by_id = {m.id: m for m in moves}
    #: credits undone by a reversal: they were never earned
    cancelled = {
        m.reverses_id
        for m in moves
        if m.reverses_id is not None
        and m.reverses_id in by_id
        and by_id[m.reverses_id].to_account_id == account_id
    }
    lots: list[Lot] = []
    owed = 0  # points spent before the lots that pay for them (only after a cancelled credit)
    for move in moves:
        if move.id in cancelled or (move.reverses_id in cancelled and move.from_account_id == account_id):
            continue
        if move.to_account_id == account_id:
            paid = min(owed, move.amount)
            owed -= paid
            lots.append(Lot(move.created_at, deadline_of(move.created_at), move.amount - paid))
        elif move.kind == TransferKind.EXPIRY:
            at = move.created_at
            rest = _take(
                lots, move.amount, lambda lot, at=at: lot.deadline is not None and lot.deadline <= at
            )
            owed += _take(lots, rest)
        else:
            owed += _take(lots, move.amount)
    return [lot for lot in lots if lot.left]


def due(lots: Iterable[Lot], now: datetime) -> int:
    """The points of these lots whose deadline is ``now`` or earlier."""
    return sum(lot.left for lot in lots if lot.deadline is not None and lot.deadline <= now)


def moves_of(session: Session, account_ids: Iterable[int] | None = None) -> dict[int, list[Move]]:
    """Every household account's transfers (or those of ``account_ids``), oldest first, by account."""
    t = Transfer.__table__
    households = sa.select(Account.id).where(Account.kind == AccountKind.HOUSEHOLD)
    if account_ids is not None:
        households = households.where(Account.id.in_(list(account_ids)))
    ids = set(session.scalars(households))
    query = (
        sa.select(t.c.id, t.c.from_account_id, t.c.to_account_id, t.c.amount, t.c.kind, t.c.reverses_id,
                  t.c.created_at)
        .where(sa.or_(t.c.from_account_id.in_(ids), t.c.to_account_id.in_(ids)))
        .order_by(t.c.id)
    )  # fmt: skip
    found: dict[int, list[Move]] = defaultdict(list)
    if not ids:
        return found
    for row in session.execute(query):
        move = Move(*row)
        for account_id in (move.from_account_id, move.to_account_id):
            if account_id in ids:
                found[account_id].append(move)
    return found
