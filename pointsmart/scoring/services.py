"""Rulebook, panel and rounds. Functions flush, never commit; each rule refused raises a ScoringError."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import changes as change_log
from ..audit.services import changes, record
from ..auth.models import Role, User
from ..clock import utcnow
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..households.models import Household
from ..ledger import services as ledger
from ..ledger.models import Account, AccountKind, TransferKind
from ..org.models import Village
from ..periods import local
from ..text import checked
from .models import (
    STATUS_LABELS,
    Cadence,
    Category,
    Criterion,
    Objection,
    ObjectionStatus,
    PanelMember,
    RoundApproval,
    RoundCriterion,
    RoundResult,
    RoundStatus,
    Score,
    ScoringRound,
)
from .periods import check_period


class ScoringError(DomainError):
    code = "scoring_error"
    status = 409


# --- rulebook ---------------------------------------------------------------------------------


def categories(session: Session, village_id: int) -> list[Category]:
    return list(
        session.scalars(
            sa.select(Category)
            .where(Category.village_id == village_id)
            .order_by(Category.position, Category.id)
        )
    )


def get_category(session: Session, village_id: int, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None or category.village_id != village_id:
        raise NotFound(_("找不到这个积分类别。"))
    return category


def get_criterion(session: Session, village_id: int, criterion_id: int) -> Criterion:
    criterion = session.get(Criterion, criterion_id)
    if criterion is None or criterion.category.village_id != village_id:
        raise NotFound(_("找不到这个积分条目。"))
    return criterion


def save_category(
    session: Session, village_id: int, data: dict, actor_id: int | None, category: Category | None = None
) -> Category:
    """Create or edit a category (name, position, active).

    :raises Invalid: no name.
    """
    name = checked(data.get("name"), "name", _("类别名称"), max_length=60)
    if not name:
        raise Invalid(_("类别名称不能为空。"), code="name_required")
    new = {
        "name": name,
        "position": int(data.get("position") or 0),
        "active": bool(data.get("active", True)),
    }
    if category is None:
        category = Category(village_id=village_id, **new)
        session.add(category)
        session.flush()
        record(session, "scoring.category.created", actor_id, category, new=new)
        return category
    diff = changes({"name": category.name, "position": category.position, "active": category.active}, new)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(category, key, value)
        record(session, "scoring.category.updated", actor_id, category, **diff)
    return category


CRITERION_FIELDS = ("name", "description", "points", "cadence", "max_per_period", "active", "position")


def _clean_criterion(data: dict) -> dict:
    name = checked(data.get("name"), "name", _("条目名称"), max_length=100)
    if not name:
        raise Invalid(_("条目名称不能为空。"), code="name_required")
    try:
        points = int(data.get("points"))
        max_per_period = int(data.get("max_per_period") or 1)
    except (TypeError, ValueError):
        raise Invalid(_("分值和次数必须是整数。"), code="invalid_amount") from None
    if points == 0 or abs(points) > 1000:
        raise Invalid(_("分值必须是 -1000 到 1000 之间的非零整数（扣分填负数）。"), code="invalid_amount")
    if not 1 <= max_per_period <= 31:
        raise Invalid(_("每期最多次数应为 1–31。"), code="invalid_amount")
    try:
        cadence = Cadence(data.get("cadence"))
    except ValueError:
        raise Invalid(_("请选择评定周期（月、季或半年）。"), code="bad_period") from None
    return {
        "name": name,
        "description": checked(
            data.get("description"), "description", _("评分标准和佐证"), max_length=500, multiline=True
        ),
        "points": points,
        "cadence": str(cadence),
        "max_per_period": max_per_period,
        "active": bool(data.get("active", True)),
        "position": int(data.get("position") or 0),
    }


def save_criterion(
    session: Session, category: Category, data: dict, actor_id: int | None, criterion: Criterion | None = None
) -> Criterion:
    """Create or edit a criterion. Rounds already created keep the points they copied.

    :raises Invalid: missing name, zero or absurd points, bad cadence.
    """
    clean = _clean_criterion(data)
    if criterion is None:
        criterion = Criterion(category_id=category.id, updated_at=utcnow(), **clean)
        session.add(criterion)
        session.flush()
        record(session, "scoring.criterion.created", actor_id, criterion, new=clean)
        return criterion
    diff = changes({k: getattr(criterion, k) for k in CRITERION_FIELDS}, clean)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(criterion, key, value)
        criterion.updated_at = utcnow()
        record(session, "scoring.criterion.updated", actor_id, criterion, **diff)
    return criterion


def active_criteria(session: Session, village_id: int, cadence: str) -> list[Criterion]:
    return list(
        session.scalars(
            sa.select(Criterion)
            .join(Category)
            .where(
                Category.village_id == village_id,
                Category.active.is_(True),
                Criterion.active.is_(True),
                Criterion.cadence == cadence,
            )
            .order_by(Category.position, Category.id, Criterion.position, Criterion.id)
        )
    )


# --- panel ------------------------------------------------------------------------------------


def panel_members(session: Session, village_id: int) -> list[PanelMember]:
    return list(
        session.scalars(
            sa.select(PanelMember).join(User).where(User.village_id == village_id).order_by(PanelMember.id)
        )
    )


def membership(session: Session, user_id: int) -> PanelMember | None:
    return session.scalar(sa.select(PanelMember).where(PanelMember.user_id == user_id))


def set_panel_member(
    session: Session, user: User, label: str, groups: list[str], actor_id: int
) -> PanelMember:
    """Put a user on the panel (or change their label and groups)."""
    if user.role not in (Role.CHAIR, Role.PANEL) or not user.active:
        raise Invalid(_("只有妇联主席和评比小组成员账号可以加入评比小组。"), code="bad_role")
    new = {
        "label": checked(label, "label", _("身份"), max_length=20),
        "groups": ",".join(dict.fromkeys(g.strip() for g in groups if g.strip())),
    }
    member = membership(session, user.id)
    if member is None:
        member = PanelMember(user_id=user.id, **new)
        session.add(member)
        session.flush()
        record(session, "scoring.panel.added", actor_id, member, user=user.username, new=new)
        return member
    diff = changes({"label": member.label, "groups": member.groups}, new)
    if diff["new"]:
        member.label, member.groups = new["label"], new["groups"]
        record(session, "scoring.panel.updated", actor_id, member, user=user.username, **diff)
    return member


def remove_panel_member(session: Session, member: PanelMember, actor_id: int) -> None:
    record(session, "scoring.panel.removed", actor_id, member, user=member.user.username)
    session.delete(member)


# --- rounds -----------------------------------------------------------------------------------


def get_round(session: Session, village_id: int, round_id: int) -> ScoringRound:
    found = session.get(ScoringRound, round_id)
    if found is None or found.village_id != village_id:
        raise NotFound(_("找不到这次评定。"))
    return found


def round_by_uuid(session: Session, village_id: int, round_uuid: str) -> ScoringRound:
    found = session.scalar(
        sa.select(ScoringRound).where(ScoringRound.uuid == round_uuid, ScoringRound.village_id == village_id)
    )
    if found is None:
        raise NotFound(_("找不到这次评定。"), code="unknown_round")
    return found


def list_rounds(session: Session, village_id: int, status: str | None = None) -> list[ScoringRound]:
    query = sa.select(ScoringRound).where(ScoringRound.village_id == village_id)
    if status:
        query = query.where(ScoringRound.status == status)
    return list(session.scalars(query.order_by(ScoringRound.period_key.desc(), ScoringRound.id.desc())))


def create_round(
    session: Session, village: Village, period_type: str, period_key: str, scope: str, actor_id: int | None
) -> ScoringRound:
    """Open a round for a period, for the whole village (scope "") or one group.

    :raises Invalid: a malformed period key, or no active criteria of that cadence.
    :raises Conflict: a round for the same period already covers these households.
    """
    cadence, key = check_period(period_type, period_key)
    scope = (scope or "").strip()
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


def round_households(session: Session, scoring_round: ScoringRound, group: str = "") -> list[Household]:
    """The households a round scores: active ones of its village (and of its group, if it has one)."""
    query = sa.select(Household).where(
        Household.village_id == scoring_round.village_id, Household.active.is_(True)
    )
    for wanted in (scoring_round.scope, group):
        if wanted:
            query = query.where(Household.group == wanted)
    return list(session.scalars(query.order_by(Household.household_no)))


def scores_of(session: Session, scoring_round: ScoringRound) -> dict[tuple[int, int], int]:
    """``{(household_id, round_criterion_id): times}`` for the cells that are not zero."""
    rows = session.execute(
        sa.select(Score.household_id, Score.round_criterion_id, Score.times).where(
            Score.round_id == scoring_round.id, Score.times > 0
        )
    ).all()
    return {(h, c): t for h, c, t in rows}


def may_score(session: Session, user: User, household: Household) -> bool:
    """Only panel members score, and only the groups they are assigned (all groups if none)."""
    member = membership(session, user.id)
    if member is None or user.village_id != household.village_id:
        return False
    return not member.group_list or household.group in member.group_list


def _lock(session: Session, scoring_round: ScoringRound, shared: bool = False) -> None:
    """Lock the round's row and reload it: a step (submit, approve, publish …) sees the state the
    previous step committed, and two approvals at the same moment are counted one after the other.
    ``shared`` lets scores be saved side by side while no step changes the round."""
    session.scalar(
        sa.select(ScoringRound)
        .where(ScoringRound.id == scoring_round.id)
        .with_for_update(read=shared)
        .execution_options(populate_existing=True)
    )
    session.refresh(scoring_round, ["approvals"])


def _require(scoring_round: ScoringRound, *statuses: RoundStatus) -> None:
    if scoring_round.status not in statuses:
        raise _wrong_status(scoring_round)


def _wrong_status(scoring_round: ScoringRound) -> ScoringError:
    return ScoringError(
        _("这次评定当前是“%(status)s”，不能进行这个操作。", status=_status_label(scoring_round.status)),
        code="wrong_status",
    )


def _status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def _cell(session: Session, scoring_round: ScoringRound, household_id: int, round_criterion_id: int):
    criterion = session.get(RoundCriterion, round_criterion_id)
    if criterion is None or criterion.round_id != scoring_round.id:
        raise NotFound(_("这次评定没有这个条目。"))
    household = session.get(Household, household_id)
    if (
        household is None
        or household.village_id != scoring_round.village_id
        or not household.active
        or (scoring_round.scope and household.group != scoring_round.scope)
    ):
        raise NotFound(_("这一户不在这次评定范围内。"), code="unknown_household")
    return household, criterion


def _write_score(session, scoring_round, household, criterion, times, actor_id, action, **extra) -> int:
    if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= criterion.max_per_period:
        raise Invalid(
            _("“%(name)s”每期最多计 %(n)s 次。", name=criterion.name, n=criterion.max_per_period),
            code="invalid_times",
        )
    # Make sure the cell's row exists (two first saves of one cell may race), then lock it and read.
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(Score)
        .values(
            round_id=scoring_round.id,
            household_id=household.id,
            round_criterion_id=criterion.id,
            times=0,
            entered_by=actor_id,
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["round_id", "household_id", "round_criterion_id"])
    )
    score = session.scalar(
        sa.select(Score)
        .where(
            Score.round_id == scoring_round.id,
            Score.household_id == household.id,
            Score.round_criterion_id == criterion.id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    old = score.times
    if old == times:
        return times
    score.times, score.entered_by, score.updated_at = times, actor_id, utcnow()
    session.flush()
    record(
        session,
        action,
        actor_id,
        scoring_round,
        household=household.household_no,
        criterion=criterion.name,
        old={"times": old},
        new={"times": times},
        **extra,
    )
    return times


def set_score(
    session: Session,
    scoring_round: ScoringRound,
    household_id: int,
    round_criterion_id: int,
    times: int,
    user: User,
) -> int:
    """Enter how many times a household met a criterion (0 clears it). Draft rounds only.

    :raises ScoringError: the round is past its draft, or the user may not score this household.
    :raises Invalid: more times than the criterion allows.
    """
    _lock(session, scoring_round, shared=True)
    _require(scoring_round, RoundStatus.DRAFT)
    household, criterion = _cell(session, scoring_round, household_id, round_criterion_id)
    if not may_score(session, user, household):
        raise ScoringError(
            _("您不是评比小组成员，或这一户不在您负责的小组。"), code="not_panel_member", status=403
        )
    return _write_score(session, scoring_round, household, criterion, times, user.id, "scoring.score.set")


def submit_round(session: Session, scoring_round: ScoringRound, user: User) -> None:
    """Hand a round in for approval."""
    _lock(session, scoring_round)
    _require(scoring_round, RoundStatus.DRAFT)
    if membership(session, user.id) is None and user.role != Role.CHAIR:
        raise ScoringError(_("只有评比小组成员或妇联主席可以提交评定。"), code="not_panel_member", status=403)
    scoring_round.status = RoundStatus.SUBMITTED
    scoring_round.submitted_by, scoring_round.submitted_at = user.id, utcnow()
    record(session, "scoring.round.submitted", user.id, scoring_round)


def reopen_round(session: Session, scoring_round: ScoringRound, actor_id: int, reason: str) -> None:
    """Send a submitted or approved round back to scoring; its approvals are withdrawn."""
    _lock(session, scoring_round)
    _require(scoring_round, RoundStatus.SUBMITTED, RoundStatus.APPROVED)
    if not (reason or "").strip():
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
        reason=reason.strip(),
        approvals_withdrawn=withdrawn,
    )


def approval_refusal(session: Session, scoring_round: ScoringRound, user: User) -> ScoringError | None:
    """Why ``user`` may not approve the round now, or None: the one statement of the rule, which the
    round page reads to offer the button and :func:`approve_round` to refuse."""
    if scoring_round.status not in (RoundStatus.SUBMITTED, RoundStatus.APPROVED):
        return _wrong_status(scoring_round)
    if membership(session, user.id) is None or user.village_id != scoring_round.village_id:
        return ScoringError(_("只有评比小组成员可以审核。"), code="not_panel_member", status=403)
    if any(a.user_id == user.id for a in scoring_round.approvals):
        return ScoringError(_("您已经审核过这次评定了。"), code="already_approved")
    return None


def approve_round(session: Session, scoring_round: ScoringRound, user: User) -> int:
    """Record one panel member's approval; enough of them make the round approved. Returns the count.

    :raises ScoringError: not submitted, not a panel member, or approved by this member already.
    """
    _lock(session, scoring_round)
    refusal = approval_refusal(session, scoring_round, user)
    if refusal:
        raise refusal
    session.add(RoundApproval(round_id=scoring_round.id, user_id=user.id, at=utcnow()))
    session.flush()
    session.refresh(scoring_round, ["approvals"])
    count = len(scoring_round.approvals)
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
    _lock(session, scoring_round)
    _require(scoring_round, RoundStatus.APPROVED)
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
    _lock(session, scoring_round)
    _require(scoring_round, RoundStatus.NOTICE)
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
        objector=checked(objector, "objector", _("异议人"), max_length=40),
        content=checked(content, "content", _("异议内容"), max_length=500, multiline=True),
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
    _lock(session, scoring_round)
    _require(scoring_round, RoundStatus.NOTICE)
    if objection.status != ObjectionStatus.OPEN:
        raise ScoringError(_("这条异议已经处理过了。"), code="objection_closed")
    if not (resolution or "").strip():
        raise Invalid(_("请填写处理意见。"), code="reason_required")
    if upheld:
        household = session.get(Household, objection.household_id)
        for round_criterion_id, times in new_times.items():
            _household, criterion = _cell(session, scoring_round, household.id, round_criterion_id)
            _write_score(
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
        checked(resolution, "resolution", _("处理意见"), max_length=500, multiline=True),
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


@dataclass
class Tally:
    """A household's points in a round, by criterion and category."""

    household: Household
    times: dict[int, int] = field(default_factory=dict)  # round criterion id → times
    awarded: int = 0
    deducted: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shortfall: int = 0

    @property
    def net(self) -> int:
        return self.awarded - self.deducted + self.shortfall


