"""Write and read the audit log. Written in the caller's transaction, so it lands with the change."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..extensions import db
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


@dataclass(frozen=True)
class Filters:
    """What the log's page narrows the entries to; every part optional."""

    #: the person who acted
    actor_id: int | None = None
    #: the action codes (or dotted prefixes) of one kind, :data:`pointsmart.audit.sentences.KINDS`
    prefixes: tuple[str, ...] = ()
    #: a 户号 or a head's name
    household: str = ""
    #: stored (naive UTC) times ``start <= at < end``
    start: datetime | None = None
    end: datetime | None = None


def entries(session: Session, page: int, per_page: int, filters: Filters | None = None) -> Page:
    """One page of the audit log, newest first, narrowed by ``filters``."""
    return paginate(session, _matching(session, filters), page, per_page)


def newest(session: Session, filters: Filters | None, limit: int) -> list[AuditEntry]:
    """Up to ``limit`` entries, newest first, narrowed by ``filters`` (for an export)."""
    return list(session.scalars(_matching(session, filters).limit(limit)))


def _matching(session: Session, filters: Filters | None) -> sa.Select:
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc())
    f = filters or Filters()
    if f.actor_id is not None:
        query = query.where(AuditEntry.actor_id == f.actor_id)
    if f.prefixes:
        query = query.where(
            sa.or_(
                *(sa.or_(AuditEntry.action == p, AuditEntry.action.startswith(p + ".")) for p in f.prefixes)
            )
        )
    if f.household:
        query = query.where(_about_household(session, f.household))
    if f.start is not None:
        query = query.where(AuditEntry.at >= f.start)
    if f.end is not None:
        query = query.where(AuditEntry.at < f.end)
    return query


def _about_household(session: Session, wanted: str):
    """The condition for entries about the households whose 户号 is ``wanted`` or whose head's name holds it.

    Entries name a household as their target, by its 户号 in their data (a score, a redemption), or
    through a card, a redemption or an objection of it. The tables are read through the metadata:
    the audit log sits below the domains and imports none of them.
    """
    tables = db.metadata.tables
    households = tables["household"]
    found = session.execute(
        sa.select(households.c.id, households.c.household_no).where(
            sa.or_(
                households.c.household_no == wanted,
                households.c.head_name.contains(wanted, autoescape=True),  # 陈玉 finds 陈玉兰
            )
        )
    ).all()
    ids = [row.id for row in found]
    numbers = [row.household_no for row in found] or [wanted]
    conditions = [AuditEntry.data["household"].as_string().in_(numbers)]
    if ids:
        conditions.append(
            sa.and_(AuditEntry.target_type == "household", AuditEntry.target_id.in_([str(i) for i in ids]))
        )
        for name in ("card", "redemption", "objection"):
            table = tables.get(name)
            if table is None:
                continue
            owned = [
                str(i) for i in session.scalars(sa.select(table.c.id).where(table.c.household_id.in_(ids)))
            ]
            if owned:
                conditions.append(sa.and_(AuditEntry.target_type == name, AuditEntry.target_id.in_(owned)))
    return sa.or_(*conditions)
