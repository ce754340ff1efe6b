"""The chair's village picture (村情概览): each figure from planted data, the page, its workbook, its
charts, and who may see it.

The scene spans three months: the clock is moved to the 2nd of the next month first, then a month at a
time, so each month's events fall where the test expects on any day the suite runs.
"""

import io
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.auth.services import create_user
from pointsmart.cards import services as cards
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points, reverse_transfer, set_household_active
from pointsmart.org.services import ensure_village, home_village
from pointsmart.periods import Period, today, zone
from pointsmart.picture import figures
from pointsmart.scoring import criteria, finalisation, panels, score_entry, workflow
from pointsmart.scoring.models import ScoringRound
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind

from .conftest import PASSWORD, committing


def to_next_month() -> Period:
    """Move the clock to 09:00 on the 2nd of next month (the villages' calendar); that month."""
    here = clock.utcnow().replace(tzinfo=UTC).astimezone(zone())
    month = Period.of(here.date()).next
    target = datetime.combine(month.start + timedelta(days=1), time(9), zone())
    clock.advance(target - here)
    assert today() == month.start + timedelta(days=1)
    return month


def _household(session, village_id, no, head, group):
    from pointsmart.households.services import create_household

    return create_household(
        session, village_id, {"household_no": no, "head_name": head, "group": group}, None
    )


def _redeem(session, village_id, household, goods_id, qty, operator):
    card = household_card(session, household)
    return redemptions.redeem(session, village_id, card, [(goods_id, qty)], operator)


def household_card(session, household):
    from pointsmart.cards.models import Card

    card = session.scalar(sa.select(Card).where(Card.household_id == household.id, Card.status == "active"))
    return card or cards.issue_card(session, household, None)


