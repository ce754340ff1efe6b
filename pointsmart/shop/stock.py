"""The stock rules both halves of the shop share: its errors and the one conditional update of stock.

Goods and their stock moves (:mod:`.services`) and redemptions with their cancellation
(:mod:`.redemptions`) both import from here, and this module imports neither of them.

:func:`move_stock` is how a receipt, a loss, a count's difference and a cancellation change a goods
item's stock: one conditional ``UPDATE`` that never takes it below zero, and the stock move recorded.
(A redemption takes its basket with a conditional update of its own, one per line, in
:mod:`.redemptions`.)

Lock order, goods → points: a write that changes both stock and points locks the goods rows first, in
goods-id order, and only then the points. A redemption takes its lines in that order before paying, and
a cancellation puts the goods back in that order before the reversing transfer, so two counters
redeeming and cancelling at once on PostgreSQL never wait for each other in a circle.
"""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..errors import DomainError
from ..months.guard import refuse_time
from .models import Goods, MoveKind, StockMove


class ShopError(DomainError):
    code = "shop_error"
    status = 409


class InsufficientStock(ShopError):
    code = "insufficient_stock"


def move_stock(
    session: Session, goods: Goods, kind: MoveKind, qty: int, actor_id: int | None, **fields
) -> StockMove:
    """Change stock by ``qty`` in one conditional UPDATE (never below zero) and record the move."""
    refuse_time(session, village_id=goods.village_id)  # a move is dated now: never into a closed month
    table = Goods.__table__
    stmt = sa.update(table).where(table.c.id == goods.id).values(stock=table.c.stock + qty)
    if qty < 0:
        stmt = stmt.where(table.c.stock + qty >= 0)
    if session.execute(stmt).rowcount != 1:
        session.expire(goods, ["stock"])
        raise InsufficientStock(
            _(
                "%(name)s 库存不足：现有 %(stock)s，需要 %(qty)s。",
                name=goods.name,
                stock=goods.stock,
                qty=-qty,
            ),
            goods_id=goods.id,
            stock=goods.stock,
        )
    move = StockMove(goods_id=goods.id, kind=kind, qty=qty, actor_id=actor_id, created_at=utcnow(), **fields)
    session.add(move)
    session.flush()
    session.expire(goods, ["stock"])
    return move
