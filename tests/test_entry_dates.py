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


# --- one reading of a typed day; a count not dated before a later count --------------------------------


def _washing_powder(app, village_id, stock: int = 40) -> int:
    with app.app_context():
        goods = shop.save_goods(db.session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 10}, None)
        shop.receive_stock(db.session, goods, MoveKind.DONATION, stock, None, donor="王建华")
        db.session.commit()
        return goods.id


@pytest.mark.parametrize("typed", ["20261031", "2026-W44-6", "2026/10/31", "2026-10-31T00:00", "", "   "])
def test_a_stocktake_takes_only_a_year_month_day_and_a_blank_day_is_required(
    app, login_as, village_id, typed
):
    """``date.fromisoformat`` read 20261031 and 2026-W44-6, and a blank day silently became today: the
    one reader takes YYYY-MM-DD only, and a blank day is a required-field error naming the field."""
    goods_id = _washing_powder(app, village_id)
    shopkeeper = login_as("shopkeeper")
    form = {"counted_on": typed, "counted_by": "王芳", f"count_{goods_id}": "38"}
    page = shopkeeper.post("/shop/stocktake", data=form, follow_redirects=True).get_data(as_text=True)
    words = "盘点日期：必填" if not typed.strip() else "盘点日期：不是有效的日期，请按 2026-12-01 的样子填写"
    assert words in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Stocktake.id))) == 0
        assert db.session.get(Goods, goods_id).stock == 40


def test_a_stocktake_day_in_full_width_digits_is_read(app, login_as, village_id):
    goods_id = _washing_powder(app, village_id)
    now = _today(app)
    wide = now.isoformat().translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    shopkeeper = login_as("shopkeeper")
    form = {"counted_on": f" {wide} ", "counted_by": "王芳", f"count_{goods_id}": "38"}
    shopkeeper.post("/shop/stocktake", data=form)
    with app.app_context():
        assert db.session.scalars(sa.select(Stocktake.counted_on)).one() == now
        assert db.session.get(Goods, goods_id).stock == 38


def test_a_count_dated_before_a_later_count_names_the_later_count(app, login_as, village_id):
    """A count exists for today; a count dated three days ago that differs from that day's book is
    refused saying a later count (dated today) exists and the difference belongs to it — not
    "库存不足：现有 0，需要 39". One that agrees with that day's book is taken: a month's stocktake typed in
    after the next month's can still be recorded."""
    goods_id = _washing_powder(app, village_id)
    now = _today(app)
    shopkeeper = login_as("shopkeeper")
    first = {"counted_on": now.isoformat(), "counted_by": "王芳", f"count_{goods_id}": "0"}
    shopkeeper.post("/shop/stocktake", data=first)
    earlier = first | {"counted_on": (now - timedelta(days=3)).isoformat(), f"count_{goods_id}": "39"}
    page = shopkeeper.post("/shop/stocktake", data=earlier, follow_redirects=True).get_data(as_text=True)
    assert f"{now.isoformat()} 已经盘点过" in page and "库存不足" not in page
    assert "账面 0，您数的是 39" in page and f"差异请记在 {now.isoformat()} 或以后的盘点里" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Stocktake.id))) == 1
        assert db.session.get(Goods, goods_id).stock == 0
        with pytest.raises(DomainError) as refused:
            shop.record_stocktake(
                db.session, village_id, now - timedelta(days=1), "王芳", {goods_id: 5}, None
            )
        assert (refused.value.code, refused.value.extra["field"]) == ("later_stocktake", "counted_on")
        db.session.rollback()
    shopkeeper.post("/shop/stocktake", data=earlier | {f"count_{goods_id}": "0"})  # agrees with its day
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Stocktake.id))) == 2
        assert db.session.get(Goods, goods_id).stock == 0
    shopkeeper.post("/shop/stocktake", data=first | {f"count_{goods_id}": "2"})  # the same day: fine
    with app.app_context():
        assert db.session.get(Goods, goods_id).stock == 2


def test_minutes_dated_before_the_rounds_period_or_in_a_closed_month_are_refused(app, scene, login_as):
    """The minutes of a round of the current month took any past day (2000-01-01, a day of a closed
    month): a meeting before its round's period began, or in a closed month, is refused naming the
    field."""
    from pointsmart.months.models import MonthClose
    from pointsmart.periods import Period

    now = _today(app)
    found = _make_round(app, scene, Period.of(now).key, {}, stop="draft")
    chair = login_as("chair")
    form = {"held_on": "2000-01-01", "place": "村委会", "decisions": "同意"}
    page = chair.post(f"/ledgers/rounds/{found.id}/minutes/edit", data=form).get_data(as_text=True)
    assert (
        "会议日期：评定会议不能早于这次评定的期间" in page
        and f"从 {now.replace(day=1).isoformat()} 开始" in page
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MeetingMinutes.id))) == 0
    # a round of last month carried into this one (its month closed): a meeting dated last month refused
    last_month = now.replace(day=1) - timedelta(days=1)
    carried = _make_round(app, scene, Period.of(last_month).key, {}, stop="draft")
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, carried.id)
        db.session.add(
            MonthClose(
                village_id=scoring_round.village_id,
                month=Period.of(last_month).key,
                figures="{}",
                sha256="0" * 64,
            )
        )
        from pointsmart.months.models import RoundCarry

        db.session.add(RoundCarry(round_id=carried.id, month=Period.of(last_month).key))
        db.session.commit()
    closed = chair.post(
        f"/ledgers/rounds/{carried.id}/minutes/edit", data=form | {"held_on": last_month.isoformat()}
    ).get_data(as_text=True)
    assert f"会议日期：{last_month.year}年{last_month.month}月已经月结" in closed
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MeetingMinutes.id))) == 0
    chair.post(f"/ledgers/rounds/{carried.id}/minutes/edit", data=form | {"held_on": now.isoformat()})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MeetingMinutes.id))) == 1
