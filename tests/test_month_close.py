"""月结: a month closes once its rounds are finalised or carried and its stocktake is done; then it never
changes (every route and the API try), and the county rebuilds its figures and finds the same hash."""

import hashlib
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart import clock, periods
from pointsmart.closing import figures as month
from pointsmart.closing.services import month_states
from pointsmart.county.closes import county_months
from pointsmart.county.models import SyncedMonthClose, SyncedTransfer
from pointsmart.county.month_figures import county_month_figures
from pointsmart.extensions import db
from pointsmart.months.guard import MonthClosed, close_of
from pointsmart.months.models import MonthClose, RoundCarry
from pointsmart.org.services import home_village

from .conftest import PASSWORD, VILLAGE_CODE
from .sync_support import push_all, register, workload

MONTH = "2026-11"


def set_clock(year: int, month_: int, day: int, hour: int = 10) -> None:
    """Put the app's one clock at a local (China Standard Time) moment."""
    target = datetime(year, month_, day, hour, tzinfo=periods.zone()).astimezone(UTC).replace(tzinfo=None)
    clock.advance(target - clock.utcnow())


def stocktake(app, day: date) -> None:
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import Goods

    with app.app_context():
        village = home_village(db.session)
        counts = {g.id: g.stock for g in db.session.scalars(sa.select(Goods))}
        shop.record_stocktake(db.session, village.id, day, "王芳、李梅", counts, None)
        db.session.commit()


@pytest.fixture
def worked(app, make_user, make_household):
    """November's work: a round run to the end, goods, redemptions, a cancellation, a reversal."""
    set_clock(2026, 11, 2)
    found = workload(app, make_user, make_household, MONTH)
    set_clock(2026, 11, 20)  # a count is made on its day, never ahead of it
    stocktake(app, date(2026, 11, 20))
    set_clock(2026, 12, 3)
    return found


def close_page(client) -> str:
    response = client.get("/closing/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def close(client, month_=MONTH, confirm=True):
    return client.post(f"/closing/{month_}/close", data={"confirm": "1"} if confirm else {})


def test_the_chair_closes_a_month_and_its_figures_are_frozen_with_their_hash(app, worked, login_as):
    chair = login_as("chair")
    page = close_page(chair)
    assert "2026年11月" in page and "这个月可以月结了" in page
    refused = close(chair, confirm=False)
    assert refused.status_code == 422
    assert "请先勾选" in refused.get_data(as_text=True)
    response = close(chair)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        village = home_village(db.session)
        done = close_of(db.session, village.id, MONTH)
        assert done.closed_by == chair.user_id
        figures = json.loads(done.figures)
        assert done.figures.encode() == month.canonical(figures)
        assert (
            done.sha256
            == month.digest(figures)
            == month.digest(month.month_figures(db.session, village.id, MONTH))
        )
        # the figures: what the workload did in November
        assert figures["month"] == MONTH and figures["village"] == VILLAGE_CODE
        assert (
            figures["points"]["redeemed"] == 10 + 12
        )  # 1 soap at 10, 2 towels at 6 (the cancelled one undone)
        assert figures["by_category"]["环境卫生"]["awarded"] == 12  # 4 homes × 门前三包 3
        assert figures["by_category"]["家庭美德（新）"]["awarded"] == 4  # renamed before the round
        assert [r["state"] for r in figures["rounds"]] == ["finalised"]
        assert figures["households_scored"] == 4
        assert figures["redemptions"] == {"made": 2, "cancelled": 1}
        stock = sorted(
            (g["donated"], g["purchased"], g["given_out"], g["stock"]) for g in figures["goods"].values()
        )
        assert stock == [(0, 10, 2, 8), (20, 0, 1, 19)]
        # closed twice: refused; the page shows who, when and the hash
        assert close(chair).status_code == 409
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MonthClose)) == 1
        sha = done.sha256
    page = close_page(chair)
    assert sha in page and "已月结" in page