@pytest.fixture
def scene(app, village_id, make_user):
    """Households in four groups, three goods, and three months of points and redemptions:

    ====  =========================================================================================
    M0    A: paper-card balance 100 (opening); B: chair's award 20; a round finalised — A +5 and C +5
          (美丽庭院), C +6 (志愿服务), D −5 (美丽庭院, nothing to take: shortfall); A redeems 2 soap;
          B redeems 1 oil, cancelled; C −3 by the chair
    M1    A +10, C +20 by the chair; F +8, reversed; A redeems 1 soap and 1 oil
    M2    C redeems 3 soap; E (never earned) is deactivated
    ====  =========================================================================================

    The clock ends on the 2nd of M3, so M2 is the last complete month.
    """
    panel = [make_user("panel")[0], make_user("panel")[0], make_user("chair")[0]]
    m0 = to_next_month()
    with committing(app) as session:
        chair = session.get(User, panel[2])
        yard = criteria.save_category(session, village_id, {"name": "美丽庭院", "position": 1}, None)
        helping = criteria.save_category(session, village_id, {"name": "志愿服务", "position": 2}, None)
        criteria.save_criterion(session, yard, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None)
        criteria.save_criterion(session, yard, {"name": "乱堆乱放", "points": -5, "cadence": "monthly"}, None)
        criteria.save_criterion(
            session,
            helping,
            {"name": "志愿服务", "points": 3, "cadence": "monthly", "max_per_period": 4},
            None,
        )
        for user_id in panel:
            panels.set_panel_member(session, session.get(User, user_id), "执委", [], panel[2])
        h = SimpleNamespace(
            a=_household(session, village_id, "01-001", "王秀兰", "一社"),
            b=_household(session, village_id, "01-002", "李桂香", "一社"),
            c=_household(session, village_id, "02-001", "张玉梅", "二社"),
            d=_household(session, village_id, "10-001", "赵春花", "十社"),
            e=_household(session, village_id, "02-002", "刘淑珍", "二社"),
            f=_household(session, village_id, "99-001", "陈小红", ""),
        )
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 5}, None)
        oil = shop.save_goods(session, village_id, {"name": "食用油", "spec": "桶", "price": 20}, None)
        towel = shop.save_goods(session, village_id, {"name": "毛巾", "spec": "条", "price": 8}, None)
        for goods, qty in ((soap, 10), (oil, 3), (towel, 4)):
            shop.receive_stock(session, goods, MoveKind.DONATION, qty, None, donor="爱心企业")
        adjust_points(session, h.a, 100, "纸质积分卡余额结转", None)
        adjust_points(session, h.b, 20, "帮助邻居", None)
        found = workflow.create_round(session, home_village(session), "monthly", m0.key, "", panel[2])
        ids = {c.name: c.id for c in found.criteria}
        members = [session.get(User, i) for i in panel]
        for household, name, times in (
            (h.a, "庭院整洁", 1),
            (h.c, "庭院整洁", 1),
            (h.c, "志愿服务", 2),
            (h.d, "乱堆乱放", 1),
        ):
            score_entry.set_score(session, found, household.id, ids[name], times, members[0])
        workflow.submit_round(session, found, members[2])
        workflow.approve_round(session, found, members[0])
        workflow.approve_round(session, found, members[1])
        workflow.publish_round(session, found, panel[2])
        round_id, notice_days = found.id, found.notice_days
        ids = {k: v.id for k, v in vars(h).items()}
        goods = soap.id, oil.id, towel.id
    clock.advance(timedelta(days=notice_days, minutes=1))
    soap, oil, towel = goods

    def households(session):
        return SimpleNamespace(**{k: session.get(Household, v) for k, v in ids.items()})

    with committing(app) as session:
        assert finalisation.finalise_round(session, session.get(ScoringRound, round_id), panel[2])
        h = households(session)
        chair = session.get(User, panel[2])
        _redeem(session, village_id, h.a, soap, 2, chair)
        cancelled = _redeem(session, village_id, h.b, oil, 1, chair)
        redemptions.cancel_redemption(session, cancelled, "拿错了", chair)
        adjust_points(session, h.c, -3, "损坏公物", None)
    assert Period.of(today()) == m0
    m1 = to_next_month()
    with committing(app) as session:
        h = households(session)
        chair = session.get(User, panel[2])
        adjust_points(session, h.a, 10, "志愿活动", None)
        adjust_points(session, h.c, 20, "卫生评比", None)
        mistaken = adjust_points(session, h.f, 8, "临时奖励", None)
        reverse_transfer(session, h.f, mistaken.id, "记错了户", panel[2])
        _redeem(session, village_id, h.a, soap, 1, chair)
        _redeem(session, village_id, h.a, oil, 1, chair)
    m2 = to_next_month()
    with committing(app) as session:
        h = households(session)
        chair = session.get(User, panel[2])
        _redeem(session, village_id, h.c, soap, 3, chair)
        set_household_active(session, h.e, False, None)
    m3 = to_next_month()
    return SimpleNamespace(m0=m0, m1=m1, m2=m2, m3=m3, village_id=village_id, goods=goods)


# --- the figures ------------------------------------------------------------------------------------


def test_points_by_month_split_issued_redeemed_deducted_and_opening_balances(app, scene):
    with app.app_context():
        rows = figures.monthly_points(db.session, scene.village_id, scene.m2)
    assert [r.month for r in rows][-3:] == [scene.m0.key, scene.m1.key, scene.m2.key]
    assert len(rows) == 12 and all(not (r.issued or r.redeemed or r.opening or r.deducted) for r in rows[:9])
    by_month = {r.month: (r.issued, r.redeemed, r.deducted, r.opening) for r in rows}
    # M0: 20 by hand + 16 by the round; 10 redeemed (the oil came back); 3 deducted (D's 5 found nothing)
    assert by_month[scene.m0.key] == (36, 10, 3, 100)
    # M1: 10 + 20, and F's 8 out and back again; 5 + 20 redeemed
    assert by_month[scene.m1.key] == (30, 25, 0, 0)
    assert by_month[scene.m2.key] == (0, 15, 0, 0)


