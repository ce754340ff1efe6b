"""Idempotency keys: a write a client may retry (a redemption, an adjustment, a form posted twice)
carries a key, and the same key again gets the first answer — success or refusal — and writes nothing
more. The same key with a different request is refused.

:func:`once` is the form services use: it returns what the work returned (a domain result) or raises
the domain error that refused it, replayed from the stored record on a retry. :func:`idempotent` is the
older form that answers ``(status, body)`` as the API would; the stock and adjustment forms still use it.

The key is claimed with one ``INSERT … ON CONFLICT DO NOTHING`` before the work starts: a concurrent
request with the same key waits on the unique index (PostgreSQL) or on the write lock (SQLite), then
finds the first request's record and replays it. No savepoint is needed for the claim.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import text
from .clock import utcnow
from .errors import DomainError, Invalid
from .extensions import db

T = TypeVar("T")


class IdempotencyRecord(db.Model):
    """The first answer to a retryable request, kept so that a retry gets the same answer."""

    __table_args__ = (sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what kind of request, e.g. ``redemption``; with the user's id so keys never collide across users
    scope: Mapped[str] = mapped_column(sa.String(40))
    key: Mapped[str] = mapped_column(sa.String(100))
    #: sha256 of the canonical request body: the same key with another body is refused
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    #: the HTTP status of the first answer (0 while the work runs); a refusal keeps its error's status
    status: Mapped[int]
    #: the first answer: what the service's ``remember`` made of its result, or the refusal's error body
    response: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422


class Replayed(DomainError):
    """The refusal a key got the first time, raised again for a retry (same code, status, message)."""


def request_hash(body) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _clean_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise Invalid(
            _("缺少幂等键（Idempotency-Key），或它超过 100 个字符。"), code="idempotency_key_required"
        )
    message = text.problem(key, max_length=100)
    if message:  # a NUL would reach the database (PostgreSQL refuses it with a 500)
        raise text.refusal("Idempotency-Key", _("幂等键"), message)
    return key


_table = IdempotencyRecord.__table__
#: the claim per dialect, built once (every redemption sends it): its values come as parameters
_CLAIM = {
    "postgresql": postgresql_insert(_table).on_conflict_do_nothing().returning(_table.c.id),
    "sqlite": sqlite_insert(_table).on_conflict_do_nothing().returning(_table.c.id),
}


def _claim(session: Session, scope: str, key: str, digest: str, status: int, response: dict) -> int | None:
    """Insert the key's record; its id, or None when the key was there already (committed first)."""
    claim = _CLAIM["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    values = {"scope": scope, "key": key, "request_hash": digest, "status": status, "response": response,
              "created_at": utcnow()}  # fmt: skip
    return session.execute(claim, values).scalar()


def _first(session: Session, scope: str, key: str, digest: str) -> tuple[int, dict]:
    """The stored answer of a key already used: ``(status, response)``.

    :raises KeyReused: the key was used for another request.
    """
    table = IdempotencyRecord.__table__
    found = session.execute(
        sa.select(table.c.request_hash, table.c.status, table.c.response).where(
            table.c.scope == scope, table.c.key == key
        )
    ).one()
    if found.request_hash != digest:
        raise KeyReused(_("这个幂等键已用于另一笔不同的请求。"))
    return found.status, found.response


def _store(session: Session, record_id: int, status: int, response: dict) -> None:
    table = IdempotencyRecord.__table__
    session.execute(sa.update(table).where(table.c.id == record_id).values(status=status, response=response))


def error_answer(err: DomainError) -> dict:
    return {"error": {"code": err.code, "message": err.message, **err.extra}}


def _replay_refusal(status: int, response: dict) -> Replayed:
    error = dict(response["error"])
    code, message = error.pop("code"), error.pop("message")
    return Replayed(message, code=code, status=status, **error)


def once(
    session: Session,
    scope: str,
    key: str,
    body,
    perform: Callable[[], T],
    *,
    recall: Callable[[dict], T],
    remember: Callable[[T], dict] | None = None,
    promise: dict | None = None,
    on_refused: Callable[[DomainError], None] | None = None,
) -> T:
    """Run ``perform`` once per (scope, key) and return its result; a retry gets the first result back
    (``recall`` rebuilds it from the stored answer) or the first refusal raised again.

    The stored answer is ``remember(result)``, written after the work — or ``promise``, written with the
    claim before the work, when the caller can name its answer up front (the redemption's uuid): one
    statement less on the counter's path.

    ``perform`` must leave nothing written when it raises a :class:`DomainError` (it checks before it
    writes, or undoes what it wrote): no savepoint is taken here. The refusal is then recorded, and
    raised on with ``keep`` set so that the unit of work commits the record (and ``on_refused``'s
    audit entry) and nothing else.

    :raises KeyReused: the same key came with a different body.
    :raises Replayed: the first request with this key was refused.
    """
    key, digest = _clean_key(key), request_hash(body)
    record_id = _claim(session, scope, key, digest, 201 if promise is not None else 0, promise or {})
    if record_id is None:
        status, response = _first(session, scope, key, digest)
        if "error" in response:
            raise _replay_refusal(status, response)
        return recall(response)
    try:
        result = perform()
    except DomainError as err:
        if on_refused:
            on_refused(err)
        _store(session, record_id, err.status, error_answer(err))
        err.keep = True
        raise
    if promise is None:
        _store(session, record_id, 201, remember(result) if remember else {})
    return result
