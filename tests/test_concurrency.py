"""Counters racing for the same points (DESIGN §5, Concurrency), on SQLite and PostgreSQL.

Many workers debit one household whose balance covers exactly five of the debits: exactly five win,
every other one gets a clear "insufficient points", and the ledger still adds up. Several workers
reverse the same transfer: exactly one reversal is written, the others are told it is already
reversed. Workers are threads (each with its own app context, session and connection) on both
databases, and separate OS processes (spawned, each with its own app and engine) on PostgreSQL.
A ``Barrier`` lines them up so the writes really overlap; every wait is bounded, so a deadlock
fails the test instead of hanging it.
"""

import multiprocessing
import os
import queue
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import AccountKind, Transfer

from ._concurrency_worker import attempt, run_in_process

DEBIT = 10
OPENING = 5 * DEBIT  # covers exactly five of the debits
THREADS = 12
#: a spawned process takes ~2 s of start-up (imports, create_app) and they barely overlap here
PROCESSES = 8
REVERSING_THREADS = 4
REVERSING_PROCESSES = 2
#: seconds before a worker that has not finished counts as stuck (deadlock, lost wake-up)
TIMEOUT = 120


def _race_in_threads(app, workers: int, action: str, *args) -> list[tuple[str, str | None]]:
    barrier = threading.Barrier(workers)
    outcomes: list = [None] * workers

    def work(slot):
        outcomes[slot] = attempt(app, barrier, action, *args)

    threads = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0.1))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {workers} workers still running after {TIMEOUT}s: deadlock?"
    return outcomes


def _race_in_processes(db_url, workers: int, action: str, *args) -> list[tuple[str, str | None]]:
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(workers), spawn.Queue()
    instance = os.environ["POINTSMART_INSTANCE"]  # this test's tmp dir (the make_app fixture sets it)
    processes = [spawn.Process(target=run_in_process, daemon=True,
                               args=(db_url, instance, barrier, results, action, *args))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + TIMEOUT
    outcomes = []
    try:
        while len(outcomes) < workers:
            try:
                _pid, code, message = results.get(timeout=1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    pytest.fail(f"only {len(outcomes)} of {workers} processes reported within {TIMEOUT}s: "
                                "deadlock?")
                if not any(process.is_alive() for process in processes) and results.empty():
                    pytest.fail(f"processes died without reporting: exit codes "
                                f"{[p.exitcode for p in processes]}")
                continue
            outcomes.append((code, message))
    finally:
        for process in processes:
            process.join(timeout=max(deadline - time.monotonic(), 5))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    assert [p.exitcode for p in processes] == [0] * workers
    return outcomes


def _household_with(app, make_household, points: int) -> tuple[int, int]:
    """A household holding ``points``; returns its id and its account's id."""
    household_id = make_household(points=points)
    with app.app_context():
        return household_id, db.session.get(Household, household_id).account_id


def _assert_exactly_five_debits_won(app, household_id, account_id, outcomes) -> None:
    codes = Counter(code for code, _message in outcomes)
    assert codes == {"ok": 5, "insufficient_points": len(outcomes) - 5}, outcomes
    for code, message in outcomes:  # the loser is told why, in words a chair understands
        assert code == "ok" or "积分不足" in message, message
    with app.app_context():
        session = db.session
        assert session.get(Household, household_id).balance == 0
        assert ledger.system_account(session, AccountKind.DEDUCTIONS).balance == OPENING
        debits = session.scalar(sa.select(sa.func.count(Transfer.id))
                                .where(Transfer.from_account_id == account_id))
        assert debits == 5
        report = ledger.verify(session)
        assert report.ok, report


def test_concurrent_debits_in_threads_exactly_five_win(app, make_household):
    household_id, account_id = _household_with(app, make_household, OPENING)
    outcomes = _race_in_threads(app, THREADS, "debit", household_id, DEBIT)
    _assert_exactly_five_debits_won(app, household_id, account_id, outcomes)


@pytest.mark.postgresql_only
def test_concurrent_debits_in_processes_exactly_five_win(app, db_url, make_household):
    household_id, account_id = _household_with(app, make_household, OPENING)
    outcomes = _race_in_processes(db_url, PROCESSES, "debit", household_id, DEBIT)
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
        reversals = session.scalar(sa.select(sa.func.count(Transfer.id))
                                   .where(Transfer.reverses_id == transfer_id))
        assert reversals == 1
        assert session.get(Household, household_id).balance == 100
        report = ledger.verify(session)
        assert report.ok, report


def test_concurrent_reversals_in_threads_reverse_once(app, make_household):
    household_id, _account_id, transfer_id = _award_twice(app, make_household)
    outcomes = _race_in_threads(app, REVERSING_THREADS, "reverse", household_id, transfer_id)
    _assert_reversed_once(app, household_id, transfer_id, outcomes)


@pytest.mark.postgresql_only
def test_concurrent_reversals_in_processes_reverse_once(app, db_url, make_household):
    household_id, _account_id, transfer_id = _award_twice(app, make_household)
    outcomes = _race_in_processes(db_url, REVERSING_PROCESSES, "reverse", household_id, transfer_id)
    _assert_reversed_once(app, household_id, transfer_id, outcomes)
