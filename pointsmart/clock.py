"""The one clock of the app.

The server keeps time (DESIGN §5): every timestamp comes from here, never from a client. Tests move
the clock with :func:`advance` instead of sleeping, so a five-day notice period is tested in
milliseconds.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def utcnow() -> datetime:
    """Return the current time in UTC as a naive datetime (the form stored in the database)."""
    return (datetime.now(UTC) + _offset).replace(tzinfo=None)


def advance(delta: timedelta) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    """Put the clock back to real time."""
    global _offset
    _offset = timedelta(0)


@contextmanager
def set_to(moment: datetime) -> Iterator[None]:
    """Run the block as if it were ``moment`` (naive UTC), then put the clock back as it was.

    The demo village writes last month's history through the same services, at the times it happened
    (:mod:`pointsmart.demo`); tests use it too. Never used while serving requests.
    """
    global _offset
    before = _offset
    _offset = moment - datetime.now(UTC).replace(tzinfo=None)
    try:
        yield
    finally:
        _offset = before
