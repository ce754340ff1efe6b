"""Days people write on records are never after today. A receipt or a count dated next month would
change today's stock but be filed under a month to come; minutes of a meeting not yet held, or a notice
photo posted tomorrow, would sit in a ledger ahead of time. Each service refuses such a day with one
shared check (:func:`pointsmart.periods.check_day`), naming the field, and so does each form; only the
day a notice comes down (撤下日期) may be planned ahead. (A family's claim: tests/test_claims.py; a
receipt: tests/test_cards_pages.py.)"""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.periods import day_problem, today
from pointsmart.scoring import meeting_minutes, notice_photos
from pointsmart.scoring.models import MeetingMinutes, NoticePhoto, ScoringRound
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind, Stocktake

from .test_scoring_reports import _make_round, _png
from .test_scoring_reports import scene as scene  # the rulebook and the panel, a fixture


def _today(app):
    with app.app_context():
        return today()


def test_the_shared_check_refuses_tomorrow_and_names_today_but_a_planned_day_may_be_ahead(app):
    now = _today(app)
    with app.test_request_context():
        assert day_problem(now) is None and day_problem(now - timedelta(days=400)) is None
        assert day_problem(now + timedelta(days=1)) == f"日期不能晚于今天（{now.isoformat()}）。"
        assert day_problem(now + timedelta(days=30), ahead=True) is None
        assert "日期应在" in day_problem(now + timedelta(days=400), ahead=True)


def test_a_stocktake_dated_after_today_is_refused_on_the_page_and_by_the_service(app, login_as, village_id):
    with app.app_context():
        towel = shop.save_goods(db.session, village_id, {"name": "毛巾", "spec": "条", "price": 10}, None)
        shop.receive_stock(db.session, towel, MoveKind.DONATION, 60, None, donor="王建华")
        db.session.commit()
        towel_id = towel.id
    now = _today(app)
    shopkeeper = login_as("shopkeeper")

    def count(day):
        form = {"counted_on": day.isoformat(), "counted_by": "王芳", f"count_{towel_id}": "58"}
        return shopkeeper.post("/shop/stocktake", data=form, follow_redirects=True).get_data(as_text=True)

    page = count(now + timedelta(days=34))
    assert f"盘点日期：日期不能晚于今天（{now.isoformat()}）" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Stocktake.id))) == 0
        assert db.session.get(Goods, towel_id).stock == 60
        with pytest.raises(DomainError) as refused:
            shop.record_stocktake(
                db.session, village_id, now + timedelta(days=1), "王芳", {towel_id: 58}, None
            )
        assert (refused.value.code, refused.value.extra["field"]) == ("date_in_future", "counted_on")
        db.session.rollback()
    count(now)
    with app.app_context():
        assert db.session.get(Goods, towel_id).stock == 58


def test_minutes_of_a_meeting_after_today_are_refused_naming_the_field(app, scene, login_as):
    found = _make_round(app, scene, "2026-11", {}, stop="draft")
    now = _today(app)
    chair = login_as("chair")
    form = {"held_on": (now + timedelta(days=3)).isoformat(), "place": "村委会", "decisions": "同意"}
    page = chair.post(f"/ledgers/rounds/{found.id}/minutes/edit", data=form).get_data(as_text=True)
    assert f"会议日期：日期不能晚于今天（{now.isoformat()}）" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MeetingMinutes.id))) == 0
        scoring_round = db.session.get(ScoringRound, found.id)
        data = {"held_on": now + timedelta(days=1), "place": "", "panel_present": [], "decisions": ""}
        with pytest.raises(DomainError) as refused:
            meeting_minutes.save_minutes(db.session, scoring_round, data, scene.chair)
        assert (refused.value.code, refused.value.extra["field"]) == ("date_in_future", "held_on")
        db.session.rollback()
    chair.post(f"/ledgers/rounds/{found.id}/minutes/edit", data=form | {"held_on": now.isoformat()})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MeetingMinutes.id))) == 1


def test_a_notice_photo_posted_after_today_is_refused_but_it_may_come_down_later(
    app, scene, login_as, tmp_path
):
    published = _make_round(app, scene, "2026-11", {}, stop="notice")
    now = _today(app)
    chair = login_as("chair")
    page = chair.post(
        f"/ledgers/rounds/{published.id}/photos",
        data={
            "photo": (io.BytesIO(_png()), "notice.png"),
            "posted_from": (now + timedelta(days=2)).isoformat(),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"张贴日期：日期不能晚于今天（{now.isoformat()}）" in page
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, published.id)
        folder = tmp_path / "notices"
        with pytest.raises(DomainError) as refused:
            notice_photos.add_photo(
                db.session, scoring_round, _png(), "a.png", now + timedelta(days=1), None, folder, None
            )
        assert (refused.value.code, refused.value.extra["field"]) == ("date_in_future", "posted_from")
        db.session.rollback()
        scoring_round = db.session.get(ScoringRound, published.id)
        notice_photos.add_photo(
            db.session, scoring_round, _png(), "a.png", now, now + timedelta(days=5), folder, None
        )  # on the wall from today, to come down in five days
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count(NoticePhoto.id))) == 1
