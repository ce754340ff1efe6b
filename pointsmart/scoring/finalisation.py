"""A round's tally, and finalisation: the round's points posted to the ledger, atomically and once."""

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from .. import changes as change_log
from ..audit.services import record
from ..clock import utcnow
from ..households.models import Household
from ..ledger import services as ledger
from ..ledger.models import Account, AccountKind, TransferKind
from ..months.guard import refuse_round
from ..periods import local_text
from .errors import NoticeNotOver, ScoringError
from .models import (
    RoundResult,
    RoundStatus,
    Score,
    ScoringRound,
)
from .rounds import round_households, scores_of, wrong_status
from .workflow import open_objections


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


def finalise_refusal(session: Session, scoring_round: ScoringRound) -> ScoringError | None:
    """Why the round cannot be finalised now, or None: not on notice, the notice not over, or an
    objection still open. The round page offers the button only when this is None."""
    if scoring_round.status != RoundStatus.NOTICE:
        return wrong_status(scoring_round)
    if utcnow() < scoring_round.notice_ends_at:
        return NoticeNotOver(
            _(
                "公示期到 %(end)s 才结束，现在还不能生效。",
                end=local_text(scoring_round.notice_ends_at),
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
    refuse_round(session, scoring_round)  # a round of a closed month (月结) that was not carried
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
    # read off the rows once: ten thousand cells would read each attribute through the ORM again
    points_of = {c.id: c.points for c in criteria.values()}
    category_of = {c.id: c.category_name for c in criteria.values()}
    reason_prefix = f"{scoring_round.period_key} "
    ref = scoring_round.ref
    rows, results = [], []
    reasons: dict[tuple[int, int], str] = {}  # the same text for every household: build it once
    award, deduction = str(TransferKind.AWARD), str(TransferKind.DEDUCTION)
    for household_id, household_cells in by_household.items():
        account, balance = household_cells[0][0], household_cells[0][1]
        awarded = sum(t * points_of[c] for _a, _b, c, t in household_cells if points_of[c] > 0)
        deducted = sum(-t * points_of[c] for _a, _b, c, t in household_cells if points_of[c] < 0)
        available = balance + awarded  # this round's awards count before its deductions
        shortfall = 0
        for _account, _balance, criterion_id, times in household_cells:
            points = times * points_of[criterion_id]
            reason = reasons.get((criterion_id, times))
            if reason is None:
                criterion = criteria[criterion_id]
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
                        "category": category_of[criterion_id],
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
                        "category": category_of[criterion_id],
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
        deducted=sum(r["deducted"] for r in results),
        shortfall=sum(r["shortfall"] for r in results),
    )
    return True
