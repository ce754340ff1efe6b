"""The year-end rule for points: keep (the default), clear at year end, expire N months after earning.

Expiry is posted as ordinary transfers to the expiry account, oldest points first; a rule change
applies only to points earned after it; a second run posts nothing. The chair picks the rule on the
settings page; the family's card page and the counter's receipt say what expires within a month; the
county receives the expired points in its expired column.
"""

import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.audit.models import AuditEntry
from pointsmart.audit.sentences import Names, sentence
from pointsmart.auth.models import User
from pointsmart.auth.services import create_user
from pointsmart.cards import services as cards
from pointsmart.county.models import VillageMonth
from pointsmart.errors import Invalid
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Account, AccountKind, Transfer, TransferKind
from pointsmart.org.models import Village
from pointsmart.periods import add_months, day_window, local_day, today
from pointsmart.settings import expiry
from pointsmart.settings.models import PointsRule, PointsRuleKind
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from .conftest import PASSWORD, VILLAGE_CODE, committing
from .sync_support import county_totals, push_all, register, village_totals

KEEP, YEAR_END, MONTHS = PointsRuleKind.KEEP, PointsRuleKind.YEAR_END, PointsRuleKind.MONTHS


# --- helpers ----------------------------------------------------------------------------------------


def go_to(day: date, hour: int = 1) -> None:
    """Move the app's clock forward to ``hour`` o'clock on the villages' ``day``."""
    target = day_window(day)[0] + timedelta(hours=hour)
    now = clock.utcnow()
    assert target > now, f"{target} is not ahead of {now}"
    clock.advance(target - now)


def account_of(session, household_id: int) -> Account:
    return session.get(Account, session.get(Household, household_id).account_id)


def award(session, household_id: int, points: int) -> Transfer:
    issuance = ledger.system_account(session, AccountKind.ISSUANCE)
    return ledger.post(
        session, issuance, account_of(session, household_id), points, TransferKind.AWARD, "美丽庭院"
    )


def spend(session, household_id: int, points: int) -> Transfer:
    shop_account = ledger.system_account(session, AccountKind.SHOP)
    return ledger.post(
        session, account_of(session, household_id), shop_account, points, TransferKind.REDEMPTION, "兑换"
    )


def balance(session, household_id: int) -> int:
    return ledger.balance_of(session, session.get(Household, household_id).account_id)


def expired_transfers(session, household_id: int) -> list[int]:
    account_id = session.get(Household, household_id).account_id
    return list(
        session.scalars(
            sa.select(Transfer.amount)
            .where(Transfer.from_account_id == account_id, Transfer.kind == TransferKind.EXPIRY)
            .order_by(Transfer.id)
        )
    )


def run(session, **kwargs) -> int:
    """Post what is due (committed); return the points posted."""
    report = expiry.expire_points(session, **kwargs)
    session.commit()
    return report.points


def choose(session, rule: str, months: int | None = None) -> None:
    expiry.set_rule(session, None, rule, months)
    session.commit()


# --- the rules, through the service ------------------------------------------------------------------


def test_by_default_points_never_expire_and_nothing_is_read(ctx, make_household):
    hid = make_household(points=100)
    assert (
        expiry.current_rule(ctx) == expiry.KEEP and ctx.scalar(sa.select(sa.func.count(PointsRule.id))) == 0
    )
    go_to(add_months(today(), 40))
    assert run(ctx) == 0
    assert balance(ctx, hid) == 100 and expired_transfers(ctx, hid) == []
    assert expiry.expiring_soon(ctx, account_of(ctx, hid).id) == []


def test_an_explicit_keep_rule_after_an_expiring_one_keeps_later_points(ctx, make_household):
    hid = make_household()
    choose(ctx, MONTHS, 1)
    go_to(today() + timedelta(days=1))
    choose(ctx, KEEP)
    go_to(today() + timedelta(days=1))
    award(ctx, hid, 70)
    ctx.commit()
    go_to(add_months(today(), 30))
    assert run(ctx) == 0 and balance(ctx, hid) == 70


