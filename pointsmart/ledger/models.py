"""Ledger tables: accounts with a cached balance, and append-only transfers."""

import enum
import uuid as uuid_mod
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class AccountKind(enum.StrEnum):
    HOUSEHOLD = "household"
    ISSUANCE = "issuance"  # where awarded points come from; runs negative
    SHOP = "shop"  # where redeemed points go
    DEDUCTIONS = "deductions"  # where deducted points go
    EXPIRY = "expiry"  # where expired points go


#: the accounts that exist once per database, created by the first migration
SYSTEM_ACCOUNTS = (AccountKind.ISSUANCE, AccountKind.SHOP, AccountKind.DEDUCTIONS, AccountKind.EXPIRY)


class TransferKind(enum.StrEnum):
    ADJUSTMENT = "adjustment"  # a chair's manual award or deduction
    AWARD = "award"  # a scoring round's result
    DEDUCTION = "deduction"
    REDEMPTION = "redemption"
    EXPIRY = "expiry"
    REVERSAL = "reversal"


class Account(db.Model):
    __table_args__ = (
        sa.CheckConstraint("kind <> 'household' OR balance >= 0", name="household_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``household:<uuid>`` for a household, the kind's name for a system account
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: cached sum of transfers in minus transfers out; proven by :func:`ledger.services.verify`
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")


class Transfer(db.Model):
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("from_account_id <> to_account_id", name="distinct_accounts"),
        sa.Index("ix_transfer_from_id", "from_account_id", "id"),
        sa.Index("ix_transfer_to_id", "to_account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity, carried by sync to the county
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    from_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    to_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    #: what caused it, e.g. ``round:12`` or ``redemption:<uuid>``
    ref: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    #: the transfer this one undoes; unique, so a transfer is reversed at most once
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transfer.id"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
