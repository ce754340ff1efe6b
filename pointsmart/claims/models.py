"""A family's claim and its photos. Village-local: neither travels to the county (the score an
accepted claim writes does, as every score does)."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


CLAIM_STATUS_LABELS = {
    ClaimStatus.PENDING: _l("待审"),
    ClaimStatus.ACCEPTED: _l("已采纳"),
    ClaimStatus.DECLINED: _l("未采纳"),
}


class Claim(db.Model):
    """申领: a household says it met a criterion on a day, for the round open for that period."""

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'accepted', 'declined')", name="status_known"),
        sa.CheckConstraint("times IS NULL OR times >= 0", name="times_not_negative"),
        sa.CheckConstraint("added IS NULL OR added >= 0", name="added_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"), index=True)
    #: the card whose page it came from (a card reissued later still shows the household's claims)
    card_id: Mapped[int] = mapped_column(sa.ForeignKey("card.id"))
    criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("criterion.id"))
    #: the round open for the claim's period when it came in, and the criterion as that round holds it
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    round_criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("round_criterion.id"))
    happened_on: Mapped[date]
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[str] = mapped_column(sa.String(10), default=ClaimStatus.PENDING)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    #: why it was declined (required then), shown to the family
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    #: the cell's times the acceptance wrote (the total, with what the panel had entered)
    times: Mapped[int | None]
    #: what the acceptance added to the cell (``times`` less what it held before); None on claims
    #: accepted before it was kept
    added: Mapped[int | None]

    household = relationship("Household")
    round_criterion = relationship("RoundCriterion")
    photos = relationship("ClaimPhoto", order_by="ClaimPhoto.id", back_populates="claim")


class ClaimPhoto(db.Model):
    """A photo a family sent with its claim: checked, without EXIF, resized, stored privately under
    ``instance/uploads/claims``; kept as the evidence of the score once the claim is accepted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claim.id"), index=True)
    #: random file name under instance/uploads/claims
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int]
    height: Mapped[int]
    #: bytes on disk (what a village's storage limit counts: :func:`.services.claim_photo_bytes`)
    size: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    claim = relationship(Claim, back_populates="photos")
