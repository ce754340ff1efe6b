"""Idempotency keys: a write a client may retry (a redemption, an adjustment, a form posted twice)
carries a key, and the same key again gets the first answer — success or refusal — and writes nothing
more. The same key with a different request is refused.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import text
from .clock import utcnow
from .errors import DomainError, Invalid
from .extensions import db


class IdempotencyRecord(db.Model):
    """The first answer to a retryable request, kept so that a retry gets the same answer."""

    __table_args__ = (sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what kind of request, e.g. ``redemption``; with the user's id so keys never collide across users
    scope: Mapped[str] = mapped_column(sa.String(40))
    key: Mapped[str] = mapped_column(sa.String(100))
    #: sha256 of the canonical request body: the same key with another body is refused
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int]
    response: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422


def request_hash(body) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def idempotent(
    session: Session,
    scope: str,
    key: str,
    body,
    perform: Callable[[], tuple[int, dict]],
    on_refused: Callable[[DomainError], None] | None = None,
) -> tuple[int, dict]:
    """Run ``perform`` once per (scope, key); a retry gets the first answer, success or refusal alike.

    The key is claimed before the work starts (a concurrent retry waits on it, then replays), the work
    runs in a savepoint so that a refusal leaves nothing behind but the record of the refusal.

    :raises KeyReused: the same key came with a different body.
    """
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise Invalid(
            _("缺少幂等键（Idempotency-Key），或它超过 100 个字符。"), code="idempotency_key_required"
        )
    message = text.problem(key, max_length=100)
    if message:  # a NUL would reach the database (PostgreSQL refuses it with a 500)
        raise text.refusal("Idempotency-Key", _("幂等键"), message)
    digest = request_hash(body)

    def replay(found: IdempotencyRecord) -> tuple[int, dict]:
        if found.request_hash != digest:
            raise KeyReused(_("这个幂等键已用于另一笔不同的请求。"))
        return found.status, found.response

    existing = session.scalar(
        sa.select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )
    if existing is not None:
        return replay(existing)
    claim = IdempotencyRecord(
        scope=scope, key=key, request_hash=digest, status=0, response={}, created_at=utcnow()
    )
    try:
        with session.begin_nested():
            session.add(claim)
    except IntegrityError:
        # another request with this key committed first (its savepoint is rolled back): give its answer
        return replay(
            session.scalar(
                sa.select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
        )
    try:
        with session.begin_nested():
            status, response = perform()
    except DomainError as err:
        status, response = err.status, {"error": {"code": err.code, "message": err.message, **err.extra}}
        if on_refused:
            on_refused(err)
    claim.status, claim.response = status, response
    session.flush()
    return status, response