def test_year_end_clears_what_is_left_of_the_years_points_on_new_years_day(ctx, make_household):
    hid, other = make_household(), make_household()
    choose(ctx, YEAR_END)
    award(ctx, hid, 100)
    award(ctx, other, 20)
    spend(ctx, hid, 30)
    ctx.commit()
    year = today().year
    go_to(date(year, 12, 31), hour=23)
    assert run(ctx) == 0  # still spendable on 31 December
    go_to(date(year + 1, 1, 1))
    report = expiry.expire_points(ctx)
    ctx.commit()
    assert sorted(report.expired) == sorted([(account_of(ctx, hid).id, 70), (account_of(ctx, other).id, 20)])
    assert balance(ctx, hid) == 0 and balance(ctx, other) == 0
    (posted,) = ctx.scalars(
        sa.select(Transfer).where(Transfer.kind == TransferKind.EXPIRY, Transfer.amount == 70)
    ).all()
    assert posted.to_account_id == ledger.system_account(ctx, AccountKind.EXPIRY).id
    assert posted.reason == f"积分到期：{year}年12月31日 及以前到期的积分"
    assert ledger.balance_of(ctx, posted.to_account_id) == 90
    # idempotent: a second run, the same day or later, posts nothing new
    assert run(ctx) == 0
    go_to(date(year + 1, 1, 2))
    assert run(ctx) == 0 and expired_transfers(ctx, hid) == [70]
    assert ledger.verify(ctx).ok
    entry = ctx.scalars(sa.select(AuditEntry).where(AuditEntry.action == "ledger.expiry")).one()
    assert sentence(entry, Names(ctx)) == "系统按积分到期规则清掉了 2 户共 90 分到期的积分"


def test_year_end_points_earned_in_the_new_year_stay_until_its_end(ctx, make_household):
    hid = make_household()
    choose(ctx, YEAR_END)
    award(ctx, hid, 40)
    ctx.commit()
    year = today().year
    go_to(date(year + 1, 1, 1), hour=0)
    award(ctx, hid, 25)  # earned a minute into the new year, before the daily job ran
    ctx.commit()
    go_to(date(year + 1, 1, 1), hour=3)
    assert run(ctx) == 40 and balance(ctx, hid) == 25
    go_to(date(year + 1, 12, 31), hour=12)
    assert run(ctx) == 0
    go_to(date(year + 2, 1, 1))
    assert run(ctx) == 25 and balance(ctx, hid) == 0


def test_n_months_spends_the_oldest_points_first(ctx, make_household):
    hid = make_household()
    choose(ctx, MONTHS, 2)
    first_day = today()
    award(ctx, hid, 50)  # A: earned first
    ctx.commit()
    second_day = add_months(first_day, 1)
    go_to(second_day)
    award(ctx, hid, 40)  # B
    spend(ctx, hid, 30)  # taken from A, the oldest: A has 20 left, B 40
    ctx.commit()
    go_to(add_months(first_day, 2), hour=23)
    assert run(ctx) == 0  # A's last day
    go_to(add_months(first_day, 2) + timedelta(days=1))
    assert run(ctx) == 20 and balance(ctx, hid) == 40
    assert run(ctx) == 0
    go_to(add_months(second_day, 2) + timedelta(days=1))
    assert run(ctx) == 40 and balance(ctx, hid) == 0
    assert expired_transfers(ctx, hid) == [20, 40]
    assert ledger.verify(ctx).ok


def test_a_redemption_after_the_day_but_before_the_job_is_not_taken_back(ctx, make_household):
    hid = make_household()
    choose(ctx, MONTHS, 1)
    start = today()
    award(ctx, hid, 60)
    ctx.commit()
    go_to(add_months(start, 1) + timedelta(days=3))
    spend(ctx, hid, 45)  # the server was off: the points were still on the card
    ctx.commit()
    assert run(ctx) == 15 and balance(ctx, hid) == 0


