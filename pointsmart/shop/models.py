"""Goods, price history, stock moves, redemptions, stocktakes, idempotency records."""

import enum
import uuid as uuid_mod
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class Goods(db.Model):
    __tablename__ = "goods"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    #: unit and size, e.g. 袋（2kg）
    spec: Mapped[str] = mapped_column(sa.String(40), default="")
    #: points per unit now; history in PriceChange
    price: Mapped[int]
    #: cached sum of stock moves, updated in the same transaction
    stock: Mapped[int] = mapped_column(default=0)
    low_stock: Mapped[int] = mapped_column(default=0)
    #: random file name under instance/uploads/goods, or ""
    photo: Mapped[str] = mapped_column(sa.String(80), default="")
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class PriceChange(db.Model):
    """分值对应表 history: a price change never re-prices a past redemption."""

    id: Mapped[int] = mapped_column(primary_key=True)
    goods_id: Mapped[int] = mapped_column(sa.ForeignKey("goods.id"), index=True)
    price: Mapped[int]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))


class MoveKind(enum.StrEnum):
    DONATION = "donation"  # 捐赠入库
    PURCHASE = "purchase"  # 采购入库
    STOCKTAKE = "stocktake"  # 盘点调整
    LOSS = "loss"  # 损耗
    REDEMPTION = "redemption"  # 兑换出库
    CANCELLATION = "cancellation"  # 兑换撤销退回


MOVE_LABELS = {
    MoveKind.DONATION: _l("捐赠入库"),
    MoveKind.PURCHASE: _l("采购入库"),
    MoveKind.STOCKTAKE: _l("盘点调整"),
    MoveKind.LOSS: _l("损耗"),
    MoveKind.REDEMPTION: _l("兑换出库"),
    MoveKind.CANCELLATION: _l("撤销退回"),
}


class StockMove(db.Model):
    """One movement of goods in or out. Append only, like transfers (triggers in the migration)."""

    __table_args__ = (sa.CheckConstraint("qty <> 0", name="qty_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    goods_id: Mapped[int] = mapped_column(sa.ForeignKey("goods.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    #: positive in, negative out
    qty: Mapped[int]
    #: 爱心企业 / 爱心人士 for a donation
    donor: Mapped[str] = mapped_column(sa.String(60), default="", index=True)
    #: the day goods were given or bought (a person's date, not the server's clock)
    moved_on: Mapped[date | None]
    #: for a purchase: where the money came from, and what it cost in fen (分)
    funding_source: Mapped[str] = mapped_column(sa.String(60), default="")
    cost_fen: Mapped[int | None]
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    redemption_id: Mapped[int | None] = mapped_column(sa.ForeignKey("redemption.id"), index=True)
    stocktake_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stocktake.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    goods = relationship(Goods)


class RedemptionStatus(enum.StrEnum):
    DONE = "done"
    CANCELLED = "cancelled"


class Redemption(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(sa.ForeignKey("card.id"))
    points: Mapped[int]
    balance_after: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(10), default=RedemptionStatus.DONE)
    transfer_id: Mapped[int] = mapped_column(sa.ForeignKey("transfer.id"))
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    cancelled_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(sa.String(200), default="")

    lines = relationship("RedemptionLine", order_by="RedemptionLine.id")
    household = relationship("Household")
    operator = relationship("User", foreign_keys=[operator_id])


class RedemptionLine(db.Model):
    __table_args__ = (sa.CheckConstraint("qty > 0", name="qty_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(sa.ForeignKey("redemption.id"), index=True)
    goods_id: Mapped[int] = mapped_column(sa.ForeignKey("goods.id"))
    qty: Mapped[int]
    #: the price when redeemed: later price changes never touch it
    unit_price: Mapped[int]
    goods_name: Mapped[str] = mapped_column(sa.String(60))

    goods = relationship(Goods)


class Stocktake(db.Model):
    """物资盘点: goods counted against the recorded stock."""

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    counted_on: Mapped[date]
    #: who counted (names, as written on the paper sheet)
    counted_by: Mapped[str] = mapped_column(sa.String(100))
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines = relationship("StocktakeLine", order_by="StocktakeLine.id")


class StocktakeLine(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(sa.ForeignKey("stocktake.id"), index=True)
    goods_id: Mapped[int] = mapped_column(sa.ForeignKey("goods.id"))
    recorded: Mapped[int]
    counted: Mapped[int]

    goods = relationship(Goods)
