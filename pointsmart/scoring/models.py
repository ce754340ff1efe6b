"""Rulebook, panel, rounds, scores, objections, minutes and notice photos."""

import enum
import uuid as uuid_mod
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class Cadence(enum.StrEnum):
    MONTHLY = "monthly"  # 月评定, period key 2026-11
    QUARTERLY = "quarterly"  # 季评定, 2026-Q4
    HALF_YEARLY = "half_yearly"  # 半年考核评定, 2026-H2

    @property
    def period_kind(self) -> str:
        """The calendar's name for its periods (:mod:`pointsmart.periods`)."""
        return {"monthly": "month", "quarterly": "quarter", "half_yearly": "half"}[self.value]


CADENCE_LABELS = {
    Cadence.MONTHLY: _l("月评定"),
    Cadence.QUARTERLY: _l("季评定"),
    Cadence.HALF_YEARLY: _l("半年评定"),
}


class RoundStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    NOTICE = "notice"
    FINALISED = "finalised"


STATUS_LABELS = {
    RoundStatus.DRAFT: _l("评分中"),
    RoundStatus.SUBMITTED: _l("待审核"),
    RoundStatus.APPROVED: _l("已审核"),
    RoundStatus.NOTICE: _l("公示中"),
    RoundStatus.FINALISED: _l("已生效"),
}


class Category(db.Model):
    """积分类别, e.g. 创建"美丽庭院"."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity, carried by sync to the county
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    criteria = relationship("Criterion", back_populates="category", order_by="Criterion.position")


class Criterion(db.Model):
    """积分条目: what earns (or costs) points, how many, how often."""

    __table_args__ = (
        sa.CheckConstraint("points <> 0", name="points_not_zero"),
        sa.CheckConstraint("max_per_period >= 1", name="max_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity, carried by sync to the county
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("category.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    #: what earns it and what evidence the panel looks for
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    #: points per time; negative for a deduction (扣分)
    points: Mapped[int]
    cadence: Mapped[str] = mapped_column(sa.String(16))
    #: how many times it may count per household per period
    max_per_period: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: families may claim it from their card page (申领积分); village-local, not sent to the county
    claimable: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    category = relationship(Category, back_populates="criteria")


class PanelMember(db.Model):
    """A user on the scoring panel (评比小组), with a label and the groups they score."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), unique=True)
    #: 执委 / 驻村干部 / 群众代表 …
    label: Mapped[str] = mapped_column(sa.String(20), default="")
    #: 村民小组 names this member scores, comma-separated; empty means every group
    groups: Mapped[str] = mapped_column(sa.String(200), default="")

    user = relationship("User")

    @property
    def group_list(self) -> list[str]:
        return [g for g in self.groups.split(",") if g]