def test_a_rule_change_applies_only_to_points_earned_after_it(ctx, make_household):
    hid = make_household(points=100)  # earned under "keep"
    choose(ctx, MONTHS, 1)
    go_to(today() + timedelta(days=1))
    earned = today()
    award(ctx, hid, 50)
    spend(ctx, hid, 30)  # the oldest points first: from the 100 kept ones
    ctx.commit()
    go_to(add_months(earned, 1) + timedelta(days=1))
    assert run(ctx) == 50
    assert balance(ctx, hid) == 70  # what is left of the kept points stays
    go_to(add_months(today(), 50))
    assert run(ctx) == 0 and balance(ctx, hid) == 70
    # the stored history: one row, from the moment of the change
    (row,) = ctx.scalars(sa.select(PointsRule)).all()
    assert (row.rule, row.months) == (MONTHS, 1)


def test_changing_the_months_keeps_earlier_points_on_their_own_months(ctx, make_household):
    hid = make_household()
    choose(ctx, MONTHS, 6)
    start = today()
    award(ctx, hid, 30)  # 6 months
    ctx.commit()
    go_to(start + timedelta(days=1))
    choose(ctx, MONTHS, 1)
    award(ctx, hid, 20)  # 1 month
    ctx.commit()
    go_to(add_months(start + timedelta(days=1), 1) + timedelta(days=1))
    assert run(ctx) == 20 and balance(ctx, hid) == 30
    go_to(add_months(start, 6) + timedelta(days=1))
    assert run(ctx) == 30 and balance(ctx, hid) == 0


def test_a_reversed_award_never_expires_and_a_refund_counts_from_the_day_it_was_given_back(
    ctx, make_household
):
    hid = make_household()
    choose(ctx, MONTHS, 1)
    start = today()
    award(ctx, hid, 60)
    mistake = award(ctx, hid, 40)
    redemption = spend(ctx, hid, 60)  # the oldest 60: the first award
    ctx.commit()
    ledger.reverse(ctx, mistake.id, "录错了")  # the 40 were never earned
    ctx.commit()
    go_to(add_months(start, 1) - timedelta(days=2))
    refund_day = today()
    ledger.reverse(ctx, redemption.id, "退货")  # 60 back: counted as earned today
    ctx.commit()
    go_to(add_months(start, 1) + timedelta(days=1))
    assert run(ctx) == 0 and balance(ctx, hid) == 60
    go_to(add_months(refund_day, 1) + timedelta(days=1))
    assert run(ctx) == 60 and balance(ctx, hid) == 0
    assert ledger.verify(ctx).ok


def test_an_expiry_undone_by_the_chair_is_not_posted_again(ctx, make_household):
    hid = make_household()
    choose(ctx, MONTHS, 1)
    start = today()
    award(ctx, hid, 35)
    ctx.commit()
    go_to(add_months(start, 1) + timedelta(days=1))
    assert run(ctx) == 35
    posted = ctx.scalars(sa.select(Transfer).where(Transfer.kind == TransferKind.EXPIRY)).one()
    ledger.reverse(ctx, posted.id, "村里决定这次不清")
    ctx.commit()
    assert run(ctx) == 0 and balance(ctx, hid) == 35
    go_to(add_months(today(), 1) + timedelta(days=1))  # given back today: a new month from today
    assert run(ctx) == 35


def test_a_dry_run_counts_and_posts_nothing(ctx, make_household):
    hid = make_household()
    choose(ctx, MONTHS, 1)
    award(ctx, hid, 12)
    ctx.commit()
    go_to(add_months(today(), 1) + timedelta(days=1))
    report = expiry.expire_points(ctx, dry_run=True)
    ctx.commit()
    assert report.expired == [(account_of(ctx, hid).id, 12)]
    assert balance(ctx, hid) == 12 and expired_transfers(ctx, hid) == []