def test_what_blocks_a_month_is_listed_with_where_to_fix_it_and_a_round_can_be_carried(
    app, make_user, make_household, login_as
):
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import score_entry
    from pointsmart.scoring import workflow as scoring_workflow
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    set_clock(2026, 11, 2)
    home = make_household(points=5)
    with app.app_context():
        village = home_village(db.session)
        category = scoring_criteria.save_category(db.session, village.id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            db.session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        found = scoring_workflow.create_round(db.session, village, "monthly", MONTH, "", None)
        soap = shop.save_goods(db.session, village.id, {"name": "洗衣粉", "price": 10}, None)
        shop.receive_stock(db.session, soap, MoveKind.DONATION, 5, None, donor="爱心企业")
        db.session.commit()
        round_id, criterion_id = found.id, found.criteria[0].id
    set_clock(2026, 11, 25)
    page = close_page(login_as("chair"))
    assert "这个月还没有过完" in page
    set_clock(2026, 12, 3)
    chair = login_as("chair")  # a log-in does not outlast the clock's jumps
    page = close_page(chair)
    assert "还没有生效" in page and f"/scoring/rounds/{round_id}" in page
    assert "还没有物资盘点" in page and "/shop/stocktake" in page
    assert close(chair).status_code == 409
    # a stocktake dated in the month, the round carried to December: nothing blocks November
    stocktake(app, date(2026, 11, 30))
    assert chair.post(f"/closing/{MONTH}/carry/{round_id}").status_code == 302
    assert chair.post(f"/closing/{MONTH}/carry/{round_id}").status_code == 409  # carried already
    assert close(chair).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(RoundCarry.month)) == MONTH
        village = home_village(db.session)
        states = {s.month: s for s in month_states(db.session, village.id)}
        assert states[MONTH].close is not None
        # carried out, the round is not November's book's, nor of its figures (version 1 listed it)
        frozen = json.loads(states[MONTH].close.figures)
        assert frozen["rounds"] == [] and frozen["households_scored"] == 0
        # the carried round goes on: its scores are December's now
        from pointsmart.auth.models import User
        from pointsmart.scoring import panels
        from pointsmart.scoring.models import ScoringRound

        chair_user = db.session.get(User, chair.user_id)
        panels.set_panel_member(db.session, chair_user, "执委", [], None)
        score_entry.set_score(
            db.session, db.session.get(ScoringRound, round_id), home, criterion_id, 1, chair_user
        )
        db.session.commit()
        assert close_of(db.session, village.id, MONTH).sha256 == month.digest(
            month.month_figures(db.session, village.id, MONTH)
        )
    # its ledgers are December's book, not November's (whose kept workbook could not show them)
    november_book = chair.get(f"/ledgers/book/{MONTH}").get_data(as_text=True)
    december_book = chair.get("/ledgers/book/2026-12").get_data(as_text=True)
    assert "1 次评定" not in november_book and "0 次评定" in november_book
    assert "1 次评定" in december_book


