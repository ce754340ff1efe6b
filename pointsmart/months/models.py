"""The close of a month (月结) and the rounds a close carried to the next month.

Both are append-only: no service updates or deletes them, and no route or API reopens a month.
"""

import uuid as uuid_mod
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class MonthClose(db.Model):
    """One closed month of one village: its figures as canonical JSON and their sha256."""

    __tablename__ = "month_close"
    __table_args__ = (sa.UniqueConstraint("village_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity, carried by sync to the county (kind ``month_close``)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    #: the village's month, ``2026-11``
    month: Mapped[str] = mapped_column(sa.String(7))
    #: :func:`pointsmart.closing.figures.canonical` of the month's figures as they were at closing
    figures: Mapped[str] = mapped_column(sa.Text)
    #: sha256 (hex) of those bytes
    sha256: Mapped[str] = mapped_column(sa.String(64))
    #: sha256 (hex) of the month's book as a workbook, kept at closing beside the instance
    #: (:func:`pointsmart.book.keep_book_xlsx`); None for a close made without it (a service call)
    book_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    closed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundCarry(db.Model):
    """A round that was neither finalised nor abandoned when its month closed: carried to the next month.

    Its later steps (and the points its finalisation posts) belong to the month they happen in.
    """

    __tablename__ = "round_carry"
    __table_args__ = (sa.UniqueConstraint("round_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    #: the month it was carried out of
    month: Mapped[str] = mapped_column(sa.String(7))
    carried_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    carried_at: Mapped[datetime] = mapped_column(default=utcnow)
