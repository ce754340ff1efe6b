"""The card table: at most one active card per household (a partial unique index)."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Card(db.Model):
    __table_args__ = (
        sa.Index(
            "uq_card_one_active_per_household",
            "household_id",
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"), index=True)
    #: random, unguessable (256 bits), in the QR code's URL; it only lets its holder *look*
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: short number printed on the card for typing by hand: 8 digits and a Luhn check digit
    number: Mapped[str] = mapped_column(sa.String(12), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=CardStatus.ACTIVE)
    issued_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(sa.String(200), default="")

    household = relationship("Household")

    @property
    def active(self) -> bool:
        return self.status == CardStatus.ACTIVE

    @property
    def number_display(self) -> str:
        """The number in groups for reading aloud: 1234 5678 9."""
        return f"{self.number[:4]} {self.number[4:8]} {self.number[8:]}"