def tally(session: Session, scoring_round: ScoringRound, group: str = "") -> list[Tally]:
    """Every household of the round with its scores and totals; after finalisation, with shortfalls."""
    cells = scores_of(session, scoring_round)
    criteria = {c.id: c for c in scoring_round.criteria}
    shortfalls = {}
    if scoring_round.status == RoundStatus.FINALISED:
        shortfalls = dict(
            session.execute(
                sa.select(RoundResult.household_id, RoundResult.shortfall).where(
                    RoundResult.round_id == scoring_round.id
                )
            ).all()
        )
    tallies = []
    for household in round_households(session, scoring_round, group):
        t = Tally(household)
        for criterion_id, criterion in criteria.items():
            times = cells.get((household.id, criterion_id), 0)
            if not times:
                continue
            t.times[criterion_id] = times
            points = times * criterion.points
            t.by_category[criterion.category_name] += points
            if points > 0:
                t.awarded += points
            else:
                t.deducted -= points
        t.shortfall = shortfalls.get(household.id, 0)
        tallies.append(t)
    return tallies


class NoticeNotOver(ScoringError):
    code = "notice_not_over"


def finalise_refusal(session: Session, scoring_round: ScoringRound) -> ScoringError | None:
    """Why the round cannot be finalised now, or None: not on notice, the notice not over, or an
    objection still open. The round page offers the button only when this is None."""
    if scoring_round.status != RoundStatus.NOTICE:
        return _wrong_status(scoring_round)
    if utcnow() < scoring_round.notice_ends_at:
        return NoticeNotOver(
            _(
                "公示期到 %(end)s 才结束，现在还不能生效。",
                end=local(scoring_round.notice_ends_at).strftime("%Y-%m-%d %H:%M"),
            )
        )
    if open_objections(session, scoring_round):
        return ScoringError(_("还有未处理的异议，处理完才能生效。"), code="objection_open")
    return None