def test_a_closed_month_refuses_every_service_that_would_change_it(app, worked, login_as, tmp_path):
    from pointsmart.auth.models import User
    from pointsmart.cards import services as cards
    from pointsmart.households import services as households
    from pointsmart.households.models import Household
    from pointsmart.scoring import meeting_minutes, notice_photos, score_entry
    from pointsmart.scoring import workflow as scoring_workflow
    from pointsmart.scoring.models import ScoringRound
    from pointsmart.shop import redemptions
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import Goods, MoveKind

    chair = login_as("chair")
    assert close(chair).status_code == 302
    with app.app_context():
        session = db.session
        village = home_village(session)
        sha = close_of(session, village.id, MONTH).sha256
        goods = session.scalars(sa.select(Goods).order_by(Goods.id)).first()
        scoring_round = session.scalars(sa.select(ScoringRound)).one()
        household = session.scalars(sa.select(Household).order_by(Household.id)).first()
        user = session.get(User, chair.user_id)
        attempts = [
            lambda: shop.receive_stock(
                session, goods, MoveKind.DONATION, 1, None, donor="某人", moved_on=date(2026, 11, 5)
            ),
            lambda: shop.record_stocktake(
                session, village.id, date(2026, 11, 30), "王芳", {goods.id: 0}, None
            ),
            # before the closed month: it would change the stock November froze
            lambda: shop.record_stocktake(
                session, village.id, date(2026, 9, 30), "王芳", {goods.id: 0}, None
            ),
            lambda: shop.receive_stock(
                session,
                goods,
                MoveKind.PURCHASE,
                1,
                None,
                funding_source="村集体",
                moved_on=date(2026, 10, 5),
            ),
            lambda: scoring_workflow.create_round(session, village, "monthly", MONTH, "二社", None),
            lambda: scoring_workflow.reopen_round(session, scoring_round, user.id, "重评"),
            lambda: score_entry.set_score(
                session, scoring_round, household.id, scoring_round.criteria[0].id, 0, user
            ),
            lambda: meeting_minutes.save_minutes(
                session, scoring_round, {"held_on": date(2026, 11, 10)}, None
            ),
            lambda: notice_photos.add_photo(
                session, scoring_round, b"x", "x.png", None, None, tmp_path, None
            ),
        ]
        for attempt in attempts:
            with pytest.raises(MonthClosed) as refused:
                attempt()
            assert "2026年11月已经月结" in refused.value.message or "该月已经月结" in refused.value.message
            assert refused.value.status == 409
            session.rollback()
        # the clock set back into November: nothing dated now may land in it either
        set_clock(2026, 11, 28)
        card = cards.active_card(session, household.id) or cards.issue_card(session, household, None)
        session.commit()
        stock_before = goods.stock
        for attempt in (
            lambda: households.adjust_points(session, household, 3, "补发", actor_id=None),
            lambda: shop.record_loss(session, goods, 1, "破损", None),
            # the counter: the closed month is checked by the statement that takes the goods
            lambda: redemptions.redeem(session, village.id, card, [(goods.id, 1)], user),
        ):
            with pytest.raises(MonthClosed):
                attempt()
            session.rollback()
        assert session.get(Goods, goods.id).stock == stock_before
        set_clock(2026, 12, 4)
        # a correction is made in December and points back: November's figures do not move
        transfer = households.adjust_points(session, household, 2, "补发十一月漏记", actor_id=None)
        households.reverse_transfer(session, household, transfer.id, "重复", user.id)
        session.commit()
        assert month.digest(month.month_figures(session, village.id, MONTH)) == sha
        # nor can the close itself be edited or removed: the database refuses
        for statement in ("UPDATE month_close SET sha256 = 'x'", "DELETE FROM month_close"):
            with pytest.raises(sa.exc.DBAPIError):
                session.execute(sa.text(statement))
            session.rollback()


#: values a form or the API might take to reach into November
HOSTILE = {
    "confirm": "1", "moved_on": "2026-11-05", "counted_on": "2026-11-30", "period_key": MONTH,
    "month": MONTH, "period_type": "monthly", "scope": "", "reason": "改十一月", "points": "5", "qty": "1",
    "kind": "donation", "donor": "某人", "counted_by": "王芳", "times": "0", "amount": "3", "note": "x",
    "in-kind": "donation", "in-qty": "1", "in-moved_on": "2026-11-05", "in-donor": "某人",
    "action": "receive", "key": "hostile-1",
}  # fmt: skip


