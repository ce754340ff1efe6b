"""Counters racing for the same points (DESIGN §5, Concurrency), on SQLite and PostgreSQL.

Many workers debit one household whose balance covers exactly five of the debits: exactly five win,
every other one gets a clear "insufficient points", and the ledger still adds up. Several workers
reverse the same transfer: exactly one reversal is written, the others are told it is already
reversed. Workers are threads (each with its own app context, session and connection) on both
databases, and separate OS processes (spawned, each with its own app and engine) on PostgreSQL.
A ``Barrier`` lines them up so the writes really overlap; every wait is bounded, so a deadlock
fails the test instead of hanging it.
"""

from collections import Counter

import pytest
import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import AccountKind, Transfer

from .races import HOW, race

DEBIT = 10
OPENING = 5 * DEBIT  # covers exactly five of the debits
#: workers per race: a spawned process takes ~2 s of start-up (imports, create_app), so fewer of them
DEBITORS = {"threads": 12, "processes": 8}
REVERSERS = {"threads": 4, "processes": 2}


def _household_with(app, make_household, points: int) -> tuple[int, int]:
    """A household holding ``points``; returns its id and its account's id."""
    household_id = make_household(points=points)
    with app.app_context():
        return household_id, db.session.get(Household, household_id).account_id


def _assert_exactly_five_debits_won(app, household_id, account_id, outcomes) -> None:
    codes = Counter(code for code, _message in outcomes)
    assert codes == {"ok": 5, "insufficient_points": len(outcomes) - 5}, outcomes
    for code, message in outcomes:  # the loser is told why, in words a chair understands
        assert code == "ok" or "余额不能为负" in message, message
    with app.app_context():
        session = db.session
        assert session.get(Household, household_id).balance == 0
        assert ledger.system_account(session, AccountKind.DEDUCTIONS).balance == OPENING
        debits = session.scalar(
            sa.select(sa.func.count(Transfer.id)).where(Transfer.from_account_id == account_id)
        )
        assert debits == 5
        report = ledger.verify(session)
        assert report.ok, report


@pytest.mark.parametrize("how", HOW)
def test_concurrent_debits_exactly_five_win(how, app, db_url, make_household):
    household_id, account_id = _household_with(app, make_household, OPENING)
    outcomes = race(how, app, db_url, [("debit", (household_id, DEBIT))] * DEBITORS[how])
    _assert_exactly_five_debits_won(app, household_id, account_id, outcomes)


def _award_twice(app, make_household) -> tuple[int, int, int]:
    """A household given 100 points twice; returns its id, its account's id and the first award's id.

    It holds enough to pay back the first award twice, so only the at-most-once rule of reversals (not
    the balance guard) can stop a second reversal.
    """
    household_id, account_id = _household_with(app, make_household, 100)
    with app.app_context():
        session = db.session
        first = session.scalar(sa.select(Transfer.id).where(Transfer.to_account_id == account_id))
        adjust_points(session, session.get(Household, household_id), 100, "再奖一次", actor_id=None)
        session.commit()
    return household_id, account_id, first


def _assert_reversed_once(app, household_id, transfer_id, outcomes) -> None:
    codes = Counter(code for code, _message in outcomes)
    assert codes == {"ok": 1, "already_reversed": len(outcomes) - 1}, outcomes
    with app.app_context():
        session = db.session
        reversals = session.scalar(
            sa.select(sa.func.count(Transfer.id)).where(Transfer.reverses_id == transfer_id)
        )
        assert reversals == 1
        assert session.get(Household, household_id).balance == 100
        report = ledger.verify(session)
        assert report.ok, report


@pytest.mark.parametrize("how", HOW)
def test_concurrent_reversals_reverse_once(how, app, db_url, make_household):
    household_id, _account_id, transfer_id = _award_twice(app, make_household)
    outcomes = race(how, app, db_url, [("reverse", (household_id, transfer_id))] * REVERSERS[how])
    _assert_reversed_once(app, household_id, transfer_id, outcomes)
