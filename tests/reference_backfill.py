"""The change log's backfill through today's ORM models: the reference migration 0004 is checked against.

Migration 0004 ran this until it was frozen into table-level SQL (a migration must not run today's
models: the first new column on ``Household`` would have broken every upgrade of an older database).
``tests/test_migrations.py`` runs both on the same data and requires the same records, digests and
totals — with one bug of the original fixed in both (see :func:`_transfers`). Should a serializer in
:mod:`pointsmart.sync.kinds` change its payload one day, that test says so: the frozen migration
keeps writing what 0004 wrote.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pointsmart.households.models import Household
from pointsmart.ledger.models import Transfer
from pointsmart.scoring.models import Category, Criterion, RoundResult, ScoringRound
from pointsmart.shop.models import Goods, Redemption, StockMove
from pointsmart.sync import kinds
from pointsmart.sync.outbox import Record, append

#: rows serialized per commit-sized slice, so a village of millions of transfers needs no great memory
CHUNK = 5000

#: the fields a kind's payload gained after 0004 (0011: the notice and counter fields the county's
#: checks read), left out here so that the reference still says what 0004's backfill wrote
ADDED_SINCE_0004 = {
    "round": ("published_at", "notice_days", "notice_photos"),
    "redemption": ("operator", "card"),
}


def _as_of_0004(kind: str, payload: dict) -> dict:
    for name in ADDED_SINCE_0004.get(kind, ()):
        del payload[name]
    return payload


def _objects(session: Session, model) -> None:
    kind, serialize = kinds.MODELS[model]
    look = kinds.Lookups(session)
    for part in session.scalars(sa.select(model).order_by(model.id)).partitions(CHUNK):
        append(session, [Record(kind, obj.uuid, _as_of_0004(kind, serialize(obj, look))) for obj in part])
        session.expunge_all()


def _transfers(session: Session) -> None:
    t = Transfer.__table__
    # Fixed here as in the frozen migration: the original subquery read ``transfer`` unaliased, so it
    # correlated to the outer row (``transfer.id = transfer.reverses_id``) and every reversal was
    # logged with ``"reverses": null``, unlike the live change log (:func:`kinds.transfer`).
    original = t.alias("original")
    reversed_uuid = sa.select(original.c.uuid).where(original.c.id == t.c.reverses_id).scalar_subquery()
    query = sa.select(
        t.c.uuid, t.c.from_account_id, t.c.to_account_id, t.c.amount, t.c.kind, t.c.reason, t.c.created_at,
        reversed_uuid.label("reverses"),
    ).order_by(t.c.id)  # fmt: skip
    look = kinds.Lookups(session)
    for part in session.execute(query).mappings().partitions(CHUNK):
        rows = [dict(row) for row in part]
        kinds.BULK["transfer"].prefetch(rows, look)
        append(session, [Record("transfer", row["uuid"], kinds.transfer_row(row, look)) for row in rows])


def _round_results(session: Session) -> None:
    bulk = kinds.BULK["round_result"]
    look = kinds.Lookups(session)
    query = sa.select(RoundResult.__table__).order_by(RoundResult.id)
    for part in session.execute(query).mappings().partitions(CHUNK):
        rows = [dict(row) for row in part]
        bulk.prefetch(rows, look)
        append(
            session,
            [Record("round_result", bulk.uuid_of(row, look), bulk.serialize(row, look)) for row in rows],
        )


def backfill(connection) -> None:
    session = Session(bind=connection)
    for model in (Household, Category, Criterion, Goods, ScoringRound):
        _objects(session, model)
    _round_results(session)
    _transfers(session)
    for model in (StockMove, Redemption):
        _objects(session, model)
    session.flush()