@pytest.mark.parametrize(
    ("rule", "months", "field"),
    [("months", 0, "months"), ("months", 121, "months"), ("months", None, "months"), ("never", None, "rule")],
)
def test_a_bad_rule_is_refused_naming_the_field(ctx, rule, months, field):
    with pytest.raises(Invalid) as refused:
        expiry.set_rule(ctx, None, rule, months)
    assert refused.value.extra["field"] == field
    ctx.rollback()
    assert ctx.scalar(sa.select(sa.func.count(PointsRule.id))) == 0


def test_the_same_rule_again_changes_nothing(ctx):
    assert expiry.set_rule(ctx, None, KEEP, None) is None
    assert expiry.set_rule(ctx, None, MONTHS, 12) is not None
    assert expiry.set_rule(ctx, None, MONTHS, 12) is None
    assert ctx.scalar(sa.select(sa.func.count(PointsRule.id))) == 1


def test_the_database_refuses_a_months_rule_without_months(ctx):
    ctx.add(PointsRule(rule=MONTHS, months=None, since=clock.utcnow()))
    with pytest.raises(sa.exc.IntegrityError):
        ctx.flush()
    ctx.rollback()


def test_what_expires_within_a_month_is_told_by_its_last_day(ctx, make_household):
    hid = make_household()
    account_id = account_of(ctx, hid).id
    choose(ctx, MONTHS, 2)
    start = today()
    award(ctx, hid, 30)
    ctx.commit()
    assert expiry.expiring_soon(ctx, account_id) == []  # two months away
    go_to(start + timedelta(days=10))
    award(ctx, hid, 15)  # its last day is ten days after the first's: beyond the month looked at
    spend(ctx, hid, 10)  # from the oldest: 20 of the first 30 are left
    ctx.commit()
    go_to(add_months(start, 1) + timedelta(days=1))
    last = add_months(start, 2)
    assert expiry.expiring_soon(ctx, account_id) == [expiry.Expiring(20, last)]
    assert expiry.Expiring(20, last).sentence == f"20 分将于 {last.year}年{last.month}月{last.day}日 到期"
    go_to(last + timedelta(days=1))  # the 20 are past their day (the daily job's now); the 15 come next
    assert expiry.expiring_soon(ctx, account_id) == [
        expiry.Expiring(15, add_months(start + timedelta(days=10), 2))
    ]


# --- the command and the server's daily job ---------------------------------------------------------


def test_the_command_expires_once_and_the_ledger_verifies(app, make_household):
    hid = make_household()
    with committing(app) as session:
        expiry.set_rule(session, None, YEAR_END, None)
        award(session, hid, 80)
    runner = app.test_cli_runner()
    assert "expired 0 points from 0 households" in runner.invoke(args=["ledger", "expire"]).output
    with app.app_context():
        next_year = today().year + 1
    go_to(date(next_year, 1, 1))
    dry = runner.invoke(args=["ledger", "expire", "--dry-run"])
    assert dry.exit_code == 0 and "would expire 80 points from 1 households" in dry.output
    assert "rule for points earned now: cleared at the end of each year" in dry.output
    done = runner.invoke(args=["ledger", "expire"])
    assert done.exit_code == 0 and "expired 80 points from 1 households" in done.output
    again = runner.invoke(args=["ledger", "expire"])
    assert "expired 0 points from 0 households" in again.output
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and "ledger OK" in verify.output
    with app.app_context():
        assert balance(db.session, hid) == 0 and expired_transfers(db.session, hid) == [80]


def test_the_servers_daily_job_expires_once_a_day(app, make_household):
    hid = make_household()
    with committing(app) as session:
        expiry.set_rule(session, None, MONTHS, 1)
        award(session, hid, 9)
        start = today()
    go_to(add_months(start, 1) + timedelta(days=1))
    assert expiry.run_due(app).points == 9
    assert expiry.run_due(app) is None  # done today in this process
    go_to(add_months(start, 1) + timedelta(days=2))
    assert expiry.run_due(app).points == 0
    with app.app_context():
        assert expired_transfers(db.session, hid) == [9]


