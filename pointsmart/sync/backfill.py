"""Start the change log of a village that already has data: one record for every tracked row.

Run once, by the migration that creates the change log, so that a village upgraded after months of
use sends the county everything it holds, in an order where each record comes after what it refers to.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..households.models import Household
from ..ledger.models import Transfer
from ..scoring.models import Category, Criterion, RoundResult, ScoringRound
from ..shop.models import Goods, Redemption, StockMove
from . import kinds
from .outbox import Record, append

#: rows serialized per commit-sized slice, so a village of millions of transfers needs no great memory
CHUNK = 5000


def _objects(session: Session, model) -> None:
    kind, serialize = kinds.MODELS[model]
    look = kinds.Lookups(session)
    for part in session.scalars(sa.select(model).order_by(model.id)).partitions(CHUNK):
        append(session, [Record(kind, obj.uuid, serialize(obj, look)) for obj in part])
        session.expunge_all()


def _transfers(session: Session) -> None:
    t = Transfer.__table__
    reversed_uuid = sa.select(Transfer.uuid).where(Transfer.id == t.c.reverses_id).scalar_subquery()
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
