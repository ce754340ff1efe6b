"""The unit of work and the two kinds of transaction (pointsmart/unit.py, pointsmart/database.py).

Requests read in read transactions that never queue; writes happen in ``unit.write()`` blocks that
take the write lock as late as they can and commit or roll back in one place.
"""

import threading
import time

import pytest
import sqlalchemy as sa

from pointsmart import database, unit
from pointsmart.audit.models import AuditEntry
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.sync import progress

from .conftest import committing


def _statements(engine) -> list[str]:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda conn, cur, stmt, *args: seen.append(stmt))
    return seen


@pytest.mark.sqlite_only
def test_a_page_that_reads_begins_deferred_and_takes_no_lock(app, login_as):
    client = login_as("chair")
    with app.app_context():
        seen = _statements(db.engine)
    assert client.get("/households/").status_code == 200
    assert "BEGIN" in seen and "BEGIN IMMEDIATE" not in seen


@pytest.mark.sqlite_only
def test_reads_answer_while_a_writer_holds_the_lock(app, login_as, make_household):
    make_household(head_name="王秀兰")
    client = login_as("chair")  # logged in before the writer starts: logging in writes
    started, done = threading.Event(), threading.Event()

    def hold():
        with app.app_context(), unit.write():
            db.session.execute(sa.text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is ours
            started.set()
            done.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        begun = time.monotonic()
        assert app.test_client().get("/healthz").status_code == 200
        page = client.get("/households/?q=王秀兰")
        elapsed = time.monotonic() - begun
    finally:
        done.set()
        thread.join(10)
    assert page.status_code == 200 and "王秀兰" in page.get_data(as_text=True)
    assert elapsed < 1.0  # the writer held the lock for up to 30 s


@pytest.mark.sqlite_only
@pytest.mark.allow_5xx  # a 503 "busy, try again" is the answer under test
def test_a_writer_that_cannot_get_its_turn_gets_503_not_500(app, make_user, monkeypatch):
    from .conftest import PASSWORD

    _id, name = make_user("chair")
    monkeypatch.setattr(database, "WRITER_WAIT_S", 0.2)
    started, done = threading.Event(), threading.Event()

    def hold():
        with app.app_context(), unit.write():
            db.session.execute(sa.text("SELECT 1"))
            started.set()
            done.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        response = app.test_client().post("/login", data={"username": name, "password": PASSWORD})
    finally:
        done.set()
        thread.join(10)
    assert response.status_code == 503
    assert "系统正忙" in response.get_data(as_text=True)


def test_a_write_in_a_read_transaction_is_refused(app, village_id):
    with app.app_context(), unit.reading():
        db.session.add(Household(village_id=village_id, household_no="01-001", head_name="甲"))
        with pytest.raises(database.WriteOutsideWriteTransaction):
            db.session.flush()
        db.session.rollback()


def test_a_write_block_commits_at_its_end_and_rolls_back_when_it_raises(app, make_household):
    hid = make_household(head_name="原名")
    with app.app_context(), unit.reading():
        with unit.write():
            db.session.get(Household, hid).head_name = "新名"
        with pytest.raises(ValueError), unit.write():
            db.session.get(Household, hid).head_name = "不该留下"
            db.session.flush()
            raise ValueError("boom")
    with app.app_context():
        assert db.session.get(Household, hid).head_name == "新名"


def test_a_kept_refusal_is_committed_and_the_error_still_raised(app):
    from pointsmart.audit.services import record

    with app.app_context(), unit.reading():
        with pytest.raises(DomainError) as info, unit.write():
            record(db.session, "test.refused", None, None, code="nope")
            raise DomainError("不行", code="nope", keep=True)
        assert info.value.code == "nope"
        with pytest.raises(DomainError), unit.write():
            record(db.session, "test.discarded", None, None)
            raise DomainError("不行")
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert "test.refused" in actions and "test.discarded" not in actions


def test_objects_read_before_the_block_are_read_again_inside_it(app, make_household):
    """A decision under the lock is taken on current rows, not on what the page loaded earlier."""
    hid = make_household(head_name="甲")
    with app.app_context(), unit.reading():
        seen = db.session.get(Household, hid)
        assert seen.head_name == "甲"

        def rename():  # another request, in another thread, changes the row meanwhile
            with committing(app) as other:
                other.get(Household, hid).head_name = "乙"

        thread = threading.Thread(target=rename)
        thread.start()
        thread.join(10)
        with unit.write():
            assert seen.head_name == "乙"


@pytest.mark.sqlite_only
def test_a_second_session_in_one_thread_fails_at_once_instead_of_waiting(app):
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # a write transaction (outside requests): holds the lock
        other = sa.orm.Session(db.engine)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="already holds the SQLite write lock"):
            other.execute(sa.text("SELECT 1"))
        other.close()
        assert time.monotonic() - started < 1.0
        db.session.rollback()


def test_push_progress_is_shared_by_every_server_process(app, make_app):
    """Two apps on one database stand for two server processes: one push at a time, seen by both."""
    second = make_app()
    with app.app_context(), unit.write():
        assert progress.start(db.session)
    with second.app_context():
        assert progress.current(db.session).running
        with unit.write():
            assert not progress.start(db.session)  # the other process's push is still running
        with unit.write():
            progress.beat(db.session, head_seq=10, acked_seq=4, records=4, sent=2, retries=1)
    with app.app_context():
        seen = progress.current(db.session)
        assert (seen.running, seen.acked_seq, seen.head_seq, seen.batches) == (True, 4, 10, 2)
        with unit.write():
            progress.finish(db.session, True, "好了")
    with second.app_context():
        seen = progress.current(db.session)
        assert (seen.running, seen.ok, seen.message) == (False, True, "好了")


def test_a_push_whose_process_died_counts_as_ended(app):
    from datetime import timedelta

    from pointsmart import clock

    with app.app_context(), unit.write():
        assert progress.start(db.session)
    clock.advance(progress.STALE + timedelta(seconds=1))
    with app.app_context():
        seen = progress.current(db.session)
        assert not seen.running and seen.ok is False and "中断" in seen.message
        with unit.write():
            assert progress.start(db.session)  # a new push may start
