"""Write and read the audit log. Written in the caller's transaction, so it lands with the change."""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..paging import Page, paginate
from .models import AuditEntry


def record(
    session: Session,
    action: str,
    actor_id: int | None = None,
    target=None,
    **data,
) -> AuditEntry:
    """Append one audit entry. ``target`` is a model instance (its table and id are kept) or None."""
    entry = AuditEntry(
        at=utcnow(),
        action=action,
        actor_id=actor_id,
        target_type=target.__tablename__ if target is not None else None,
        target_id=str(target.id) if target is not None else None,
        data=_jsonable(data),
    )
    session.add(entry)
    return entry


def changes(old: dict, new: dict) -> dict:
    """Return ``{"old": …, "new": …}`` with only the fields that differ."""
    keys = [k for k in new if old.get(k) != new.get(k)]
    return {"old": {k: old.get(k) for k in keys}, "new": {k: new[k] for k in keys}}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def entries(session: Session, page: int, per_page: int, action_prefix: str | None = None) -> Page:
    """One page of the audit log, newest first."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc())
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix))
    return paginate(session, query, page, per_page)
