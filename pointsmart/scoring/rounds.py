"""A scoring round as the other modules find and read it: by id, by uuid or in a list; the households
it covers and the cells entered for them; and the lock and status check that every change to a round
(a score, a step of :mod:`.workflow`, :mod:`.finalisation`) begins with. It reads and guards a round;
it changes none.
"""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..errors import Invalid, NotFound
from ..households.models import Household
from ..months.guard import refuse_round
from .errors import ScoringError
from .models import STATUS_LABELS, RoundStatus, Score, ScoringRound


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


def entered_cells(session: Session, scoring_round: ScoringRound) -> set[tuple[int, int]]:
    """``{(household_id, round_criterion_id)}`` of the cells someone has entered, 0 included: a cell
    confirmed empty is held as 0, so "every cell entered" tells a household that is done."""
    rows = session.execute(
        sa.select(Score.household_id, Score.round_criterion_id).where(Score.round_id == scoring_round.id)
    ).all()
    return {(h, c) for h, c in rows}


def done_households(session: Session, scoring_round: ScoringRound) -> set[int]:
    """The households whose every criterion of the round has been entered (0 included)."""
    needed = len(scoring_round.criteria)
    rows = session.execute(
        sa.select(Score.household_id)
        .where(Score.round_id == scoring_round.id)
        .group_by(Score.household_id)
        .having(sa.func.count(Score.round_criterion_id) >= needed)
    ).scalars()
    return set(rows)


def find_round_household(session: Session, scoring_round: ScoringRound, text: str) -> Household:
    """The household of the round that ``text`` names: its 户号, its head's name (if only one
    household has it), or the "户号 户主" label the objection form's list offers.

    :raises Invalid: nothing typed, no such household, or a name that two households share.
    """
    wanted = " ".join((text or "").split())
    if not wanted:
        raise Invalid(_("请输入户号或户主姓名。"), code="household_required")
    households = round_households(session, scoring_round)
    number = wanted.split(" ")[0]
    found = [h for h in households if h.household_no == number]
    if not found:
        found = [h for h in households if h.head_name == wanted]
    # the search is only quoted back in the message (shortened to fit it), never kept
    if len(found) > 1:
        raise Invalid(
            _("有 %(n)s 户户主叫“%(name)s”，请输入户号。", n=len(found), name=wanted[:20]),
            code="household_ambiguous",
        )
    if not found:
        raise Invalid(
            _("这次评定里没有户号或户主为“%(text)s”的农户。", text=wanted[:20]), code="unknown_household"
        )
    return found[0]


def lock_round(session: Session, scoring_round: ScoringRound, shared: bool = False) -> None:
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
    refuse_round(session, scoring_round)  # a round of a closed month (月结) that was not carried


def require_status(scoring_round: ScoringRound, *statuses: RoundStatus) -> None:
    """Refuse (``wrong_status``) unless the round is in one of ``statuses``."""
    if scoring_round.status not in statuses:
        raise wrong_status(scoring_round)


def wrong_status(scoring_round: ScoringRound) -> ScoringError:
    """The refusal of an operation the round's status does not allow, naming the status."""
    return ScoringError(
        _("这次评定当前是“%(status)s”，不能进行这个操作。", status=_status_label(scoring_round.status)),
        code="wrong_status",
    )


def _status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))