def test_no_route_and_no_api_call_changes_or_reopens_a_closed_month(
    app, worked, login_as, api_token, make_user
):
    chair = login_as("chair")
    assert close(chair).status_code == 302
    with app.app_context():
        village = home_village(db.session)
        before = close_of(db.session, village.id, MONTH)
        sha, closed_at = before.sha256, before.closed_at
        from pointsmart.households.models import Household
        from pointsmart.scoring.models import ScoringRound
        from pointsmart.shop.models import Goods, Redemption

        sample = {
            "round_id": db.session.scalar(sa.select(ScoringRound.id)),
            "household_id": db.session.scalar(sa.select(Household.id)),
            "goods_id": db.session.scalar(sa.select(Goods.id)),
            "redemption_id": db.session.scalar(sa.select(Redemption.id)),
            "month": MONTH,
        }
        counts = {f"count_{goods_id}": "0" for goods_id in db.session.scalars(sa.select(Goods.id))}
    endpoints = [r.endpoint for r in app.url_map.iter_rules()]
    assert not [e for e in endpoints if e.startswith("closing.") and ("reopen" in e or "open" in e)]
    token = api_token("chair")
    tried, refused = 0, {}
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "auth.logout", r.rule))
    for rule in rules:
        if rule.endpoint.startswith(("county.", "static")) or rule.endpoint == "api.sync_batch":
            continue
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if not methods or any(a not in sample for a in rule.arguments):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(sample[name])).replace(f"<{name}>", str(sample[name]))
        for method in methods:
            if rule.endpoint.startswith("api."):
                response = app.test_client().open(
                    url, method=method, json=HOSTILE, headers={"Authorization": f"Bearer {token}"}
                )
            else:
                response = chair.open(url, method=method, data=HOSTILE | counts)
            assert response.status_code < 500, (rule.endpoint, response.status_code)
            text = response.get_data(as_text=True)
            if response.status_code == 302 and not rule.endpoint.startswith("api."):
                # a refusal flashed on the page it sends back to (read now, so it is not shown later)
                text = chair.get(response.headers["Location"]).get_data(as_text=True)
            if "已经月结" in text:
                refused[rule.endpoint] = response.status_code
            tried += 1
    assert tried > 30
    # the forms that date a record in November are refused, in words
    assert {"shop.stock", "shop.stocktake", "scoring.create_round"} <= refused.keys(), refused
    assert refused["shop.stock"] == 409, refused
    with app.app_context():
        after = close_of(db.session, village.id, MONTH)
        assert (after.sha256, after.closed_at) == (sha, closed_at)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MonthClose)) == 1
        assert month.digest(month.month_figures(db.session, village.id, MONTH)) == sha
    # a second chair cannot close it again, nor open it: there is nothing to press
    other = login_as("chair")
    assert close(other).status_code == 409
    assert other.post(f"/closing/{MONTH}/reopen").status_code in (404, 405)
    assert app.test_client().post(
        f"/api/v1/closing/{MONTH}/reopen", headers={"Authorization": f"Bearer {token}"}
    ).status_code in (404, 405)


def test_bad_months_and_other_roles_are_refused(app, worked, login_as):
    for role in ("shopkeeper", "panel"):
        client = login_as(role)
        assert client.get("/closing/").status_code == 403
        assert close(client).status_code == 403
    chair = login_as("chair")
    for bad in ("2026-13", "x" * 500, "1999-01", "２０２６年１３月"):
        response = close(chair, bad)
        assert response.status_code in (404, 422), (bad, response.status_code)
        text = response.get_data(as_text=True)
        assert "月份“" in text and "应写成 2026-11" in text  # the refusal names the field, cut short
        assert f"月份“{bad}”" not in text or len(bad) <= 20
    assert chair.post(f"/closing/{MONTH}/carry/999999").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MonthClose)) == 0


@pytest.mark.parametrize("tamper", ["transfer", "none"])
def test_the_county_rebuilds_a_closed_months_figures_and_compares_the_hashes(
    app, county_app, worked, login_as, tamper
):
    chair = login_as("chair")
    assert close(chair).status_code == 302
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    with app.app_context():
        closed = close_of(db.session, home_village(db.session).id, MONTH)
        village_sha, village_figures = closed.sha256, json.loads(closed.figures)
    with county_app.app_context():
        session = db.session
        village_id = session.scalar(sa.select(SyncedMonthClose.village_id))
        synced = session.scalars(sa.select(SyncedMonthClose)).one()
        assert (synced.month, synced.sha256) == (MONTH, village_sha)
        rows = {m.month: m for m in county_months(session, village_id)}
        assert rows[MONTH].county_sha256 == rows[MONTH].village_sha256 == village_sha
        assert rows[MONTH].agrees is True
        # the same structure, figure by figure (the book's county copy reads it)
        assert county_month_figures(session, village_id, MONTH) == village_figures
        if tamper == "transfer":
            first = session.scalars(
                sa.select(SyncedTransfer).where(SyncedTransfer.kind == "award").order_by(SyncedTransfer.id)
            ).first()
            first.amount += 1
            session.commit()
            rows = {m.month: m for m in county_months(session, village_id)}
            assert rows[MONTH].county_sha256 != village_sha and rows[MONTH].agrees is False
        from pointsmart.auth.services import create_user

        create_user(session, "county-reader", "county_reviewer", PASSWORD)
        session.commit()
    reader = county_app.test_client()
    assert reader.post("/login", data={"username": "county-reader", "password": PASSWORD}).status_code == 302
    page = reader.get(f"/county/villages/{VILLAGE_CODE}").get_data(as_text=True)
    section = page[page.index('id="month-close"') :]
    assert village_sha in section
    assert "村里的账目校验码" in section and "指纹" not in section
    assert ("不一致" in section) == (tamper == "transfer")
    assert "一致" in section