def test_participation_counts_households_that_earned_in_the_month_by_group(app, scene):
    with app.app_context():
        m1 = figures.participation(db.session, scene.village_id, scene.m1)
        m0 = figures.participation(db.session, scene.village_id, scene.m0)
        m2 = figures.participation(db.session, scene.village_id, scene.m2)
    # groups counted as people count them (一社, 二社, 十社), those without one last; E is no longer active
    assert [(r.group, r.households, r.earned) for r in m1] == [
        ("一社", 2, 1),
        ("二社", 1, 1),
        ("十社", 1, 0),
        ("", 1, 1),  # F: an award was posted to it (reversed later), as the county counts it
    ]
    # M0: the opening balance is not earning (A earned by the round); B by hand, C by the round; D only lost
    assert [(r.group, r.earned) for r in m0] == [("一社", 2), ("二社", 1), ("十社", 0), ("", 0)]
    assert [r.earned for r in m2] == [0, 0, 0, 0]
    assert m1[0].participation == 0.5 and figures.total_of(m1).participation == 3 / 5


def test_points_by_category_are_the_rounds_that_took_effect_in_the_month(app, scene):
    with app.app_context():
        m0 = figures.points_by_category(db.session, scene.village_id, scene.m0)
        m1 = figures.points_by_category(db.session, scene.village_id, scene.m1)
    assert [(r.category, r.awarded, r.deducted, r.net) for r in m0] == [
        ("美丽庭院", 10, 5, 5),
        ("志愿服务", 6, 0, 6),
    ]
    assert m1 == []


def test_goods_most_redeemed_count_units_net_of_cancellations(app, scene):
    with app.app_context():
        m0 = figures.top_goods(db.session, scene.village_id, scene.m0)
        m1 = figures.top_goods(db.session, scene.village_id, scene.m1)
        m2 = figures.top_goods(db.session, scene.village_id, scene.m2)
    assert [(g.label, g.qty) for g in m0] == [("洗衣粉 袋", 2)]  # the oil came back the same month
    assert sorted((g.name, g.qty) for g in m1) == [("洗衣粉", 1), ("食用油", 1)]
    assert [(g.name, g.qty) for g in m2] == [("洗衣粉", 3)]


def test_stock_runs_out_at_the_last_three_months_pace_and_unredeemed_goods_never_do(app, scene):
    with app.app_context():
        rows = figures.stock_outlook(db.session, scene.village_id, scene.m2)
    days = (scene.m2.end - scene.m0.start).days
    soap, oil, towel = rows
    # soap: 10 − 2 − 1 − 3 = 4 left, 6 redeemed in three months: 2 a month, 2 months left
    assert (soap.name, soap.stock, soap.redeemed, soap.per_month, soap.months_left) == (
        "洗衣粉",
        4,
        6,
        2.0,
        2.0,
    )
    assert soap.runs_out_on == scene.m2.end + timedelta(days=round(4 * days / 6))
    # oil: 3 − 1 + 1 − 1 = 2 left, 1 redeemed (net): 6 months
    assert (oil.name, oil.stock, oil.redeemed, oil.months_left) == ("食用油", 2, 1, 6.0)
    assert (towel.name, towel.stock, towel.runs_out, towel.months_left, towel.runs_out_on) == (
        "毛巾",
        4,
        False,
        None,
        None,
    )


def test_stock_is_counted_at_the_months_end(app, scene):
    with app.app_context():
        rows = {r.name: r for r in figures.stock_outlook(db.session, scene.village_id, scene.m0)}
    assert (rows["洗衣粉"].stock, rows["洗衣粉"].redeemed) == (8, 2)  # later months' redemptions not yet out
    assert (rows["食用油"].stock, rows["食用油"].runs_out) == (3, False)


def test_quiet_households_earned_nothing_in_three_months(app, scene):
    with app.app_context():
        m2 = figures.quiet_households(db.session, scene.village_id, scene.m2)
        m3 = figures.quiet_households(db.session, scene.village_id, scene.m3)
    # D only lost points, F's award was reversed, E is no longer active
    assert [(q.household_no, q.head_name, q.group, q.last_earned) for q in m2] == [
        ("10-001", "赵春花", "十社", None),
        ("99-001", "陈小红", "", None),
    ]
    # three months later B's award of M0 is out of the window: B joins, with the day it last earned
    assert [(q.household_no, q.last_earned) for q in m3] == [
        ("01-002", scene.m0.start + timedelta(days=1)),
        ("10-001", None),
        ("99-001", None),
    ]


