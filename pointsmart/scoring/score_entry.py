"""Score entry: a panel member enters how many times a household met a criterion of a draft round,
one cell at a time, each change audited with its old and new value. Who may score which household is
decided here, and so is the one way a cell is written — which an upheld objection
(:func:`.workflow.resolve_objection`) also uses to correct a score during the notice period.
"""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..audit.services import record
from ..auth.models import User
from ..clock import utcnow
from ..errors import Invalid, NotFound
from ..households.models import Household
from .errors import ScoringError
from .models import RoundCriterion, RoundStatus, Score, ScoringRound
from .panels import membership
from .rounds import lock_round, require_status


def may_score(session: Session, user: User, household: Household) -> bool:
    """Only panel members score, and only the groups they are assigned (all groups if none)."""
    member = membership(session, user.id)
    if member is None or user.village_id != household.village_id:
        return False
    return not member.group_list or household.group in member.group_list


def score_cell(session: Session, scoring_round: ScoringRound, household_id: int, round_criterion_id: int):
    """The ``(household, round criterion)`` of a cell, both checked to belong to the round."""
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


def write_score(session, scoring_round, household, criterion, times, actor_id, action, **extra) -> int:
    """Write a cell's times and audit the change as ``action``; the caller has locked the round and
    checked its status."""
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
    lock_round(session, scoring_round, shared=True)
    require_status(scoring_round, RoundStatus.DRAFT)
    household, criterion = score_cell(session, scoring_round, household_id, round_criterion_id)
    if not may_score(session, user, household):
        raise ScoringError(
            _("您不是评比小组成员，或这一户不在您负责的小组。"), code="not_panel_member", status=403
        )
    return write_score(session, scoring_round, household, criterion, times, user.id, "scoring.score.set")
