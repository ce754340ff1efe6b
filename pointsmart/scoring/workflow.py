"""A round's workflow, every step that moves it on: opened as a draft, submitted, sent back, approved by
the panel (never by its submitter), published for its notice period (公示), and the villagers'
objections recorded and resolved during that notice. Each step locks the round, checks its status,
acts and writes the audit log. The step after notice, posting the points, is :mod:`.finalisation`.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import record
from ..auth.models import Role, User
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..households.models import Household
from ..households.services import groups as village_groups
from ..months.guard import month_of_round, refuse_month
from ..org.models import Village
from ..text import checked
from .criteria import active_criteria
from .errors import ScoringError
from .models import (
    Objection,
    ObjectionStatus,
    RoundApproval,
    RoundCriterion,
    RoundStatus,
    ScoringRound,
)
from .panels import membership
from .periods import check_period
from .rounds import lock_round, require_status, wrong_status
from .score_entry import score_cell, write_score

#: the longest objector's name, and text of an objection, its resolution or a round's sending back
OBJECTOR_LENGTH, MAX_REASON = 40, 500
#: a round's scope (a 村民小组) as the county holds it: a longer one would stop the sync
SCOPE_LENGTH = 40


def create_round(
    session: Session, village: Village, period_type: str, period_key: str, scope: str, actor_id: int | None
) -> ScoringRound:
    """Open a round for a period, for the whole village (scope "") or one group.

    :raises Invalid: a malformed period key, or no active criteria of that cadence.
    :raises Conflict: a round for the same period already covers these households.
    """
    cadence, key = check_period(period_type, period_key)
    refuse_month(session, month_of_round(key), village.id)  # no new round in a closed month (月结)
    scope = checked(scope, "scope", _("范围"), max_length=SCOPE_LENGTH)
    if scope and scope not in village_groups(session, village.id):
        raise Invalid(
            _("范围：“%(scope)s”不是本村的村民小组，请选择一个小组，或留空表示全村。", scope=scope[:20]),
            code="unknown_scope",
            field="scope",
        )
    # one round-creation at a time per village, so two overlapping rounds cannot both pass the check
    session.scalar(sa.select(Village.id).where(Village.id == village.id).with_for_update())
    overlapping = session.scalars(
        sa.select(ScoringRound.scope).where(
            ScoringRound.village_id == village.id,
            ScoringRound.period_type == cadence,
            ScoringRound.period_key == key,
        )
    ).all()
    if any(other == scope or other == "" or scope == "" for other in overlapping):
        raise Conflict(
            _("%(key)s 已经有一次%(scope)s的评定了。", key=key, scope=scope or _("全村")),
            code="duplicate_round",
        )
    criteria = active_criteria(session, village.id, cadence)
    if not criteria:
        raise Invalid(_("积分细则里没有这个周期的有效条目，请先在积分细则中添加。"), code="no_criteria")
    new_round = ScoringRound(
        village_id=village.id,
        period_type=cadence,
        period_key=key,
        scope=scope,
        status=RoundStatus.DRAFT,
        approvals_required=village.approvals_required,
        notice_days=village.notice_days,
        created_by=actor_id,
        created_at=utcnow(),
    )
    session.add(new_round)
    session.flush()
    for position, criterion in enumerate(criteria):
        session.add(
            RoundCriterion(
                round_id=new_round.id,
                criterion_id=criterion.id,
                category_name=criterion.category.name,
                name=criterion.name,
                points=criterion.points,
                max_per_period=criterion.max_per_period,
                position=position,
            )
        )
    session.flush()
    record(
        session, "scoring.round.created", actor_id, new_round, period=key, scope=scope, criteria=len(criteria)
    )
    return new_round


def submit_round(session: Session, scoring_round: ScoringRound, user: User) -> None:
    """Hand a round in for approval."""
    lock_round(session, scoring_round)
    require_status(scoring_round, RoundStatus.DRAFT)
    if membership(session, user.id) is None and user.role != Role.CHAIR:
        raise ScoringError(_("只有评比小组成员或妇联主席可以提交评定。"), code="not_panel_member", status=403)
    scoring_round.status = RoundStatus.SUBMITTED
    scoring_round.submitted_by, scoring_round.submitted_at = user.id, utcnow()
    record(session, "scoring.round.submitted", user.id, scoring_round)


def reopen_round(session: Session, scoring_round: ScoringRound, actor_id: int, reason: str) -> None:
    """Send a submitted or approved round back to scoring; its approvals are withdrawn."""
    lock_round(session, scoring_round)
    require_status(scoring_round, RoundStatus.SUBMITTED, RoundStatus.APPROVED)
    reason = checked(reason, "reason", _("原因"), max_length=MAX_REASON, multiline=True)
    if not reason:
        raise Invalid(_("退回必须填写原因。"), code="reason_required")
    withdrawn = [a.user_id for a in scoring_round.approvals]
    for approval in list(scoring_round.approvals):
        session.delete(approval)
    scoring_round.status = RoundStatus.DRAFT
    scoring_round.submitted_by = scoring_round.submitted_at = None
    record(
        session,
        "scoring.round.reopened",
        actor_id,
        scoring_round,
        reason=reason,
        approvals_withdrawn=withdrawn,
    )


def counted_approvals(scoring_round: ScoringRound) -> list[RoundApproval]:
    """The approvals that count: a second pair of eyes, so never the submitter's own. (Rounds from
    before this rule may hold one; it is shown, and not counted.)"""
    return [a for a in scoring_round.approvals if a.user_id != scoring_round.submitted_by]


def approvals_missing(scoring_round: ScoringRound) -> int:
    """How many more approvals the round needs before its notice may start."""
    return max(0, scoring_round.approvals_required - len(counted_approvals(scoring_round)))


def approval_refusal(session: Session, scoring_round: ScoringRound, user: User) -> ScoringError | None:
    """Why ``user`` may not approve the round now, or None: the one statement of the rule, which the
    round page reads to offer the button and :func:`approve_round` to refuse."""
    if scoring_round.status not in (RoundStatus.SUBMITTED, RoundStatus.APPROVED):
        return wrong_status(scoring_round)
    if not approvals_missing(scoring_round):
        return ScoringError(
            _(
                "这次评定已经审核完成（%(n)s / %(m)s），不需要再审核。",
                n=len(counted_approvals(scoring_round)),
                m=scoring_round.approvals_required,
            ),
            code="approvals_complete",
        )
    if membership(session, user.id) is None or user.village_id != scoring_round.village_id:
        return ScoringError(_("只有评比小组成员可以审核。"), code="not_panel_member", status=403)
    if user.id == scoring_round.submitted_by:
        return ScoringError(
            _("您提交了这次评定，不能自己审核，请评比小组的其他成员审核。"),
            code="submitter_cannot_approve",
            status=403,
        )
    if any(a.user_id == user.id for a in scoring_round.approvals):
        return ScoringError(_("您已经审核过这次评定了。"), code="already_approved")
    return None


def approve_round(session: Session, scoring_round: ScoringRound, user: User) -> int:
    """Record one panel member's approval; enough of them make the round approved. Returns how many
    approvals count now (the submitter's own never does).

    :raises ScoringError: not submitted, already approved by enough members, not a panel member, the
        member who submitted the round, or approved by this member already.
    """
    lock_round(session, scoring_round)
    refusal = approval_refusal(session, scoring_round, user)
    if refusal:
        raise refusal
    session.add(RoundApproval(round_id=scoring_round.id, user_id=user.id, at=utcnow()))
    session.flush()
    session.refresh(scoring_round, ["approvals"])
    count = len(counted_approvals(scoring_round))
    if count >= scoring_round.approvals_required:
        scoring_round.status = RoundStatus.APPROVED
    record(
        session,
        "scoring.round.approved",
        user.id,
        scoring_round,
        approvals=count,
        required=scoring_round.approvals_required,
    )
    return count


def publish_round(session: Session, scoring_round: ScoringRound, actor_id: int) -> None:
    """Post the round's results publicly (公示) for its notice period."""
    lock_round(session, scoring_round)
    require_status(scoring_round, RoundStatus.APPROVED)
    missing = approvals_missing(scoring_round)
    if missing:  # a round approved before the submitter's own approval stopped counting
        raise ScoringError(
            _("还差 %(n)s 人审核（提交人自己的审核不算），审核完成后才能公示。", n=missing),
            code="approvals_missing",
        )
    now = utcnow()
    scoring_round.status = RoundStatus.NOTICE
    scoring_round.published_by, scoring_round.published_at = actor_id, now
    scoring_round.notice_ends_at = now + timedelta(days=scoring_round.notice_days)
    record(
        session,
        "scoring.round.published",
        actor_id,
        scoring_round,
        notice_ends_at=scoring_round.notice_ends_at.isoformat(timespec="minutes"),
    )


def record_objection(
    session: Session,
    scoring_round: ScoringRound,
    household_id: int,
    objector: str,
    content: str,
    actor_id: int,
) -> Objection:
    """Write down a villager's objection during the notice period."""
    lock_round(session, scoring_round)
    require_status(scoring_round, RoundStatus.NOTICE)
    household = session.get(Household, household_id)
    if (
        household is None
        or household.village_id != scoring_round.village_id
        or (scoring_round.scope and household.group != scoring_round.scope)
    ):
        raise NotFound(_("这一户不在这次评定范围内。"), code="unknown_household")
    if not (objector or "").strip() or not (content or "").strip():
        raise Invalid(_("请填写异议人和异议内容。"), code="objection_incomplete")
    objection = Objection(
        round_id=scoring_round.id,
        household_id=household.id,
        objector=checked(objector, "objector", _("异议人"), max_length=OBJECTOR_LENGTH),
        content=checked(content, "content", _("异议内容"), max_length=MAX_REASON, multiline=True),
        status=ObjectionStatus.OPEN,
        recorded_by=actor_id,
        recorded_at=utcnow(),
    )
    session.add(objection)
    session.flush()
    record(
        session,
        "scoring.objection.recorded",
        actor_id,
        objection,
        round=scoring_round.period_key,
        household=household.household_no,
        objector=objection.objector,
        content=objection.content,
    )
    return objection


def resolve_objection(
    session: Session,
    objection: Objection,
    upheld: bool,
    resolution: str,
    new_times: dict[int, int],
    actor_id: int,
) -> None:
    """Close an objection: uphold it by changing the household's scores, or reject it with a reason.

    ``new_times`` maps round-criterion ids to corrected times (only for an upheld objection).
    """
    scoring_round = session.get(ScoringRound, objection.round_id)
    lock_round(session, scoring_round)
    require_status(scoring_round, RoundStatus.NOTICE)
    if objection.status != ObjectionStatus.OPEN:
        raise ScoringError(_("这条异议已经处理过了。"), code="objection_closed")
    if not (resolution or "").strip():
        raise Invalid(_("请填写处理意见。"), code="reason_required")
    if upheld:
        household = session.get(Household, objection.household_id)
        for round_criterion_id, times in new_times.items():
            _household, criterion = score_cell(session, scoring_round, household.id, round_criterion_id)
            write_score(
                session,
                scoring_round,
                household,
                criterion,
                times,
                actor_id,
                "scoring.score.corrected",
                objection=objection.id,
            )
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.REJECTED
    objection.resolution, objection.resolved_by, objection.resolved_at = (
        checked(resolution, "resolution", _("处理意见"), max_length=MAX_REASON, multiline=True),
        actor_id,
        utcnow(),
    )
    record(
        session,
        "scoring.objection.resolved",
        actor_id,
        objection,
        status=objection.status,
        resolution=objection.resolution,
    )


def open_objections(session: Session, scoring_round: ScoringRound) -> int:
    return session.scalar(
        sa.select(sa.func.count(Objection.id)).where(
            Objection.round_id == scoring_round.id, Objection.status == ObjectionStatus.OPEN
        )
    )
