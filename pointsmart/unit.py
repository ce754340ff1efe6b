"""One unit of work: where requests and commands commit or roll back, and nowhere else.

A request reads in a read transaction (:data:`pointsmart.database.READ`): no lock, no queue, a
snapshot of the database. What it changes it changes inside one ``with write():`` block around the
service call — taken as late as the view can (after parsing forms, decoding photos, reading
spreadsheets), committed when the block ends, rolled back when it raises::

    form = GoodsForm()
    if form.validate_on_submit():
        photo = images.clean_photo(form.photo.data)        # slow work first, outside the lock
        with write():
            goods = services.save_goods(db.session, ...)   # read-check-write, under the write lock

Entering the block ends the read transaction, so everything loaded before it is read again, current,
under the lock: a decision is never taken on what a page saw a moment ago. Services flush and never
commit; views never call ``commit()`` or ``rollback()``.

A refusal can leave something behind on purpose — the audit entry of a refused redemption, the
idempotency record that replays the refusal. A service marks such an error with ``keep=True`` after
rolling its own work back to a savepoint; the block then commits what is left before the error goes
on to the view.

Commands and scripts run in write transactions throughout; :func:`command` gives a CLI command the
same one commit at the end.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from flask import Flask, g
from sqlalchemy.orm import Session, scoped_session

from .database import MODE, READ, WRITE
from .errors import DomainError
from .extensions import db

_IN_WRITE: ContextVar[bool] = ContextVar("pointsmart_in_write_block", default=False)


@contextmanager
def write(session: Session | None = None) -> Iterator[Session]:
    """Run the block in one write transaction: commit at its end, roll back if it raises.

    A block inside a block joins the outer one. A :class:`DomainError` with ``keep`` set commits what
    the service kept (its recorded refusal) before it is raised on.
    """
    session = session or db.session
    if isinstance(session, scoped_session):
        session = session()
    if _IN_WRITE.get():
        yield session
        return
    if session.in_transaction():
        session.rollback()  # end the read snapshot; what was loaded is read again under the lock
    mode, inside = MODE.set(WRITE), _IN_WRITE.set(True)
    try:
        yield session
    except BaseException as exc:
        if isinstance(exc, DomainError) and exc.keep:
            session.commit()
        else:
            session.rollback()
        raise
    else:
        session.commit()
    finally:
        _IN_WRITE.reset(inside)
        MODE.reset(mode)


@contextmanager
def reading() -> Iterator[None]:
    """Outside a request (a background push, a long export), read in read transactions as pages do;
    writes still go in ``write()`` blocks."""
    mode = MODE.set(READ)
    try:
        yield
    finally:
        MODE.reset(mode)


def command(func):
    """A CLI command as one unit of work: committed when it returns, rolled back when it fails."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        with write():
            return func(*args, **kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    """Every request starts reading; its writes happen in ``write()`` blocks."""

    @app.before_request
    def read_mode():
        g._pointsmart_mode = MODE.set(READ)

    @app.teardown_request
    def end(_exc):
        token = g.pop("_pointsmart_mode", None)
        db.session.rollback()  # a read transaction ends here; nothing is left to commit
        if token is not None:
            MODE.reset(token)