# --- the page, the workbook, the charts -------------------------------------------------------------


def test_chair_sees_the_last_complete_month_by_default(app, scene, login_as):
    chair = login_as("chair")
    html = chair.get("/picture/").get_data(as_text=True)
    assert scene.m2.label() in html and "这个月还没有结束" not in html
    assert 'id="stat-households">5<' in html and 'id="stat-quiet">2<' in html
    assert f'src="/picture/charts/trend.svg?month={scene.m2.key}"' in html
    assert "赵春花" in html and "陈小红" in html and "王秀兰" not in html.split('id="quiet"')[1]
    current = chair.get(f"/picture/?month={scene.m3.key}").get_data(as_text=True)
    assert "这个月还没有结束" in current and 'rel="next"' not in current


def test_the_workbook_holds_every_table_with_the_figures(app, scene, login_as):
    chair = login_as("chair")
    response = chair.get(f"/picture/export/all.xlsx?month={scene.m1.key}")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == [
        "每月发放与兑换",
        "各村民小组参与率",
        "各类别积分",
        "兑换最多的商品",
        "库存还能用多久",
        "连续 3 个月没有得分的农户",
    ]

    def rows(name):
        """The sheet's rows under its headings (the lines of notes under the table left out)."""
        return [r for r in book[name].iter_rows(min_row=3, values_only=True) if any(r[1:])]

    assert scene.m1.label() in book["每月发放与兑换"]["A1"].value
    trend = {r[0]: r[1:] for r in rows("每月发放与兑换")}
    assert trend[scene.m0.key] == (36, 10, 3, 100) and trend[scene.m1.key] == (30, 25, 0, 0)
    groups = rows("各村民小组参与率")
    assert (
        groups[0] == ("一社", 2, 1, 0.5)
        and groups[3][0] == "（未分组）"
        and groups[-1] == ("全村", 5, 3, 0.6)
    )
    assert rows("各类别积分") == []  # no round took effect in M1
    stock = {r[0]: r for r in rows("库存还能用多久")}
    assert stock["毛巾"][-1] == "不会用完" and stock["毛巾"][-2] is None
    assert stock["洗衣粉"][2:6] == (7, 3, 1.0, 7.0)
    one = openpyxl.load_workbook(
        io.BytesIO(chair.get(f"/picture/export/goods.xlsx?month={scene.m2.key}").data)
    )
    assert one.sheetnames == ["兑换最多的商品"] and list(
        one.active.iter_rows(min_row=3, values_only=True)
    ) == [("洗衣粉", "袋", 3)]
    assert chair.get("/picture/export/nothing.xlsx").status_code == 404


def test_charts_are_svg_and_an_empty_one_says_so(app, scene, login_as):
    chair = login_as("chair")
    for name in ("trend", "groups", "categories", "goods", "stock"):
        response = chair.get(f"/picture/charts/{name}.svg?month={scene.m0.key}")
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert "script" not in response.get_data(as_text=True)
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    goods = chair.get(f"/picture/charts/goods.svg?month={scene.m0.key}").get_data(as_text=True)
    assert "洗衣粉 袋" in goods
    categories = chair.get(f"/picture/charts/categories.svg?month={scene.m1.key}").get_data(as_text=True)
    assert "本期暂无数据" in categories
    assert chair.get("/picture/charts/pie.svg").status_code == 404


def test_a_village_whose_ledger_began_this_month_opens_on_this_month(app, make_household, login_as):
    make_household(points=120)  # a new village: its first points were carried over today
    html = login_as("chair").get("/picture/").get_data(as_text=True)
    assert Period.of(today()).label() in html and "这个月还没有结束" in html
    clock.advance(timedelta(days=40))  # a month on, the last complete month has the figures again
    later = login_as("chair").get("/picture/").get_data(as_text=True)
    assert "这个月还没有结束" not in later


def test_an_empty_village_says_so_in_words(app, login_as):
    html = login_as("chair").get("/picture/").get_data(as_text=True)
    for words in (
        "本期暂无数据",
        "还没有登记农户。",
        "本月没有生效的评定。",
        "本月没有兑换。",
        "还没有在售的商品。",
        "这时还没有登记的农户。",
    ):
        assert words in html
    assert '<img class="chart"' not in html


