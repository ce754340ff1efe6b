"""The push under way, as the chair's sync page shows it — kept in the database, not in a process.

A village may run several server processes; whichever one answers the page must see the push another
one started, and two processes must not start two pushes. So the push's state lives in the one
``sync_state`` row: :func:`start` claims it under the write lock, the pushing thread beats after every
batch, and a push whose beat stopped (its process was killed) counts as ended.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..clock import utcnow
from . import batches

#: a push that has not beaten for this long died with its process
STALE = timedelta(minutes=3)


@dataclass
class Progress:
    running: bool = False
    head_seq: int = 0
    acked_seq: int = 0
    records: int = 0
    batches: int = 0
    retries: int = 0
    message: str = ""
    ok: bool | None = None


def current(session: Session) -> Progress:
    """The push under way, or the last one's outcome (``ok`` is None before the first push)."""
    state = batches.state(session)
    if state.push_started_at is None:
        return Progress()
    running = (
        state.push_finished_at is None and utcnow() - (state.push_beat_at or state.push_started_at) < STALE
    )
    ok, message = state.push_ok, state.push_message
    if state.push_finished_at is None and not running:
        ok, message = False, _("上次同步中断了（服务程序被关闭），请再同步一次。")
    return Progress(
        running=running,
        head_seq=state.push_head_seq,
        acked_seq=state.push_acked_seq,
        records=state.push_records,
        batches=state.push_batches,
        retries=state.push_retries,
        message=message,
        ok=ok,
    )


def start(session: Session) -> bool:
    """Claim the push for this caller (inside a write transaction); False if one is running already."""
    if current(session).running:
        return False
    state = batches.state_for_update(session)
    now = utcnow()
    state.push_started_at, state.push_beat_at, state.push_finished_at = now, now, None
    state.push_ok, state.push_message = None, ""
    state.push_head_seq, state.push_acked_seq = batches.head_seq(session), state.acked_seq
    state.push_records = state.push_batches = state.push_retries = 0
    return True


def beat(session: Session, head_seq: int, acked_seq: int, records: int, sent: int, retries: int) -> None:
    """Record how far the push has come (inside a write transaction)."""
    state = batches.state_for_update(session)
    state.push_beat_at = utcnow()
    state.push_head_seq, state.push_acked_seq = head_seq, acked_seq
    state.push_records, state.push_batches, state.push_retries = records, sent, retries


def finish(session: Session, ok: bool, message: str) -> None:
    """Record the push's outcome (inside a write transaction)."""
    state = batches.state_for_update(session)
    state.push_finished_at = state.push_beat_at = utcnow()
    state.push_ok, state.push_message = ok, message[:500]  # the push's own message, cut to the column
