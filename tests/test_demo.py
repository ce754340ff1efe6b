"""The demo village shows every part of the product: last month's finalised round, points, goods,
sales and stocktake (closable by the chair, nothing blocking), and this month's round open."""

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from pointsmart import book, clock
from pointsmart.audit.models import AuditEntry
from pointsmart.closing import figures as month_figures
from pointsmart.closing import services as closing
from pointsmart.demo import load_demo
from pointsmart.extensions import db
from pointsmart.ledger.models import Transfer
from pointsmart.ledger.services import verify
from pointsmart.months.guard import close_of
from pointsmart.org.models import Village
from pointsmart.periods import Period, local_day, today
from pointsmart.scoring.models import RoundStatus, ScoringRound
from pointsmart.shop.models import MoveKind, Redemption, StockMove, Stocktake

SEED = Path(__file__).resolve().parents[1] / "seed" / "demo"


def _in(month: Period, at) -> bool:
    return month.contains(local_day(at))


def test_demo_writes_last_month_through_the_services_and_opens_this_month(app):
    with app.app_context():
        session = db.session
        load_demo(session, SEED)
        session.commit()
        village = session.scalar(sa.select(Village).where(Village.code == "620123105203"))
        last, this = Period.of(today()).previous, Period.of(today())

        rounds = session.scalars(
            sa.select(ScoringRound).where(ScoringRound.village_id == village.id).order_by(ScoringRound.id)
        ).all()
        assert [(r.period_key, r.status) for r in rounds] == [
            (last.key, RoundStatus.FINALISED),
            (this.key, RoundStatus.DRAFT),
        ]
        assert _in(last, rounds[0].finalised_at)
        awards = session.scalars(sa.select(Transfer).where(Transfer.kind == "award")).all()
        assert len(awards) > 100 and all(_in(last, t.created_at) for t in awards)

        receipts = session.scalars(
            sa.select(StockMove).where(StockMove.kind.in_([MoveKind.DONATION, MoveKind.PURCHASE]))
        ).all()
        assert all(last.contains(m.moved_on) and _in(last, m.created_at) for m in receipts)
        assert any(m.kind == MoveKind.DONATION and m.donor for m in receipts)
        assert any(m.kind == MoveKind.PURCHASE and m.funding_source and m.cost_fen for m in receipts)

        sales = session.scalars(sa.select(Redemption)).all()
        assert len(sales) >= 5 and all(_in(last, r.created_at) for r in sales)
        counted = session.scalars(sa.select(Stocktake.counted_on)).all()
        assert len(counted) == 1 and last.contains(counted[0])

        assert verify(session).ok
        actions = set(session.scalars(sa.select(AuditEntry.action)))
        assert {"scoring.round.finalised", "shop.redemption.done"} <= actions, actions


def test_demo_leaves_last_month_closable_and_its_book_builds(app):
    with app.app_context():
        session = db.session
        load_demo(session, SEED)
        session.commit()
        village = session.scalar(sa.select(Village).where(Village.code == "620123105203"))
        last = Period.of(today()).previous
        assert closing.blockers(session, village.id, last.key) == []
        assert close_of(session, village.id, last.key) is None  # the chair closes it herself
        month_book = book.month_book(session, village.id, last)
        assert len(month_book.rounds) == 1 and month_book.score_sheets
        assert month_book.redemptions.redemptions and month_book.stocktakes
        assert month_book.minutes[0].minutes and month_book.photos[0].photos  # all seven ledgers
        figures = month_figures.month_figures(session, village.id, last.key)
        assert figures  # what 月结 would store


def test_demo_loaded_again_next_month_adds_nothing(app):
    with app.app_context():
        load_demo(db.session, SEED)
        db.session.commit()
        counts = [
            db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (ScoringRound, Redemption)
        ]
        with clock.set_to(clock.utcnow() + timedelta(days=40)):
            load_demo(db.session, SEED)
            db.session.commit()
        again = [
            db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (ScoringRound, Redemption)
        ]
        assert again == counts