def test_a_mistyped_month_is_named_and_the_default_shown(app, login_as):
    chair = login_as("chair")
    response = chair.get("/picture/?month=2026-13")
    assert response.status_code == 302 and response.headers["Location"].endswith("/picture/")
    assert "月份“2026-13”不对" in chair.get("/picture/").get_data(as_text=True)
    ahead = chair.get("/picture/?month=2030-01")  # a month not yet come is not shown as if it had
    assert ahead.status_code == 302
    assert "2030年1月 还没到" in chair.get("/picture/").get_data(as_text=True)


# --- who may see it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/picture/", "/picture/export/all.xlsx", "/picture/charts/trend.svg"])
def test_only_this_villages_chair_may_see_the_picture(app, make_user, login_as, path):
    assert login_as("chair").get(path).status_code == 200
    assert login_as("panel").get(path).status_code == 403
    assert login_as("shopkeeper").get(path).status_code == 403
    anonymous = app.test_client().get(path)
    assert anonymous.status_code == 302 and "/login?next=" in anonymous.headers["Location"]
    with committing(app) as session:
        other = ensure_village(session, "620123105201", "邻村")
        create_user(session, "other-chair", "chair", PASSWORD, "邻村主席", village_id=other.id)
    client = app.test_client()
    assert client.post("/login", data={"username": "other-chair", "password": PASSWORD}).status_code == 302
    assert client.get(path).status_code == 403


def test_the_chairs_home_and_menu_lead_to_the_picture(app, login_as):
    html = login_as("chair").get("/").get_data(as_text=True)
    assert 'id="home-picture" href="/picture/"' in html and '<a href="/picture/" >村情概览</a>' in html
    panel = login_as("panel").get("/").get_data(as_text=True)
    assert "/picture/" not in panel


def test_goods_unknown_to_the_village_are_not_in_its_picture(app, scene):
    """Goods of the village only: another village's goods in the same database stay out."""
    with committing(app) as session:
        other = ensure_village(session, "620123105202", "邻村")
        session.add(Goods(village_id=other.id, name="大米", spec="袋", price=30, stock=0))
    with app.app_context():
        names = {r.name for r in figures.stock_outlook(db.session, scene.village_id, scene.m2)}
    assert names == {"洗衣粉", "食用油", "毛巾"}


def test_households_that_earned_are_counted_as_the_county_dashboard_counts_them(
    app, scene, county_app, login_as
):
    """得分农户 is one figure, one label: the village picture's count of a month equals the county
    dashboard's for that village and month, after sync (F's award, reversed later, counts in both)."""
    from pointsmart.county import dashboard as board
    from pointsmart.county import services as county

    from .sync_support import push_all

    with app.app_context():
        village = home_village(db.session)
        code, name = village.code, village.name
        village_counts = {
            m.key: figures.total_of(figures.participation(db.session, village.id, m)).earned
            for m in (scene.m0, scene.m1, scene.m2)
        }
    with county_app.app_context():
        key = county.add_village(db.session, code, name, code[:9] + "000", "测试镇")[1]
        reviewer = create_user(db.session, "reviewer-earned", "county_reviewer", PASSWORD)
        db.session.commit()
    push_all(app, county_app.test_client(), key)
    with county_app.app_context():
        reviewer = db.session.merge(reviewer)
        county_counts = {
            m: board.overview(
                db.session, reviewer, Period.of(datetime.strptime(m, "%Y-%m").date())
            ).totals.earned_households
            for m in village_counts
        }
    assert county_counts == village_counts and village_counts[scene.m1.key] == 3

    label = "得分农户（本期至少一笔加分入账）"
    assert label in login_as("chair").get(f"/picture/?month={scene.m1.key}").get_data(as_text=True)
    county_client = county_app.test_client()
    county_client.post("/login", data={"username": "reviewer-earned", "password": PASSWORD})
    page = county_client.get(f"/county/?type=month&key={scene.m1.key}").get_data(as_text=True)
    assert label in page and f'id="stat-earned">{village_counts[scene.m1.key]}<' in page