def finalise_round(session: Session, scoring_round: ScoringRound, actor_id: int) -> bool:
    """Post the round's points to the ledger, atomically and once.

    Awards go issuance → household, one transfer per household and criterion; deductions household →
    deductions, and never below zero: what the balance (with this round's awards) cannot cover is
    recorded as the shortfall and not posted. Returns False when the round was finalised already
    (nothing is posted twice).

    :raises NoticeNotOver: the notice period has not ended.
    :raises ScoringError: not on notice, or an objection is still open.
    """
    if scoring_round.status == RoundStatus.FINALISED:
        return False
    refusal = finalise_refusal(session, scoring_round)
    if refusal:
        raise refusal
    now = utcnow()
    # Claim the round: only one finaliser's conditional UPDATE succeeds, a second one posts nothing.
    claimed = session.execute(
        sa.update(ScoringRound)
        .where(ScoringRound.id == scoring_round.id, ScoringRound.status == RoundStatus.NOTICE)
        .values(status=RoundStatus.FINALISED, finalised_by=actor_id, finalised_at=now)
    ).rowcount
    if claimed != 1:
        session.expire(scoring_round)
        return False
    change_log.touch(session, scoring_round)

    # Every non-zero cell with its household's account, balances locked in account order (PostgreSQL;
    # SQLite's write lock is held already): the balances read here are the ones the deductions meet.
    cells = (
        sa.select(
            Score.household_id, Household.account_id, Account.balance, Score.round_criterion_id, Score.times
        )
        .join(Household, Household.id == Score.household_id)
        .join(Account, Account.id == Household.account_id)
        .where(
            Score.round_id == scoring_round.id,
            Score.times > 0,
            Household.active.is_(True),
            Household.village_id == scoring_round.village_id,
        )
    )
    if scoring_round.scope:
        cells = cells.where(Household.group == scoring_round.scope)
    cells = cells.order_by(Account.id, Score.round_criterion_id).with_for_update(of=Account.__table__)
    by_household: dict[int, list] = defaultdict(list)
    for household_id, account_id, balance, criterion_id, times in session.execute(cells):
        by_household[household_id].append((account_id, balance, criterion_id, times))

    issuance = ledger.system_account(session, AccountKind.ISSUANCE).id
    deductions = ledger.system_account(session, AccountKind.DEDUCTIONS).id
    criteria = {c.id: c for c in scoring_round.criteria}
    reason_prefix = f"{scoring_round.period_key} "
    ref = scoring_round.ref
    rows, results = [], []
    reasons: dict[tuple[int, int], str] = {}  # the same text for every household: build it once
    award, deduction = str(TransferKind.AWARD), str(TransferKind.DEDUCTION)
    for household_id, household_cells in by_household.items():
        account, balance = household_cells[0][0], household_cells[0][1]
        awarded = sum(t * criteria[c].points for _a, _b, c, t in household_cells if criteria[c].points > 0)
        deducted = sum(-t * criteria[c].points for _a, _b, c, t in household_cells if criteria[c].points < 0)
        available = balance + awarded  # this round's awards count before its deductions
        shortfall = 0
        for _account, _balance, criterion_id, times in household_cells:
            criterion = criteria[criterion_id]
            points = times * criterion.points
            reason = reasons.get((criterion_id, times))
            if reason is None:
                reason = f"{reason_prefix}{criterion.category_name}·{criterion.name}" + (
                    f" ×{times}" if times > 1 else ""
                )
                reasons[criterion_id, times] = reason
            if points > 0:
                rows.append(
                    {
                        "from_account_id": issuance,
                        "to_account_id": account,
                        "amount": points,
                        "kind": award,
                        "reason": reason,
                        "category": criterion.category_name,
                    }
                )
                continue
            posted = min(-points, available)
            available -= posted
            if posted:
                rows.append(
                    {
                        "from_account_id": account,
                        "to_account_id": deductions,
                        "amount": posted,
                        "kind": deduction,
                        "reason": reason,
                        "category": criterion.category_name,
                    }
                )
            shortfall += -points - posted
        results.append(
            {
                "round_id": scoring_round.id,
                "household_id": household_id,
                "awarded": awarded,
                "deducted": deducted,
                "shortfall": shortfall,
            }
        )
    ledger.post_many(session, rows, ref=ref, actor_id=actor_id)
    if results:
        session.execute(sa.insert(RoundResult), results)
        change_log.bulk(session, "round_result", results)
    session.expire(scoring_round)
    record(
        session,
        "scoring.round.finalised",
        actor_id,
        scoring_round,
        transfers=len(rows),
        households=len(results),
        points=sum(r["awarded"] for r in results),
        shortfall=sum(r["shortfall"] for r in results),
    )
    return True
