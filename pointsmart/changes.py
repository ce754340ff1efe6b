"""What the sync change log must hear about that the ORM cannot see.

The change log (:mod:`pointsmart.sync.outbox`) records every new or changed row of the tracked models
by itself, from the session's flushes. Two kinds of write bypass the ORM and say so here instead:
bulk inserts (:func:`bulk`) and conditional ``UPDATE`` statements on a tracked row (:func:`touch`).
This module sits below every domain, so the ledger and scoring can call it without knowing about sync.
"""

from sqlalchemy.orm import Session, scoped_session

#: ``session.info`` key of the list of things the change log will record when the transaction commits
PENDING = "pointsmart_changes"


def _note(session: Session, entry) -> None:
    if isinstance(session, scoped_session):
        session = session()
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING, []).append((*entry, txn))


def touch(session: Session, obj) -> None:
    """Record ``obj`` (a tracked model) again at commit: it was changed by a statement the ORM did not see."""
    _note(session, ("object", obj))


def bulk(session: Session, kind: str, rows: list[dict]) -> None:
    """Record rows that were inserted in bulk; each row holds what the serializer of ``kind`` needs."""
    if rows:
        _note(session, ("bulk", (kind, rows)))


#: ``session.info`` key of what the services already know that the change log's payloads name:
#: ``{"accounts": {id: code}, "uuids": {(model, id): uuid}}``, kept until the transaction ends
KNOWN = "pointsmart_known"


def _known(session: Session) -> dict:
    if isinstance(session, scoped_session):
        session = session()
    return session.info.setdefault(KNOWN, {"accounts": {}, "uuids": {}})


def known_account(session: Session, account_id: int, code: str) -> None:
    """Tell the change log an account's code (read by a ``RETURNING``), so it need not look it up."""
    _known(session)["accounts"][account_id] = code


def known_uuid(session: Session, model: type, row_id: int, uuid: str) -> None:
    """Tell the change log a row's uuid (read by a ``RETURNING``), so it need not look it up."""
    _known(session)["uuids"][model, row_id] = uuid