# --- the settings page ------------------------------------------------------------------------------


def test_only_the_chair_sets_the_rule(login_as):
    for role in ("panel", "shopkeeper"):
        assert login_as(role).post("/settings/points-rule", data={"rule": "keep"}).status_code == 403


def test_the_chair_chooses_a_rule_and_the_change_is_audited_in_words(app, login_as):
    chair = login_as("chair")
    page = chair.get("/settings/").get_data(as_text=True)
    assert "现在的规则：一直有效。" in page and re.search(r'checked[^>]*value="keep"', page)
    response = chair.post("/settings/points-rule", data={"rule": "months", "months": "12"})
    assert response.status_code == 302
    page = chair.get("/settings/").get_data(as_text=True)
    assert "积分到期规则已改为：获得满 12 个月后过期" in page
    assert re.search(r"现在的规则：获得满 12 个月后过期（\d{4}-\d{2}-\d{2} 起获得的积分）", page)
    assert re.search(r'checked[^>]*value="months"', page) and 'value="12"' in page
    chair.post("/settings/points-rule", data={"rule": "year_end", "months": ""})
    with app.app_context():
        assert expiry.current_rule(db.session).rule == YEAR_END
        entries = db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "settings.points_rule.changed")
            .order_by(AuditEntry.id)
        ).all()
        names = Names(db.session)
        chair_name = db.session.get(User, chair.user_id).display_name
        assert [sentence(e, names) for e in entries] == [
            f"{chair_name} 把积分到期规则由“一直有效”改为“获得满 12 个月后过期”（只管以后获得的积分）",
            f"{chair_name} 把积分到期规则由“获得满 12 个月后过期”改为“每年年底清零”（只管以后获得的积分）",
        ]
    # the same rule again: nothing stored, nothing audited
    chair.post("/settings/points-rule", data={"rule": "year_end"})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PointsRule.id))) == 2


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"rule": "months", "months": "0"}, "有效月数"),
        ({"rule": "months", "months": "121"}, "有效月数"),
        ({"rule": "months", "months": "十二"}, "有效月数"),
        ({"rule": "months", "months": ""}, "有效月数"),
        ({"rule": "forever"}, "积分到期规则"),
        ({}, "积分到期规则"),
    ],
)
def test_a_bad_rule_on_the_page_is_refused_naming_the_field(app, login_as, data, named):
    response = login_as("chair").post("/settings/points-rule", data=data)
    assert response.status_code == 422
    assert named in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PointsRule.id))) == 0


def test_the_rule_form_needs_its_csrf_token(make_app, make_user):
    strict = make_app(WTF_CSRF_ENABLED=True)
    client = strict.test_client()
    _id, name = make_user("chair")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    refused = client.post("/settings/points-rule", data={"rule": "months", "months": "3"})
    assert refused.status_code == 400
    settings_page = client.get("/settings/").get_data(as_text=True)
    form = settings_page.split('id="points-rule"', 1)[1]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    accepted = client.post(
        "/settings/points-rule", data={"rule": "months", "months": "3", "csrf_token": token}
    )
    assert accepted.status_code == 302
    with strict.app_context():
        assert expiry.current_rule(db.session).months == 3


# --- what the family and the counter see ------------------------------------------------------------


@pytest.fixture
def carded(ctx, village_id, make_user, make_household):
    """A household with a card, 50 points under a one-month rule, and goods at the counter."""
    shopkeeper = make_user("shopkeeper")[0]
    hid = make_household()
    choose(ctx, MONTHS, 1)
    award(ctx, hid, 50)
    household = ctx.get(Household, hid)
    card = cards.issue_card(ctx, household, None)
    soap = shop.save_goods(ctx, village_id, {"name": "洗衣粉", "spec": "袋", "price": 20}, None)
    shop.receive_stock(ctx, soap, MoveKind.DONATION, 5, None, donor="爱心企业甲")
    found = {"token": card.token, "card_id": card.id, "soap_id": soap.id, "shopkeeper": shopkeeper}
    ctx.commit()  # nothing is read through ctx after this: its next statement would take the write lock
    return found | {"last": add_months(today(), 1)}