def test_the_chairs_home_names_the_month_waiting_to_close(app, worked, login_as):
    chair = login_as("chair")
    home = chair.get("/").get_data(as_text=True)
    assert "2026年11月已经过完，可以月结了。" in home and f'href="/closing/#m-{MONTH}"' in home
    assert close(chair).status_code == 302
    assert "可以月结了" not in chair.get("/").get_data(as_text=True)  # December is not over yet


def test_the_book_kept_at_the_close_is_what_its_workbook_serves_and_a_changed_file_is_refused(
    app, worked, login_as
):
    chair = login_as("chair")
    chair.get("/lang/en")  # the chair reads English; the kept book is the village's, in Chinese
    assert close(chair).status_code == 302
    with app.app_context():
        done = close_of(db.session, home_village(db.session).id, MONTH)
        kept = Path(app.instance_path) / "books" / VILLAGE_CODE / f"{MONTH}.xlsx"
        assert done.book_sha256 == hashlib.sha256(kept.read_bytes()).hexdigest()
    served = chair.get(f"/ledgers/book/{MONTH}.xlsx")
    assert served.status_code == 200 and served.data == kept.read_bytes()
    sheets = openpyxl.load_workbook(io.BytesIO(served.data)).sheetnames
    assert "积分兑换（领取）台账" in sheets or any("兑换" in name for name in sheets), sheets
    cover = chair.get(f"/ledgers/book/{MONTH}").get_data(as_text=True)
    assert done.sha256 in cover and done.book_sha256 in cover
    # one name per hash, on every page that shows them
    chair.get("/lang/zh")
    cover = chair.get(f"/ledgers/book/{MONTH}").get_data(as_text=True)
    assert "账目校验码" in cover and "台账文件校验码" in cover and "指纹" not in cover
    closing = close_page(chair)
    assert "账目校验码" in closing and "指纹" not in closing
    public = chair.get(f"/accounts/{MONTH}").get_data(as_text=True)
    assert "账目校验码" in public and "台账文件校验码" in public and "台账汇编校验码" not in public
    # its first sheet, 封面: the village, the month, who closed it and when, the figures' hash, the sheets
    assert sheets[0] == "封面" and len(sheets) == 8
    lines = [
        row for row in openpyxl.load_workbook(io.BytesIO(served.data))["封面"].iter_rows(values_only=True)
    ]
    facts = {row[0]: row[1] for row in lines if row[0] and row[1]}
    assert facts["村"] == "测试县测试镇测试村" and facts["月份"] == "2026年11月" and facts["月结"] == "已月结"
    assert facts["月结人"] == chair.username and facts["月结时间"] == periods.local_text(done.closed_at)
    assert facts["账目校验码"] == done.sha256
    assert [row[1] for row in lines if isinstance(row[0], int)] == sheets[1:]
    # built again from the same records with the same close: the same bytes, the kept file's hash
    with app.test_request_context(), app.app_context():
        from pointsmart import book
        from pointsmart.scoring import notice_photos

        village = home_village(db.session)
        again = book.book_xlsx(
            book.month_book(db.session, village.id, periods.read_period(MONTH)),
            village,
            notice_photos.folder(),
            book.closing_of(db.session, done),
        )
    assert hashlib.sha256(again).hexdigest() == done.book_sha256
    kept.write_bytes(kept.read_bytes() + b"\0")  # changed on the disk after the close
    refused = chair.get(f"/ledgers/book/{MONTH}.xlsx")
    assert refused.status_code == 409 and refused.data != kept.read_bytes()


