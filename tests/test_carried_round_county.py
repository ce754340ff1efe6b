"""A round carried from November into December, synced: the village's December book, its figures and
public accounts count it (and the households it scored) in December, and so does the county's
rebuild — its round table, its photos ledger and its figures choose the same rounds, with the same
hash; a month frozen by version 1's rule (a round by its own period) still agrees at the county."""

import json
import re
from datetime import date, datetime

import sqlalchemy as sa

from pointsmart.book import month_rounds
from pointsmart.closing import figures as month_figures
from pointsmart.closing.services import carry_round, close_month
from pointsmart.county.models import SyncedScorePhoto
from pointsmart.county.month_book import county_book
from pointsmart.county.month_figures import county_month_figures
from pointsmart.extensions import db
from pointsmart.months.guard import close_of
from pointsmart.org.models import Village
from pointsmart.org.services import home_village
from pointsmart.periods import read_period

from .conftest import VILLAGE_CODE
from .sync_support import push_all, register
from .test_county_dashboard import county_user, login
from .test_month_close import MONTH, set_clock, stocktake

DECEMBER = "2026-12"


def _carried_and_finalised(app, make_user, make_household, before_close: bool = False) -> str:
    """November's round carried to December and finalised there (1 household scored) — or, with
    ``before_close``, finalised after the carry but before November closed; both months closed.
    Returns the round's uuid."""
    from pointsmart.auth.models import User
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import finalisation, panels, score_entry
    from pointsmart.scoring import workflow as scoring_workflow
    from pointsmart.scoring.models import ScoringRound
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    set_clock(2026, 11, 2)
    home = make_household(points=5)
    members = [make_user("panel")[0] for _ in range(2)]
    with app.app_context():
        village = home_village(db.session)
        category = scoring_criteria.save_category(db.session, village.id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            db.session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        found = scoring_workflow.create_round(db.session, village, "monthly", MONTH, "", None)
        round_id, round_uuid = found.id, found.uuid
        soap = shop.save_goods(db.session, village.id, {"name": "洗衣粉", "price": 10}, None)
        shop.receive_stock(db.session, soap, MoveKind.DONATION, 5, None, donor="爱心企业")
        for member in members:
            panels.set_panel_member(db.session, db.session.get(User, member), "执委", [], None)
        db.session.commit()
    set_clock(2026, 11, 30)
    stocktake(app, date(2026, 11, 30))
    set_clock(2026, 12, 3)
    chair_id = make_user("chair")[0]

    def close_month_(month: str) -> None:
        with app.app_context():
            close_month(db.session, home_village(db.session), month, chair_id)
            db.session.commit()

    with app.app_context():
        carry_round(db.session, home_village(db.session).id, round_id, MONTH, chair_id)
        db.session.commit()
    if not before_close:
        close_month_(MONTH)
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, round_id)
        score_entry.set_score(
            db.session, scoring_round, home, scoring_round.criteria[0].id, 1, db.session.get(User, members[0])
        )
        scoring_workflow.submit_round(db.session, scoring_round, db.session.get(User, chair_id))
        for member in members:
            scoring_workflow.approve_round(db.session, scoring_round, db.session.get(User, member))
        scoring_workflow.publish_round(db.session, scoring_round, None)
        db.session.commit()
    set_clock(2026, 12, 10)
    with app.app_context():
        assert finalisation.finalise_round(db.session, db.session.get(ScoringRound, round_id), None)
        db.session.commit()
    if before_close:
        close_month_(MONTH)
    set_clock(2026, 12, 31)
    stocktake(app, date(2026, 12, 31))
    set_clock(2027, 1, 4)
    close_month_(DECEMBER)
    return round_uuid


def _rounds_section(page: str) -> str:
    return page[page.index('id="book-rounds"') : page.index('id="book-photos"')]