def test_the_family_page_says_what_expires_within_a_month(client, ctx, carded):
    last = carded["last"]
    page = client.get(f"/c/{carded['token']}").get_data(as_text=True)
    assert f"50 分将于 {last.year}年{last.month}月{last.day}日 到期" in page


def test_the_family_page_is_silent_when_nothing_expires_soon(client, ctx, make_household, village_id):
    hid = make_household(points=40)
    token = cards.issue_card(ctx, ctx.get(Household, hid), None).token
    ctx.commit()
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "到期" not in page


def test_the_receipt_says_what_is_left_to_expire(app, ctx, carded, village_id, login_as):
    card = cards.card_by_id(ctx, village_id, carded["card_id"])
    operator = ctx.get(User, carded["shopkeeper"])
    done_id = redemptions.redeem(ctx, village_id, card, [(carded["soap_id"], 1)], operator).id
    ctx.commit()
    last = carded["last"]
    page = login_as("shopkeeper").get(f"/shop/redemptions/{done_id}").get_data(as_text=True)
    assert f"30 分将于 {last.year}年{last.month}月{last.day}日 到期" in page


# --- the county -------------------------------------------------------------------------------------


def test_expired_points_reach_the_countys_expired_column(app, county_app, make_household):
    hid = make_household()
    with committing(app) as session:
        expiry.set_rule(session, None, MONTHS, 1)
        award(session, hid, 70)
        spend(session, hid, 25)
        start = today()
    go_to(add_months(start, 1) + timedelta(days=1))
    with committing(app) as session:
        assert expiry.expire_points(session).points == 45
        month = local_day(clock.utcnow()).strftime("%Y-%m")
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    assert county_totals(county_app) == village_totals(app)
    with county_app.app_context():
        village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        row = db.session.get(VillageMonth, (village.id, month))
        assert row.expired == 45
        assert db.session.scalar(sa.select(sa.func.sum(VillageMonth.expired))) == 45
        create_user(db.session, "reviewer-x", "county_reviewer", PASSWORD)
        db.session.commit()
    reviewer = county_app.test_client()
    assert reviewer.post("/login", data={"username": "reviewer-x", "password": PASSWORD}).status_code == 302
    page = reviewer.get(f"/county/villages/{VILLAGE_CODE}?type=month&key={month}").get_data(as_text=True)
    assert "本期扣减 0 分，过期 45 分。" in page


def test_deadlines_follow_the_rule_in_force_when_earned(app):
    with app.app_context():
        since = datetime(2030, 3, 1)
        rules = [expiry.Rule(KEEP, None, datetime(2029, 1, 1)), expiry.Rule(YEAR_END, None, since)]
        deadline_of = expiry.deadlines(rules)
        assert deadline_of(since - timedelta(seconds=1)) is None
        assert deadline_of(since) == day_window(date(2031, 1, 1))[0]
        assert deadline_of(datetime(2028, 5, 5)) is None  # before any rule: kept


def test_the_county_family_page_says_the_same_after_a_push(app, client, county_app, ctx, carded):
    """At home, through the county: the rule and the transfers came by sync, the sentence is the same."""
    from .sync_support import push_all, register

    push_all(app, county_app.test_client(), register(county_app))
    village_page = client.get(f"/c/{carded['token']}").get_data(as_text=True)
    county_page = county_app.test_client().get(f"/c/{carded['token']}").get_data(as_text=True)
    last = carded["last"]
    sentence = f"50 分将于 {last.year}年{last.month}月{last.day}日 到期"
    assert sentence in village_page and sentence in county_page