def test_a_receipt_counts_in_the_month_written_on_it_not_the_month_it_was_typed_in(app, worked):
    """A donation written down on 20 November and typed in on 3 December is November's, as the 爱心榜
    says; the stock at November's end holds it."""
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import Goods, MoveKind

    with app.app_context():
        village = home_village(db.session)
        goods = db.session.scalars(sa.select(Goods).order_by(Goods.id)).first()
        november = month.month_figures(db.session, village.id, MONTH)["goods"][goods.uuid]
        shop.receive_stock(
            db.session, goods, MoveKind.DONATION, 7, None, donor="补录的捐赠", moved_on=date(2026, 11, 20)
        )
        db.session.commit()
        after = month.month_figures(db.session, village.id, MONTH)["goods"][goods.uuid]
        assert after["donated"] == november["donated"] + 7 and after["stock"] == november["stock"] + 7
        december = month.month_figures(db.session, village.id, "2026-12")["goods"][goods.uuid]
        assert december["donated"] == 0 and december["stock"] == after["stock"]


def test_a_stocktake_typed_in_later_adjusts_the_month_it_is_dated_in(app, worked):
    """A count made on 30 November and typed in on 3 December (two towels short) is November's: the
    物资盘点台账 of November lists it, so November's figures hold its adjustment and end at the count —
    set against November's closing stock, not against what a loss on 3 December left."""
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import Goods, StockMove

    with app.app_context():
        village = home_village(db.session)
        goods = db.session.scalars(sa.select(Goods).where(Goods.stock > 3).order_by(Goods.id)).first()
        before = month.month_figures(db.session, village.id, MONTH)["goods"][goods.uuid]
        at_november_end = goods.stock
        shop.record_loss(db.session, goods, 1, "12月3日摔坏", None)  # December's own
        db.session.commit()
        counted = at_november_end - 2
        take = shop.record_stocktake(
            db.session, village.id, date(2026, 11, 30), "王芳", {goods.id: counted}, None
        )
        db.session.commit()
        assert [(line.recorded, line.counted) for line in take.lines] == [(at_november_end, counted)]
        move = db.session.scalar(sa.select(StockMove).where(StockMove.stocktake_id == take.id))
        assert (move.qty, move.moved_on) == (-2, date(2026, 11, 30))
        assert db.session.get(Goods, goods.id).stock == counted - 1
        november = month.month_figures(db.session, village.id, MONTH)["goods"][goods.uuid]
        assert november["stocktake"] == before["stocktake"] - 2
        assert november["stock"] == counted == before["stock"] - 2
        december = month.month_figures(db.session, village.id, "2026-12")["goods"][goods.uuid]
        assert (december["stocktake"], december["loss"], december["stock"]) == (0, 1, counted - 1)


def test_a_receipt_dated_in_october_makes_october_the_first_month_to_close(app, login_as):
    """The village's first record is soap typed in on 2 November, dated 28 October (the day on the
    paper): the figures count it in October, so October is the first month to close, before November."""
    from pointsmart.closing.services import first_month, month_to_close
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    set_clock(2026, 11, 2)
    with app.app_context():
        village = home_village(db.session)
        soap = shop.save_goods(db.session, village.id, {"name": "洗衣粉", "price": 10}, None)
        shop.receive_stock(db.session, soap, MoveKind.PURCHASE, 5, None, moved_on=date(2026, 10, 28))
        db.session.commit()
        assert first_month(db.session, village.id) == "2026-10"
        assert month.month_figures(db.session, village.id, "2026-10")["goods"][soap.uuid]["purchased"] == 5
    set_clock(2026, 12, 3)
    with app.app_context():
        waiting = month_to_close(db.session, home_village(db.session).id)
        assert waiting.month == "2026-10"
    chair = login_as("chair")
    assert "m-2026-10" in close_page(chair)
    refused = close(chair)  # November waits for October
    assert refused.status_code == 409 and "请先月结2026年10月" in refused.get_data(as_text=True)