def test_a_carried_round_is_decembers_in_the_county_book_as_in_the_villages(
    app, county_app, make_user, make_household
):
    round_uuid = _carried_and_finalised(app, make_user, make_household)
    with app.app_context():
        village_id = home_village(db.session).id
        village = {
            m: (
                [r.uuid for r in month_rounds(db.session, village_id, read_period(m))],
                close_of(db.session, village_id, m),
            )
            for m in (MONTH, DECEMBER)
        }
        frozen = {m: json.loads(c.figures) for m, (_r, c) in village.items()}
        shas = {m: c.sha256 for m, (_r, c) in village.items()}
    assert village[MONTH][0] == [] and village[DECEMBER][0] == [round_uuid]
    assert [r["uuid"] for r in frozen[DECEMBER]["rounds"]] == [round_uuid]
    assert frozen[DECEMBER]["households_scored"] == 1 and frozen[MONTH]["households_scored"] == 0
    push_all(app, county_app.test_client(), register(county_app))

    with county_app.app_context():  # a photo of the carried round, as a push would have sent it
        county_village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        db.session.add(
            SyncedScorePhoto(
                village_id=county_village.id, uuid="p-carried", round_uuid=round_uuid,
                household_uuid="h", criterion_uuid=None, criterion_name="门前三包", stage="",
                taken_at=datetime(2026, 12, 5, 2), public=False, sha256="a" * 64, size=10,
            )
        )  # fmt: skip
        db.session.commit()
        books = {m: county_book(db.session, county_village.id, m) for m in (MONTH, DECEMBER)}
        for m, found in books.items():
            # the round table, the photos ledger and the figures: the village's book's rounds
            assert [r.uuid for r in found.rounds] == village[m][0], m
            assert found.figures == frozen[m], m
            assert found.close.county_sha256 == shas[m] == found.close.village_sha256, m
        assert len(books[DECEMBER].photos) == 1 and books[MONTH].photos == []

    reviewer = login(county_app, county_user(county_app))
    page = reviewer.get(f"/county/villages/{VILLAGE_CODE}/book/{DECEMBER}").get_data(as_text=True)
    rounds = _rounds_section(page)
    assert "本月没有评定" not in rounds and "2026年11月" in rounds and "已生效" in rounds
    assert "门前三包" in page[page.index('id="book-photos"') :]
    november = reviewer.get(f"/county/villages/{VILLAGE_CODE}/book/{MONTH}").get_data(as_text=True)
    assert "本月没有评定" in _rounds_section(november)
    # the county's public accounts say what the village's say
    for m, said in ((MONTH, "本月评定 0 次，0 户"), (DECEMBER, "本月评定 1 次，1 户得到评定结果")):
        accounts = county_app.test_client().get(f"/accounts/{VILLAGE_CODE}/{m}")
        assert said in re.sub(r"\s+", " ", accounts.get_data(as_text=True)), m


def test_a_month_frozen_by_version_1_still_agrees_at_the_county(app, county_app, make_user, make_household):
    """Version 1 took a round by its own period: November listed the carried round as carried,
    December listed none and scored no household. A close frozen so still checks at the county."""
    round_uuid = _carried_and_finalised(app, make_user, make_household)
    with app.app_context():
        village_id = home_village(db.session).id
        frozen = {m: json.loads(close_of(db.session, village_id, m).figures) for m in (MONTH, DECEMBER)}
    old = {}
    for m, figures in frozen.items():
        goods = {u: {k: v for k, v in row.items() if k != "opening"} for u, row in figures["goods"].items()}
        rounds = (
            [{"uuid": round_uuid, "period": MONTH, "scope": "", "state": "carried"}] if m == MONTH else []
        )
        old[m] = {**figures, "version": 1, "goods": goods, "rounds": rounds, "households_scored": 0}
    push_all(app, county_app.test_client(), register(county_app))
    with county_app.app_context():
        county_village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        for m, figures in old.items():
            rebuilt = county_month_figures(db.session, county_village.id, m)
            sha = month_figures.digest(figures)
            assert month_figures.digest(rebuilt) != sha  # version 2 reads the rounds otherwise
            assert month_figures.rebuilt_digest(rebuilt, sha) == sha, m
            assert month_figures.rebuilt_digest(rebuilt, "0" * 64) == month_figures.digest(rebuilt)


def test_a_round_carried_then_finalised_before_its_month_closed_stays_in_that_months_book(
    app, county_app, make_user, make_household
):
    """The county sees a carry only in the closes: a round finalised before November closed is
    November's there, and so it is in the village's book, figures and accounts — the hashes agree."""
    round_uuid = _carried_and_finalised(app, make_user, make_household, before_close=True)
    with app.app_context():
        village_id = home_village(db.session).id
        rounds = {
            m: [r.uuid for r in month_rounds(db.session, village_id, read_period(m))]
            for m in (MONTH, DECEMBER)
        }
        closes = {m: close_of(db.session, village_id, m) for m in (MONTH, DECEMBER)}
        shas = {m: c.sha256 for m, c in closes.items()}
        scored = {m: json.loads(c.figures)["households_scored"] for m, c in closes.items()}
    assert rounds == {MONTH: [round_uuid], DECEMBER: []} and scored == {MONTH: 1, DECEMBER: 0}
    push_all(app, county_app.test_client(), register(county_app))
    with county_app.app_context():
        county_village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        for m in (MONTH, DECEMBER):
            found = county_book(db.session, county_village.id, m)
            assert [r.uuid for r in found.rounds] == rounds[m], m
            assert found.close.county_sha256 == shas[m], m