class ScoringRound(db.Model):
    __table_args__ = (
        sa.UniqueConstraint("village_id", "period_type", "period_key", "scope", name="uq_round_period_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity (sync, links on the public notice)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    period_type: Mapped[str] = mapped_column(sa.String(16))
    #: ``2026-11``, ``2026-Q4`` or ``2026-H2``
    period_key: Mapped[str] = mapped_column(sa.String(10))
    #: a 村民小组 name, or "" for the whole village
    scope: Mapped[str] = mapped_column(sa.String(40), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=RoundStatus.DRAFT)
    #: copied from the village settings when the round was created
    approvals_required: Mapped[int] = mapped_column(default=2)
    notice_days: Mapped[int] = mapped_column(default=5)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    submitted_at: Mapped[datetime | None]
    published_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    published_at: Mapped[datetime | None]
    notice_ends_at: Mapped[datetime | None]
    finalised_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    finalised_at: Mapped[datetime | None]

    criteria = relationship("RoundCriterion", order_by="RoundCriterion.position", back_populates="round")
    approvals = relationship("RoundApproval", order_by="RoundApproval.id")

    @property
    def ref(self) -> str:
        """What the ledger's transfers of this round point to."""
        return f"round:{self.uuid}"


class RoundCriterion(db.Model):
    """A criterion as it stood when the round was created: the round keeps these points."""

    __table_args__ = (sa.UniqueConstraint("round_id", "criterion_id", name="uq_round_criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("criterion.id"))
    category_name: Mapped[str] = mapped_column(sa.String(60))
    name: Mapped[str] = mapped_column(sa.String(100))
    points: Mapped[int]
    max_per_period: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)

    round = relationship(ScoringRound, back_populates="criteria")


class Score(db.Model):
    """How many times a household met a criterion in a round (0 = not met; the row may be absent)."""

    __table_args__ = (
        sa.UniqueConstraint("round_id", "household_id", "round_criterion_id", name="uq_score_cell"),
        sa.CheckConstraint("times >= 0", name="times_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"), index=True)
    round_criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("round_criterion.id"))
    times: Mapped[int] = mapped_column(default=0)
    entered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundApproval(db.Model):
    __table_args__ = (sa.UniqueConstraint("round_id", "user_id", name="uq_round_approval"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    user = relationship("User")


class RoundResult(db.Model):
    """What finalisation posted for one household: the record the notice, register and API show."""

    __table_args__ = (sa.UniqueConstraint("round_id", "household_id", name="uq_round_result"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"), index=True)
    awarded: Mapped[int] = mapped_column(default=0)
    #: deductions as scored (a positive number)
    deducted: Mapped[int] = mapped_column(default=0)
    #: deductions the balance could not cover, so not posted (DESIGN: never below zero)
    shortfall: Mapped[int] = mapped_column(default=0)

    @property
    def net(self) -> int:
        return self.awarded - (self.deducted - self.shortfall)


class ObjectionStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the score was changed
    REJECTED = "rejected"


class Objection(db.Model):
    """异议: a villager disputes a household's score during the public notice."""

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"))
    #: who objected (a villager's name, as told to the chair)
    objector: Mapped[str] = mapped_column(sa.String(40))
    content: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(10), default=ObjectionStatus.OPEN)
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolution: Mapped[str] = mapped_column(sa.String(500), default="")
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    resolved_at: Mapped[datetime | None]

    household = relationship("Household")


class MeetingMinutes(db.Model):
    """积分评定会议记录, one per round."""

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), unique=True)
    held_on: Mapped[date]
    place: Mapped[str] = mapped_column(sa.String(100), default="")
    #: panel members present (user ids, comma-separated) and others present (free text)
    panel_present: Mapped[str] = mapped_column(sa.String(200), default="")
    others_present: Mapped[str] = mapped_column(sa.String(300), default="")
    decisions: Mapped[str] = mapped_column(sa.Text, default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NoticePhoto(db.Model):
    """积分公示影视资料: a photo of the posted notice, with the dates it was up."""

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    #: random file name under instance/uploads/notices
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(200), default="")
    content_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    posted_from: Mapped[date | None]
    posted_until: Mapped[date | None]
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BylawsVersion(db.Model):
    """管理办法: the village's rules for its points supermarket, as the chair wrote them.

    Each save appends a version (never edited); the highest version is the one in force.
    """

    __table_args__ = (
        sa.UniqueConstraint("village_id", "version", name="uq_bylaws_version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    #: 1, 2, 3 … per village
    version: Mapped[int]
    #: plain text, paragraphs by line; rendered escaped, never as HTML
    text: Mapped[str] = mapped_column(sa.Text)
    saved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)


class PhotoStage(enum.StrEnum):
    """Where in the work a photo was taken: 美丽庭院 criteria mark before and after."""

    NONE = ""
    BEFORE = "before"
    AFTER = "after"


PHOTO_STAGE_LABELS = {
    PhotoStage.NONE: _l("佐证"),
    PhotoStage.BEFORE: _l("整改前"),
    PhotoStage.AFTER: _l("整改后"),
}


class ScorePhoto(db.Model):
    """打分佐证照片: a photo a panel member took of a household's score in a round.

    Private to the village's chair and panel; on the public notice only once the chair marks it public.
    """

    __table_args__ = (
        sa.CheckConstraint("stage IN ('', 'before', 'after')", name="stage_known"),
        sa.CheckConstraint("size > 0", name="size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_round.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("household.id"), index=True)
    #: the criterion it is evidence for; None: the household's score as a whole
    round_criterion_id: Mapped[int | None] = mapped_column(sa.ForeignKey("round_criterion.id"))
    #: :class:`PhotoStage`
    stage: Mapped[str] = mapped_column(sa.String(8), default=PhotoStage.NONE)
    #: random file name under instance/uploads/scores
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int]
    height: Mapped[int]
    #: bytes on disk, after resizing: what counts against the village's storage limit
    size: Mapped[int]
    #: sha256 of the stored file, in hex (since 0018; None: its file was missing when 0018 ran)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    #: shown on the public notice (the chair's choice)
    public: Mapped[bool] = mapped_column(default=False)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    criterion = relationship("RoundCriterion")
