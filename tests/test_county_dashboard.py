"""The county dashboard, filled through the real sync: two villages' own ledgers pushed to a county.

Village 甲村 (the test's village app) works through October and adds a little in November; village 乙村
(a second village instance on its own database) works through November; 丙村 is registered but has
never synced. Everything reaches the county through ``POST /api/v1/sync/batches`` and the ingest, and
every figure the dashboard shows is checked against the villages' own ledgers.
"""

import contextlib
import gzip
import io
import itertools
import os
import re
import shutil
import time
import uuid as uuid_mod
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from pointsmart import clock, create_app, periods
from pointsmart.auth.models import User
from pointsmart.auth.services import create_api_token, create_user
from pointsmart.county import dashboard as board
from pointsmart.county import drilldown, opening
from pointsmart.county import services as county
from pointsmart.county.models import HouseholdPeriod, VillageLink, VillageMonthCategory
from pointsmart.extensions import db, limiter
from pointsmart.households.models import Household
from pointsmart.ledger.models import Account, Transfer
from pointsmart.org.models import Village
from pointsmart.org.services import ensure_village, home_village
from pointsmart.periods import parse_period
from pointsmart.scoring.models import RoundResult, ScoringRound
from pointsmart.shop.models import Redemption, RedemptionLine, StockMove

from .conftest import PASSWORD, VILLAGE_CODE, _reset_postgresql, another_database, committing
from .sync_support import push_all, village_totals, workload

A_CODE, A_TOWNSHIP = VILLAGE_CODE, VILLAGE_CODE[:9] + "000"  # 甲镇 甲村
B_CODE, B_TOWNSHIP = "620123106201", "620123106000"  # 乙镇 乙村
C_CODE = "620123106202"  # 乙镇 丙村, registered, never synced


# --- a second village instance, on its own database --------------------------------------------------


@pytest.fixture(scope="session")
def second_village_database(database, tmp_path_factory):
    """A migrated database for another village (SQLite: the template again; PostgreSQL: a schema)."""
    yield from another_database(database, tmp_path_factory, "pm_village_b")


@pytest.fixture
def village_b(app, second_village_database, tmp_path):
    """乙村's own instance (``app`` first: it sets the instance folder and resets the clock)."""
    kind, source = second_village_database
    if kind == "sqlite":
        target = tmp_path / "village-b.sqlite3"
        shutil.copy(source, target)
        url = f"sqlite:///{target}"
    else:
        url = source
    other = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "WTF_CSRF_ENABLED": False})
    with other.app_context():
        if kind == "postgresql":
            _reset_postgresql()
        ensure_village(db.session, B_CODE, "乙村", township_name="乙镇", county_name="测试县")
        db.session.commit()
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def factories(app, user_prefix="b-", household_no="07", head="乙户", group="二社"):
    """``make_user`` and ``make_household`` for a village app, as ``tests/conftest.py`` has for ``app``."""
    numbers = itertools.count(1)
    with app.app_context():
        village_id = home_village(db.session).id

    def make_user(role="chair", username=None, village=True):
        name = username or f"{user_prefix}{role}{next(numbers)}"
        with committing(app) as session:
            user = create_user(
                session, name, role, PASSWORD, name, village_id=village_id if village else None
            )
            return user.id, name

    def make_household(points: int = 0, **fields):
        from pointsmart.households.services import adjust_points, create_household

        n = next(numbers)
        data = {"household_no": f"{household_no}-{n:03d}", "head_name": f"{head}{n}", "group": group} | fields
        with committing(app) as session:
            household = create_household(session, village_id, data, actor_id=None)
            if points:
                adjust_points(session, household, points, "开户积分", actor_id=None)
            return household.id

    return make_user, make_household


def set_clock(year: int, month: int, day: int, hour: int = 10) -> None:
    """Put the app's one clock at a local (China Standard Time) moment."""
    target = datetime(year, month, day, hour, tzinfo=periods.zone()).astimezone(UTC).replace(tzinfo=None)
    clock.advance(target - clock.utcnow())


def local_range(first: tuple[int, int], after: tuple[int, int]) -> tuple[datetime, datetime]:
    def utc(year, month):
        return datetime(year, month, 1, tzinfo=periods.zone()).astimezone(UTC).replace(tzinfo=None)

    return utc(*first), utc(*after)


# --- what the villages' own ledgers say ---------------------------------------------------------------


def _carried_over(reason: str) -> bool:
    """An opening balance from a paper card, as the villages write its reason (``开户积分``, ``…结转``)."""
    return any(mark in reason for mark in ("结转", "期初", "开户"))


def earned_households(app, start: datetime, end: datetime) -> set[str]:
    """Households the village's ledger awarded points to (a round or an adjustment) in [start, end),
    not counting opening balances carried over from paper cards."""
    issuance = sa.orm.aliased(Account)
    with app.app_context():
        rows = db.session.execute(
            sa.select(Account.code, Transfer.kind, Transfer.reason)
            .join(Transfer, Transfer.to_account_id == Account.id)
            .join(issuance, Transfer.from_account_id == issuance.id)
            .where(issuance.kind == "issuance", Transfer.kind.in_(("award", "adjustment")))
            .where(Transfer.created_at >= start, Transfer.created_at < end)
        )
        return {
            code.removeprefix("household:")
            for code, kind, reason in rows
            if not (kind == "adjustment" and _carried_over(reason))
        }


def opening_points(app) -> int:
    """The opening balances the village posted (adjustments from issuance marked as carried over)."""
    issuance = sa.orm.aliased(Account)
    with app.app_context():
        rows = db.session.execute(
            sa.select(Transfer.amount, Transfer.reason)
            .join(issuance, Transfer.from_account_id == issuance.id)
            .where(issuance.kind == "issuance", Transfer.kind == "adjustment")
        )
        return sum(amount for amount, reason in rows if _carried_over(reason))


def balances(app) -> dict[str, int]:
    with app.app_context():
        return {
            h.uuid: h.balance
            for h in db.session.scalars(sa.select(Household).where(Household.active.is_(True)))
        }


def goods_redeemed(app) -> dict[str, int]:
    """Units of each goods item in redemptions that were not cancelled."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(RedemptionLine.goods_name, sa.func.sum(RedemptionLine.qty))
            .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
            .where(Redemption.status == "done")
            .group_by(RedemptionLine.goods_name)
        )
        return {name: int(qty) for name, qty in rows}


def round_sums(app) -> tuple[int, int, int]:
    with app.app_context():
        awarded, deducted, shortfall = db.session.execute(
            sa.select(
                sa.func.sum(RoundResult.awarded),
                sa.func.sum(RoundResult.deducted),
                sa.func.sum(RoundResult.shortfall),
            )
        ).one()
        return int(awarded), int(deducted), int(shortfall)


def donated(app) -> int:
    with app.app_context():
        return int(
            db.session.scalar(sa.select(sa.func.sum(StockMove.qty)).where(StockMove.kind == "donation"))
        )


def minus(after: dict, before: dict) -> dict:
    return {key: after[key] - before[key] for key in ("issued", "redeemed", "deducted", "balance_sum")}


# --- the county, filled through sync -------------------------------------------------------------------


def build_filled(app, make_user, make_household, village_b, county_app) -> SimpleNamespace:
    """甲村 in October (+7 points in November), 乙村 in November, 丙村 silent; now is 2026-11-25."""
    keys = {}
    with county_app.app_context():
        for code, name, township, township_name in (
            (A_CODE, "甲村", A_TOWNSHIP, "甲镇"),
            (B_CODE, "乙村", B_TOWNSHIP, "乙镇"),
            (C_CODE, "丙村", B_TOWNSHIP, "乙镇"),
        ):
            keys[code] = county.add_village(db.session, code, name, township, township_name)[1]
        db.session.commit()
    county_client = county_app.test_client()

    set_clock(2026, 10, 5)
    a_made = workload(app, make_user, make_household, month="2026-10")
    a_october = village_totals(app)
    set_clock(2026, 10, 12)
    push_all(app, county_client, keys[A_CODE])

    set_clock(2026, 11, 3)
    b_user, b_household = factories(village_b)
    b_made = workload(village_b, b_user, b_household, month="2026-11")
    extra = b_household(head_name="王秀兰")
    with committing(village_b) as session:
        from pointsmart.households.services import adjust_points

        adjust_points(session, session.get(Household, extra), 40, "义务打扫村道", actor_id=None)
    set_clock(2026, 11, 4)
    with committing(app) as session:
        from pointsmart.households.services import adjust_points

        first = session.get(Household, session.scalar(sa.select(Household.id).order_by(Household.id)))
        adjust_points(session, first, 7, "志愿服务", actor_id=None)
        a_november_household = first.uuid
    set_clock(2026, 11, 5)
    push_all(app, county_client, keys[A_CODE])
    set_clock(2026, 11, 20)
    push_all(village_b, county_client, keys[B_CODE])
    set_clock(2026, 11, 25, hour=11)  # an hour past: a slow push on the 5th still counts 20 whole days
    with village_b.app_context():
        extra_uuid = db.session.get(Household, extra).uuid
    a_october = dict(a_october, opening=opening_points(app))  # all of 甲村's opening points are October's
    a, b = village_totals(app), village_totals(village_b)
    a["opening"], b["opening"] = a_october["opening"], opening_points(village_b)
    for totals in (a_october, a, b):  # what the county counts as issued: not the opening balances
        totals["earned"] = totals["issued"] - totals["opening"]
    return SimpleNamespace(
        keys=keys,
        a_made=a_made,
        b_made=b_made,
        a_october=a_october,
        a=a,
        b=b,
        a_november_household=a_november_household,
        b_extra=extra_uuid,
        app=app,
        village_b=village_b,
        county_app=county_app,
    )


@pytest.fixture
def filled_each(app, make_user, make_household, village_b, county_app):
    """The scenario built for one test, on that test's ``app`` and ``county_app`` (for tests that write
    to it, such as the browser's bundle upload)."""
    return build_filled(app, make_user, make_household, village_b, county_app)


def _module_app(kind: str, source, folder: Path, name: str, **config):
    """An app on a database of its own for the module: a copy of the migrated SQLite template, or a
    PostgreSQL schema of its own (fresh, so nothing to reset)."""
    if kind == "sqlite":
        target = folder / f"{name}.sqlite3"
        shutil.copy(source, target)
        source = f"sqlite:///{target}"
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": source, "TESTING": True, "WTF_CSRF_ENABLED": False, **config}
    )


@pytest.fixture(scope="module")
def filled_once(database, tmp_path_factory):
    """The scenario built once for the module, on three databases of its own (the function-scoped
    ``app`` and ``county_app`` of other tests here never touch them). Tests that use it only read, or
    put back what they change, so they do not depend on each other's writes."""
    folder = tmp_path_factory.mktemp("county-filled")
    with contextlib.ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        patch.setenv("POINTSMART_INSTANCE", str(folder / "instance"))
        sources = [
            stack.enter_context(
                contextlib.contextmanager(another_database)(database, tmp_path_factory, prefix)
            )
            for prefix in ("pm_filled_a", "pm_filled_b", "pm_filled_county")
        ]
        a = _module_app(*sources[0], folder, "village-a", POINTSMART_BASE_URL="http://pointsmart.test")
        b = _module_app(*sources[1], folder, "village-b")
        county_app = _module_app(
            *sources[2], folder, "county", POINTSMART_MODE="county", POINTSMART_BASE_URL="http://county.test"
        )
        for village_app, code, name, township in (
            (a, VILLAGE_CODE, "测试村", "测试镇"),
            (b, B_CODE, "乙村", "乙镇"),
        ):
            with committing(village_app) as session:
                ensure_village(session, code, name, township_name=township, county_name="测试县")
        clock.reset()
        limiter.reset()
        make_user, make_household = factories(a, user_prefix="", household_no="09", head="测试", group="一社")
        try:
            yield build_filled(a, make_user, make_household, b, county_app)
        finally:
            clock.reset()
            for each in (a, b, county_app):
                with each.app_context():
                    db.session.remove()
                    db.engine.dispose()


@pytest.fixture
def filled(filled_once):
    """The module's scenario, with the clock where the scenario left it (2026-11-25 11:00) and the
    log-in limiter fresh, as the function-scoped ``app`` fixture would have them."""
    set_clock(2026, 11, 25, hour=11)
    limiter.reset()
    yield filled_once
    clock.reset()


def county_user(county_app, role="county_reviewer", township=None) -> User:
    with county_app.app_context():
        user = create_user(
            db.session, f"{role}-{uuid_mod.uuid4().hex[:6]}", role, PASSWORD, township_code=township
        )
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


def login(county_app, user: User):
    client = county_app.test_client()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def queries(county_app, user: User, fn, *args):
    with county_app.app_context():
        return fn(db.session, db.session.get(User, user.id), *args)


# --- the figures ---------------------------------------------------------------------------------------


def test_period_totals_equal_the_villages_own_ledgers(filled):
    county_app = filled.county_app
    reviewer = county_user(county_app)
    a_november = minus(filled.a, filled.a_october)
    october = queries(county_app, reviewer, board.overview, parse_period("2026-10")).totals
    assert (october.issued, october.redeemed, october.deducted) == (
        filled.a_october["earned"],
        filled.a_october["redeemed"],
        filled.a_october["deducted"],
    )
    assert october.outstanding == filled.a_october["balance_sum"]
    assert (october.villages, october.reporting) == (3, 1)

    november = queries(county_app, reviewer, board.overview, parse_period("2026-11")).totals
    assert a_november["issued"] == 7
    assert november.issued == 7 + filled.b["earned"]
    assert november.redeemed == a_november["redeemed"] + filled.b["redeemed"]
    assert november.deducted == a_november["deducted"] + filled.b["deducted"]
    # outstanding: everything up to the end of November, the households' balances then
    assert november.outstanding == filled.a["balance_sum"] + filled.b["balance_sum"]
    assert november.reporting == 2

    for key in ("2026-Q4", "2026-H2", "2026"):
        totals = queries(county_app, reviewer, board.overview, parse_period(key)).totals
        assert totals.issued == filled.a["earned"] + filled.b["earned"], key
        assert totals.redeemed == filled.a["redeemed"] + filled.b["redeemed"], key
        assert totals.outstanding == filled.a["balance_sum"] + filled.b["balance_sum"], key
    # before anything happened, nothing is outstanding
    assert queries(county_app, reviewer, board.overview, parse_period("2026-09")).totals.outstanding == 0


def test_households_and_participation_count_who_earned(filled):
    app, county_app = filled.app, filled.county_app
    reviewer = county_user(county_app)
    october = local_range((2026, 10), (2026, 11))
    november = local_range((2026, 11), (2026, 12))
    a_households, b_households = balances(app), balances(filled.village_b)
    rows = {r.code: r for r in queries(county_app, reviewer, board.by_village, parse_period("2026-11"))}
    assert rows[A_CODE].households == len(a_households) == 4
    assert rows[B_CODE].households == len(b_households) == 5
    assert rows[C_CODE].households == 0 and rows[C_CODE].participation is None
    assert rows[A_CODE].earned_households == len(earned_households(app, *november)) == 1
    assert rows[B_CODE].earned_households == len(earned_households(filled.village_b, *november)) == 5
    quarter = queries(county_app, reviewer, board.overview, parse_period("2026-Q4")).totals
    everyone = earned_households(app, *october) | earned_households(app, *november)
    assert quarter.earned_households == len(everyone) + 5
    assert quarter.participation == pytest.approx(quarter.earned_households / 9)


def test_townships_add_up_their_villages_and_a_township_reviewer_sees_only_theirs(filled):
    app, county_app = filled.app, filled.county_app
    everyone = county_user(county_app, "county_admin")
    period = parse_period("2026-11")
    townships = {t.code: t for t in queries(county_app, everyone, board.by_township, period)}
    assert set(townships) == {A_TOWNSHIP, B_TOWNSHIP}
    assert (townships[B_TOWNSHIP].villages, townships[B_TOWNSHIP].reporting) == (2, 1)
    assert townships[B_TOWNSHIP].issued == filled.b["earned"]
    assert townships[A_TOWNSHIP].issued == 7

    limited = county_user(county_app, "county_reviewer", township=A_TOWNSHIP)
    totals = queries(county_app, limited, board.overview, period)
    assert totals.scope == "甲镇"
    assert (totals.totals.villages, totals.totals.households, totals.totals.issued) == (1, 4, 7)
    assert totals.totals.outstanding == filled.a["balance_sum"]
    assert [r.code for r in queries(county_app, limited, board.by_village, period)] == [A_CODE]
    assert [t.code for t in queries(county_app, limited, board.by_township, period)] == [A_TOWNSHIP]
    quarter = parse_period("2026-Q4")
    assert sum(g.qty for g in queries(county_app, limited, board.top_goods, quarter)) == sum(
        goods_redeemed(app).values()
    )
    assert (
        sum(m.issued for m in queries(county_app, limited, board.monthly_trend, quarter))
        == filled.a["earned"]
    )

    client = login(county_app, limited)
    page = client.get("/county/?type=month&key=2026-11").get_data(as_text=True)
    assert "甲村" in page and "乙村" not in page and "丙村" not in page
    assert 'id="stat-issued">7<' in page
    for url in (
        f"/county/villages/{B_CODE}",
        f"/county/villages/{B_CODE}/export/households.xlsx",
        f"/county/villages/{B_CODE}/charts/trend.svg",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/county/villages/{A_CODE}").status_code == 200
    book = load_workbook(io.BytesIO(client.get("/county/export/villages.xlsx?key=2026-11").data))
    assert [row[0] for row in book.active.iter_rows(min_row=3, values_only=True)] == [A_CODE]
    with county_app.app_context():
        token = create_api_token(db.session, db.session.get(User, limited.id))
        db.session.commit()
    listed = client.get("/api/v1/county/villages", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [v["code"] for v in listed["villages"]] == [A_CODE]


def test_points_by_category_and_goods_most_redeemed_match_the_villages(filled):
    app, county_app = filled.app, filled.county_app
    reviewer = county_user(county_app)
    quarter = parse_period("2026-Q4")
    categories = queries(county_app, reviewer, board.by_category, quarter)
    a_awarded, a_deducted, a_short = round_sums(app)
    b_awarded, b_deducted, b_short = round_sums(filled.village_b)
    assert sum(c.awarded for c in categories) == a_awarded + b_awarded
    # what was posted: deductions the balances could not cover were never taken
    assert sum(c.deducted for c in categories) == (a_deducted - a_short) + (b_deducted - b_short)
    assert {c.category: c.villages for c in categories}["环境卫生"] == 2
    october = queries(county_app, reviewer, board.by_category, parse_period("2026-10"))
    assert sum(c.awarded for c in october) == a_awarded

    goods = queries(county_app, reviewer, board.top_goods, quarter)
    expected: dict[str, int] = {}
    for village_app in (app, filled.village_b):
        for name, qty in goods_redeemed(village_app).items():
            expected[name] = expected.get(name, 0) + qty
    assert {g.name: g.qty for g in goods} == expected
    assert [g.qty for g in goods] == sorted(expected.values(), reverse=True)
    assert queries(county_app, reviewer, board.top_goods, parse_period("2026-09")) == []


def test_trend_has_twelve_months_ending_with_the_period(filled):
    county_app = filled.county_app
    reviewer = county_user(county_app)
    trend = queries(county_app, reviewer, board.monthly_trend, parse_period("2026-Q4"))
    assert [m.month for m in trend] == [f"2026-{n:02d}" for n in range(1, 13)]
    by_month = {m.month: m for m in trend}
    assert by_month["2026-10"].issued == filled.a_october["earned"]
    assert by_month["2026-11"].issued == 7 + filled.b["earned"]
    assert (
        by_month["2026-11"].redeemed == minus(filled.a, filled.a_october)["redeemed"] + filled.b["redeemed"]
    )
    assert by_month["2026-12"].issued == 0
    assert [m.month for m in queries(county_app, reviewer, board.monthly_trend, parse_period("2027-02"))][
        0
    ] == "2026-03"


def test_drill_down_balances_rounds_honour_and_shop_come_from_the_village(filled):
    app, county_app = filled.app, filled.county_app
    reviewer = county_user(county_app)
    quarter = parse_period("2026-Q4")
    households = queries(county_app, reviewer, drilldown.village_households, quarter, A_CODE)
    assert {h.uuid: h.balance for h in households} == balances(app)
    row = queries(county_app, reviewer, drilldown.village_figures, quarter, A_CODE)
    assert sum(h.balance for h in households) == row.outstanding == filled.a["balance_sum"]
    assert sum(h.earned for h in households) == row.issued == filled.a["earned"]
    assert sum(h.redeemed for h in households) == filled.a["redeemed"]
    # at the end of October, before the 7 November points
    october = queries(county_app, reviewer, drilldown.village_households, parse_period("2026-10"), A_CODE)
    assert sum(h.balance for h in october) == filled.a_october["balance_sum"]
    assert {h.uuid: h.balance for h in october}[filled.a_november_household] == balances(app)[
        filled.a_november_household
    ] - 7

    rounds = queries(county_app, reviewer, drilldown.village_rounds, quarter, A_CODE)
    assert [r.period_key for r in rounds] == ["2026-10"]
    awarded, deducted, shortfall = round_sums(app)
    assert (rounds[0].awarded, rounds[0].deducted, rounds[0].shortfall, rounds[0].households) == (
        awarded,
        deducted,
        shortfall,
        4,
    )
    assert rounds[0].status == "finalised"
    assert queries(county_app, reviewer, drilldown.village_rounds, parse_period("2026-11"), A_CODE) == []

    honour = queries(county_app, reviewer, drilldown.honour_roll, parse_period("2026-11"), B_CODE)
    assert honour[0].uuid == filled.b_extra and honour[0].earned == 40 and honour[0].rank == 1
    assert [h.earned for h in honour] == sorted((h.earned for h in honour), reverse=True)

    shop = queries(county_app, reviewer, drilldown.village_shop, quarter, A_CODE)
    with app.app_context():
        done = db.session.execute(
            sa.select(sa.func.count(), sa.func.sum(Redemption.points)).where(Redemption.status == "done")
        ).one()
    assert (shop.redemptions, shop.redemption_points) == (done[0], done[1])
    assert {g.name: g.qty for g in shop.goods} == goods_redeemed(app)
    assert shop.donated == donated(app) and shop.donations[0].donor == "爱心企业"
    assert sum(m.redeemed for m in shop.months) == filled.a["redeemed"]


def test_village_sort_orders_rows_on_the_server(filled):
    county_app = filled.county_app
    client = login(county_app, county_user(county_app))

    def order(query: str) -> list[str]:
        page = client.get(f"/county/?type=month&key=2026-11&{query}").get_data(as_text=True)
        return re.findall(r'data-code="(\d+)"', page)

    assert order("sort=issued&dir=desc") == [B_CODE, A_CODE, C_CODE]
    assert order("sort=issued&dir=asc") == [C_CODE, A_CODE, B_CODE]
    assert order("sort=last_sync&dir=desc") == [B_CODE, A_CODE, C_CODE]
    assert order("sort=nonsense") == [A_CODE, B_CODE, C_CODE]  # by township, then code
    page = client.get(f"/county/villages/{B_CODE}?key=2026-11&sort=balance&dir=desc").get_data(as_text=True)
    households = re.findall(r'data-uuid="([^"]+)"', page)
    assert households[0] == filled.b_extra and len(households) == 5
    assert 'aria-sort="descending"' in page


# --- freshness -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def mismatched(county_app, code: str, what: str):
    """The village's link marked as disagreeing on ``what`` (as the ingest writes it), put back after:
    the module's scenario is shared, so a test leaves it as it found it."""

    def link():
        return db.session.scalar(
            sa.select(VillageLink)
            .join(Village, Village.id == VillageLink.village_id)
            .where(Village.code == code)
        )

    with county_app.app_context():
        before = link().mismatch
        link().mismatch = what
        db.session.commit()
    try:
        yield
    finally:
        with county_app.app_context():
            link().mismatch = before
            db.session.commit()


def test_silent_and_mismatched_villages_stand_out_in_words(filled):
    county_app = filled.county_app
    with mismatched(county_app, B_CODE, "balance_sum"):
        reviewer = county_user(county_app)
        rows = {r.code: r for r in queries(county_app, reviewer, board.by_village, parse_period("2026-11"))}
        assert rows[A_CODE].silent_days == 20 and rows[A_CODE].needs_attention
        assert rows[B_CODE].silent == 0 and rows[B_CODE].mismatch == ("balance_sum",)
        assert rows[C_CODE].never_synced and rows[C_CODE].silent

        page = login(county_app, reviewer).get("/county/").get_data(as_text=True)
        attention = page[page.index('id="attention-title"') : page.index('id="townships"')]
        assert "20天未同步" in attention and "甲村" in attention
        assert "总数不符" in attention and "积分余额合计" in attention and "乙村" in attention
        assert "从未同步" in attention and "丙村" in attention
        assert "2 个村超过 7 天没有同步，1 个村的总数与村里上报的不符" in page
    with county_app.app_context():
        assert all(link.mismatch == "" for link in db.session.scalars(sa.select(VillageLink)))


# --- pages, periods, exports, charts -------------------------------------------------------------------


def test_dashboard_opens_on_the_last_complete_month_and_the_picker_reaches_this_one(filled):
    county_app = filled.county_app
    client = login(county_app, county_user(county_app))
    # now is 25 November: the default is October, the last whole month, not November so far
    page = client.get("/county/").get_data(as_text=True)
    assert 'id="period-label">2026年10月<' in page and 'id="period-incomplete"' not in page
    assert f'id="stat-issued">{filled.a_october["earned"]}<' in page
    assert "期末未兑换积分 = 截至本期最后一个月月底" in page  # the definition, on the page
    # the picker still reaches this month, and says it is not over
    this_month = client.get("/county/?type=month&key=2026-11").get_data(as_text=True)
    assert 'id="period-label">2026年11月<' in this_month and 'id="period-incomplete"' in this_month
    assert f'id="stat-issued">{7 + filled.b["earned"]}<' in this_month
    assert 'href="/county/?type=month&amp;key=2026-11" rel="next"' in page
    # on the 1st of December: November, whole, not a December of zeros
    set_clock(2026, 12, 1, hour=0)
    first = client.get("/county/").get_data(as_text=True)
    assert 'id="period-label">2026年11月<' in first and 'id="period-incomplete"' not in first
    assert f'id="stat-issued">{7 + filled.b["earned"]}<' in first
    village = client.get(f"/county/villages/{B_CODE}").get_data(as_text=True)
    assert 'id="period-label">2026年11月<' in village
    # a kind without a key: the period of that kind holding the last whole month
    assert 'id="period-label">2026年第4季度<' in client.get("/county/?type=quarter").get_data(as_text=True)
    set_clock(2027, 1, 1, hour=0)
    client = login(county_app, county_user(county_app))  # a month on, the session has lapsed
    assert 'id="period-label">2026年<' in client.get("/county/?type=year").get_data(as_text=True)
    set_clock(2026, 11, 25, hour=11)
    quarter = client.get("/county/?type=quarter&key=2026-11").get_data(as_text=True)
    assert 'id="period-label">2026年第4季度<' in quarter
    assert f'id="stat-issued">{filled.a["earned"] + filled.b["earned"]}<' in quarter
    assert 'href="/county/?type=quarter&amp;key=2026-Q3"' in quarter
    year = client.get("/county/?type=year&key=2026").get_data(as_text=True)
    assert 'id="period-label">2026年<' in year
    half = client.get("/county/?key=2026-H2").get_data(as_text=True)
    assert 'id="period-label">2026年下半年<' in half

    wrong = client.get("/county/?type=month&key=2026-13")
    assert wrong.status_code == 302 and wrong.headers["Location"].endswith("/county/")
    assert "看不懂期间" in client.get(wrong.headers["Location"]).get_data(as_text=True)
    assert client.get("/county/?type=decade&key=2026").status_code == 302

    # the home page takes county users to the dashboard
    assert client.get("/").headers["Location"].endswith("/county/")


def test_every_table_exports_to_xlsx_with_the_pages_numbers(filled):
    county_app = filled.county_app
    client = login(county_app, county_user(county_app))
    response = client.get("/county/export/all.xlsx?type=quarter&key=2026-Q4")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["按乡镇", "按村", "月度趋势", "积分类别", "兑换最多的商品"]
    villages = {row[0]: row for row in book["按村"].iter_rows(min_row=3, values_only=True)}
    header = [c.value for c in book["按村"][2]]
    issued, outstanding = header.index("发放积分"), header.index("期末未兑换积分")
    assert villages[A_CODE][issued] == filled.a["earned"]
    assert villages[B_CODE][outstanding] == filled.b["balance_sum"]
    assert "从未同步" in villages[C_CODE][-1]
    township_header = [c.value for c in book["按乡镇"][2]]
    total = list(book["按乡镇"].iter_rows(min_row=3, values_only=True))[-1]
    assert total[1] == "合计"
    assert total[township_header.index("发放积分")] == filled.a["earned"] + filled.b["earned"]
    for table in ("townships", "villages", "trend", "categories", "goods"):
        assert client.get(f"/county/export/{table}.xlsx").status_code == 200, table
    assert client.get("/county/export/nothing.xlsx").status_code == 404

    village = load_workbook(
        io.BytesIO(client.get(f"/county/villages/{A_CODE}/export/all.xlsx?key=2026-Q4").data)
    )
    assert village.sheetnames == ["评定", "光荣榜", "农户积分", "每月兑换", "兑换的商品", "捐赠入库"]
    balances_col = [c.value for c in village["农户积分"][2]].index("期末余额")
    assert (
        sum(r[balances_col] for r in village["农户积分"].iter_rows(min_row=3, values_only=True))
        == filled.a["balance_sum"]
    )
    for table in ("rounds", "honour", "households", "shop-months", "goods", "donations"):
        assert client.get(f"/county/villages/{A_CODE}/export/{table}.xlsx").status_code == 200, table


def test_charts_are_standalone_svg_with_their_own_relaxed_style_policy(filled):
    county_app = filled.county_app
    client = login(county_app, county_user(county_app))
    page = client.get("/county/?key=2026-Q4")
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    for url in (
        "/county/charts/trend.svg?key=2026-Q4",
        "/county/charts/categories.svg?key=2026-Q4",
        "/county/charts/goods.svg?key=2026-Q4",
        f"/county/villages/{A_CODE}/charts/trend.svg",
        f"/county/villages/{A_CODE}/charts/goods.svg?key=2026-Q4",
    ):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml", url
        policy = response.headers["Content-Security-Policy"]
        assert "style-src 'unsafe-inline'" in policy and "default-src 'none'" in policy
        svg = ET.fromstring(response.data)  # noqa: S314 (our own server's output)
        assert svg.tag.endswith("svg")
        assert b"<script" not in response.data and b"kozea.github.io" not in response.data
    html = page.get_data(as_text=True)
    for name in ("trend", "categories", "goods"):
        assert f'<img class="chart" src="/county/charts/{name}.svg?type=quarter&amp;key=2026-Q4"' in html
    trend = client.get("/county/charts/trend.svg?key=2026-Q4").get_data(as_text=True)
    assert "26-10" in trend and "发放积分" in trend
    goods = client.get("/county/charts/goods.svg?key=2026-Q4").get_data(as_text=True)
    assert "毛巾" in goods
    assert client.get("/county/charts/pie.svg").status_code == 404


def test_drill_down_page_shows_the_village_read_only(filled):
    county_app = filled.county_app
    client = login(county_app, county_user(county_app))
    page = client.get(f"/county/villages/{A_CODE}?type=quarter&key=2026-Q4").get_data(as_text=True)
    assert 'id="village-name">甲村<' in page
    assert f'id="balance-total">{filled.a["balance_sum"]}<' in page
    assert "光荣榜" in page and "洗衣粉" in page and "爱心企业" in page and "2026-10" in page
    assert page.count('method="post"') == 1  # log-out only: nothing on the page changes data
    assert client.get("/county/villages/620123199999").status_code == 404


# --- bundle upload -------------------------------------------------------------------------------------


def _bundle(village_app, key: str, from_seq: int | None = 1) -> bytes:
    from pointsmart.sync.bundle import export_bundle

    out = io.BytesIO()
    with village_app.app_context():
        export_bundle(db.session, home_village(db.session).code, key, out, from_seq=from_seq)
        db.session.rollback()
    return out.getvalue()


def _upload(client, data: bytes, name: str = "bundle.gz"):
    return client.post(
        "/county/bundles", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def test_county_admin_uploads_a_bundle_and_bad_files_change_nothing(
    app, county_app, make_user, make_household
):
    set_clock(2026, 11, 10)
    workload(app, make_user, make_household, month="2026-11")
    with county_app.app_context():
        key = county.add_village(db.session, A_CODE, "甲村", A_TOWNSHIP, "甲镇")[1]
        db.session.commit()
    admin = login(county_app, county_user(county_app, "county_admin"))
    bundle = _bundle(app, key)

    def link_state():
        with county_app.app_context():
            link = db.session.scalar(sa.select(VillageLink))
            return link.acked_seq, link.balance_sum

    # altered in transit: one byte of the signed text changed, then compressed again
    text = gzip.decompress(bundle)
    tampered = gzip.compress(text.replace(b'"amount":30', b'"amount":31', 1))
    assert tampered != gzip.compress(text)
    response = _upload(admin, tampered)
    assert response.status_code == 302
    assert "签名不符" in admin.get("/county/bundles").get_data(as_text=True)
    truncated = bundle[: len(bundle) // 2]
    _upload(admin, truncated)
    assert "文件不完整" in admin.get("/county/bundles").get_data(as_text=True)
    _upload(admin, b"not a bundle at all")
    assert "这不是积分超市的同步文件" in admin.get("/county/bundles").get_data(as_text=True)
    assert link_state() == (0, 0)

    response = _upload(admin, bundle)
    assert response.status_code == 302
    page = admin.get("/county/bundles").get_data(as_text=True)
    totals = village_totals(app)
    assert f"县里已确认到第 {totals['seq']} 条" in page and "甲村" in page
    assert link_state() == (totals["seq"], totals["balance_sum"])
    assert "同步文件" in page.split('id="recent-batches"', 1)[1]
    _upload(admin, bundle)
    assert "县里已经有了" in admin.get("/county/bundles").get_data(as_text=True)
    assert link_state() == (totals["seq"], totals["balance_sum"])

    with county_app.app_context():
        from pointsmart.audit.models import AuditEntry

        actions = list(
            db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("county.bundle%")))
        )
    assert actions.count("county.bundle.refused") == 3 and actions.count("county.bundle.imported") == 2

    reviewer = login(county_app, county_user(county_app))
    assert reviewer.get("/county/bundles").status_code == 403
    assert _upload(reviewer, bundle).status_code == 403


def test_a_bundle_from_an_unregistered_village_is_refused(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    admin = login(county_app, county_user(county_app, "county_admin"))
    _upload(admin, _bundle(app, "pmk_some-key"))
    assert "没有在本县登记" in admin.get("/county/bundles").get_data(as_text=True)
    _upload(admin, b"")
    assert admin.get("/county/bundles").status_code == 200


def test_an_empty_county_shows_empty_tables_and_charts(county_app):
    client = login(county_app, county_user(county_app, "county_admin"))
    page = client.get("/county/").get_data(as_text=True)
    assert "还没有登记任何村。" in page and 'id="stat-issued">0<' in page
    for name, width in (("trend", "800"), ("categories", "560"), ("goods", "560")):
        chart = client.get(f"/county/charts/{name}.svg")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        svg = ET.fromstring(chart.data)  # noqa: S314 (our own server's output)
        # a quiet line in the chart's own frame: every mark inside the drawn box, no axes of nothing
        assert svg.get("width") == width and "本期暂无数据" in chart.get_data(as_text=True)
        assert all(0 <= float(t.get("x")) <= int(width) for t in svg.iter("{http://www.w3.org/2000/svg}text"))
        assert b"<script" not in chart.data
    # the page shows the empty state itself, in each figure's frame, instead of an image of nothing
    assert page.count('class="chart-empty"') == 3 and '<img class="chart"' not in page
    assert page.count("本期暂无数据") >= 3
    book = load_workbook(io.BytesIO(client.get("/county/export/all.xlsx").data))
    assert [sheet.max_row for sheet in book.worksheets][1] == 2  # the villages sheet: its headings only
    assert client.get("/county/bundles").status_code == 200


def test_the_bundle_page_takes_no_body_past_the_usual_upload_limit(county_app):
    """Every form stops at MAX_CONTENT_LENGTH (8 MB): a larger bundle comes in parts (below)."""
    admin = login(county_app, county_user(county_app, "county_admin"))
    response = _upload(admin, os.urandom(9 * 1024 * 1024))
    assert response.status_code == 413
    assert _upload(admin, os.urandom(1024)).status_code == 302  # read, and refused for what it is


# --- a large bundle in parts (the page's script, pointsmart/county/parts.py) ----------------------------


def _id() -> str:
    return uuid_mod.uuid4().hex


def _part(client, upload: str, index, count, data: bytes):
    return client.post(
        f"/county/bundles/parts?upload={upload}&index={index}&count={count}",
        data=data,
        content_type="application/octet-stream",
    )


def _done(client, upload: str, count, filename: str = "甲村.pmb"):
    return client.post(
        "/county/bundles/parts/done", json={"upload": upload, "count": count, "filename": filename}
    )


def _send_in_parts(client, data: bytes, size: int, order=None) -> str:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    upload = _id()
    for index in order or range(len(pieces)):
        assert _part(client, upload, index, len(pieces), pieces[index]).status_code == 200
    return upload, len(pieces)


def _left_behind(county_app) -> list[str]:
    folder = Path(county_app.instance_path) / "bundle-parts"
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def _flashes(client) -> str:
    return client.get("/county/bundles").get_data(as_text=True)


def test_a_bundle_sent_in_parts_is_imported_like_one_sent_whole(app, county_app, make_user, make_household):
    set_clock(2026, 11, 10)
    workload(app, make_user, make_household, month="2026-11")
    with county_app.app_context():
        key = county.add_village(db.session, A_CODE, "甲村", A_TOWNSHIP, "甲镇")[1]
        db.session.commit()
    bundle = _bundle(app, key)
    size = len(bundle) // 4 + 1
    county_app.config["POINTSMART_BUNDLE_PART_BYTES"] = size
    admin = login(county_app, county_user(county_app, "county_admin"))

    # sent out of order: each part knows its place
    upload, count = _send_in_parts(admin, bundle, size, order=[3, 0, 2, 1])
    assert count == 4 and len(_left_behind(county_app)) == 5  # four parts and the count
    response = _done(admin, upload, count)
    assert response.status_code == 200 and response.json == {"redirect": "/county/bundles"}
    totals = village_totals(app)
    page = _flashes(admin)
    assert f"已导入 甲村（{A_CODE}）的同步文件" in page and f"县里已确认到第 {totals['seq']} 条" in page
    assert _left_behind(county_app) == []
    with county_app.app_context():
        link = db.session.scalar(sa.select(VillageLink))
        assert (link.acked_seq, link.balance_sum) == (totals["seq"], totals["balance_sum"])
        from pointsmart.audit.models import AuditEntry

        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "county.bundle.imported"))
        assert entry.data["filename"] == "甲村.pmb"

    # the same file whole, in one POST, is the same bundle: nothing new
    _upload(admin, bundle)
    assert "县里已经有了" in _flashes(admin)
    # and again in parts: the same answer, through the same code
    upload, count = _send_in_parts(admin, bundle, size)
    assert _done(admin, upload, count).status_code == 200
    assert "县里已经有了" in _flashes(admin)
    # a broken file in parts gets the refusal the form gives, recorded the same way
    upload, count = _send_in_parts(admin, bundle[: len(bundle) // 2], size)
    assert _done(admin, upload, count).status_code == 200
    assert "文件不完整" in _flashes(admin)
    assert _left_behind(county_app) == []


def test_parts_that_do_not_add_up_are_refused_and_leave_nothing(county_app):
    county_app.config["POINTSMART_BUNDLE_PART_BYTES"] = 100
    county_app.config["POINTSMART_BUNDLE_MAX_BYTES"] = 250
    admin = login(county_app, county_user(county_app, "county_admin"))
    data = b"x" * 100

    # ids, indexes and counts that are not sane: 400, nothing created
    for upload, index, count in [
        ("../../etc", 0, 1), ("A" * 32, 0, 1), ("a" * 31, 0, 1), (_id(), -1, 2), (_id(), 2, 2),
        (_id(), 0, 0), (_id(), 0, 4), (_id(), "1e3", 4), (_id(), 0, "99999999999999999999"), (_id(), "", 2),
    ]:  # fmt: skip
        response = _part(admin, upload, index, count, data)
        assert response.status_code == 400, (upload, index, count)
        assert response.json["error"]["code"] == "bundle_part_refused"
    assert _left_behind(county_app) == []

    # a part over the part size: 413, the upload gone
    upload = _id()
    assert _part(admin, upload, 0, 2, data).status_code == 200
    assert _part(admin, upload, 1, 2, data + b"x").status_code == 413
    assert _left_behind(county_app) == []

    # a total over the cap, counted as the parts arrive: 413 at the part that passes it
    upload = _id()
    assert _part(admin, upload, 0, 3, data).status_code == 200
    assert _part(admin, upload, 1, 3, data).status_code == 200
    response = _part(admin, upload, 2, 3, b"x" * 51)
    assert response.status_code == 413 and "超过" in response.json["error"]["message"]
    assert _left_behind(county_app) == []

    # a count that changes between parts, or at the end
    upload = _id()
    assert _part(admin, upload, 0, 2, data).status_code == 200
    assert _part(admin, upload, 1, 3, data).status_code == 400
    assert _left_behind(county_app) == []
    upload, count = _send_in_parts(admin, data * 2, 100)
    assert _done(admin, upload, count + 1).status_code == 400
    assert _left_behind(county_app) == []

    # a missing part: 400 naming it
    upload = _id()
    assert _part(admin, upload, 0, 2, data).status_code == 200
    response = _done(admin, upload, 2)
    assert response.status_code == 400 and "缺少第 2 段" in response.json["error"]["message"]
    assert _left_behind(county_app) == []

    # no such upload, a bad id, a body that is not the expected JSON
    assert _done(admin, _id(), 1).status_code == 404
    assert _done(admin, "../x", 1).status_code == 400
    response = admin.post("/county/bundles/parts/done", data="[1]", content_type="application/json")
    assert response.status_code == 400
    with county_app.app_context():
        from pointsmart.audit.models import AuditEntry

        bundle_actions = sa.select(sa.func.count()).where(AuditEntry.action.like("county.bundle%"))
        assert db.session.scalar(bundle_actions) == 0
    assert _left_behind(county_app) == []


@pytest.mark.parametrize("filename", [123, ["甲村.pmb"], {"name": "甲村.pmb"}, "甲村\x07.pmb", "甲" * 256])
def test_a_bundle_whose_file_name_is_not_printable_text_is_refused_naming_the_field(county_app, filename):
    """The name the page sends with the last part goes into the audit log: a number, a list, a control
    character or a name past 255 characters is refused (422, field ``filename``, 文件名), nothing recorded,
    no part left behind (before: a number or a list was taken and logged as its Python repr)."""
    admin = login(county_app, county_user(county_app, "county_admin"))
    upload, count = _send_in_parts(admin, b"x" * 50, 100)
    response = _done(admin, upload, count, filename)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_text" and error["field"] == "filename"
    assert error["message"].startswith("文件名：")
    assert _left_behind(county_app) == []
    # the one-POST form: its file's name is held to the same rule, named under the file field
    if isinstance(filename, str):
        page = _upload(admin, b"x" * 50, name=filename)
        assert page.status_code == 422 and "文件名：" in page.get_data(as_text=True)
    with county_app.app_context():
        from pointsmart.audit.models import AuditEntry

        bundle_actions = sa.select(sa.func.count()).where(AuditEntry.action.like("county.bundle%"))
        assert db.session.scalar(bundle_actions) == 0


def test_only_the_county_admin_may_send_parts(county_app):
    upload = _id()
    anonymous = county_app.test_client()
    assert _part(anonymous, upload, 0, 1, b"x").status_code in (302, 401)
    assert _done(anonymous, upload, 1).status_code in (302, 401)
    reviewer = login(county_app, county_user(county_app))
    assert _part(reviewer, upload, 0, 1, b"x").status_code == 403
    assert _done(reviewer, upload, 1).status_code == 403
    assert _left_behind(county_app) == []


def test_uploads_left_for_a_day_are_removed_when_a_new_one_starts(county_app):
    admin = login(county_app, county_user(county_app, "county_admin"))
    old, recent = _id(), _id()
    assert _part(admin, old, 0, 2, b"x").status_code == 200
    assert _part(admin, recent, 0, 2, b"x").status_code == 200
    folder = Path(county_app.instance_path) / "bundle-parts"
    (stale,) = folder.glob(f"*/{old}")
    day_ago = time.time() - 24 * 60 * 60 - 60
    os.utime(stale, (day_ago, day_ago))
    assert _part(admin, _id(), 0, 1, b"x").status_code == 200
    assert not stale.exists() and list(folder.glob(f"*/{recent}"))


# --- opening balances and rounds scored for one month, finalised in the next -------------------------


def test_opening_balances_are_their_own_figure_and_rounds_count_in_the_month_they_score(
    app, county_app, make_user, make_household
):
    """Paper-card balances posted in October stay out of October's issued points and participation;
    a round scored for October and finalised on 3 November is October's on the drill-down."""
    from pointsmart.households.services import adjust_points
    from pointsmart.ledger.services import reverse
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import finalisation as scoring_finalisation
    from pointsmart.scoring import panels as scoring_panels
    from pointsmart.scoring import score_entry
    from pointsmart.scoring import workflow as scoring_workflow

    with county_app.app_context():
        key = county.add_village(db.session, A_CODE, "甲村", A_TOWNSHIP, "甲镇")[1]
        db.session.commit()
    set_clock(2026, 10, 2)
    homes = [make_household() for _ in range(3)]
    panel = [make_user("panel")[0] for _ in range(3)]
    with committing(app) as session:
        for n, home in enumerate(homes):
            carried = adjust_points(
                session, session.get(Household, home), 100 + n, "纸质积分卡余额结转（2026年1—9月）", None
            )
        reverse(session, carried.id, "余额抄错了，重记", None)  # the third one's, undone …
        adjust_points(session, session.get(Household, homes[2]), 90, "纸质积分卡余额结转（更正）", None)
    set_clock(2026, 10, 28)
    with committing(app) as session:
        village = home_village(session)
        members = [session.get(User, i) for i in panel]
        for member in members:
            scoring_panels.set_panel_member(session, member, "执委", [], None)
        category = scoring_criteria.save_category(session, village.id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            session, category, {"name": "门前三包", "points": 5, "cadence": "monthly"}, None
        )
        october_round = scoring_workflow.create_round(session, village, "monthly", "2026-10", "", None)
        (tidy,) = october_round.criteria
        for home in homes[:2]:  # two of three households scored for October
            score_entry.set_score(session, october_round, home, tidy.id, 1, members[0])
        scoring_workflow.submit_round(session, october_round, members[0])
        for member in members[1:]:  # two approvals, neither by the member who submitted
            scoring_workflow.approve_round(session, october_round, member)
        scoring_workflow.publish_round(session, october_round, None)
        round_id = october_round.id
    set_clock(2026, 11, 3)  # the notice ends in November: the round is finalised then
    with committing(app) as session:
        assert scoring_finalisation.finalise_round(session, session.get(ScoringRound, round_id), None)
    push_all(app, county_app.test_client(), key)
    set_clock(2026, 11, 10)
    reviewer = county_user(county_app)
    october, november = parse_period("2026-10"), parse_period("2026-11")

    # opening balances: their own figure, not October's issued points nor its earners
    totals = queries(county_app, reviewer, board.overview, october).totals
    assert (totals.opening, totals.issued, totals.earned_households) == (100 + 101 + 90, 0, 0)
    assert totals.outstanding == sum(balances(app).values()) - 10  # before November's awards
    trend = {m.month: m for m in queries(county_app, reviewer, board.monthly_trend, november)}
    assert (trend["2026-10"].opening, trend["2026-10"].issued) == (291, 0)
    assert (trend["2026-11"].opening, trend["2026-11"].issued) == (0, 10)
    assert all(c.category for c in queries(county_app, reviewer, board.by_category, october))
    client = login(county_app, reviewer)
    page = client.get("/county/?type=month&key=2026-10").get_data(as_text=True)
    assert 'id="stat-issued">0<' in page and 'id="stat-opening">291<' in page
    assert 'id="opening-rule"' in page and '<td class="num opening">291</td>' in page
    chart = client.get("/county/charts/trend.svg?key=2026-10").get_data(as_text=True)
    assert "期初结转" in chart  # its own series
    book = load_workbook(io.BytesIO(client.get("/county/export/trend.xlsx?key=2026-10").data))
    header = [c.value for c in book.worksheets[0][2]]
    october_row = next(
        r for r in book.worksheets[0].iter_rows(min_row=3, values_only=True) if r[0] == "2026-10"
    )
    assert (october_row[header.index("发放积分")], october_row[header.index("期初结转")]) == (0, 291)

    # the drill-down counts the round in October, the month it scores
    rounds = queries(county_app, reviewer, drilldown.village_rounds, october, A_CODE)
    assert [(r.period_key, r.households, r.awarded) for r in rounds] == [("2026-10", 2, 10)]
    households = {
        h.uuid: h for h in queries(county_app, reviewer, drilldown.village_households, october, A_CODE)
    }
    assert sorted(h.earned for h in households.values()) == [0, 5, 5]
    assert sorted(h.opening for h in households.values()) == [90, 100, 101]
    honour = queries(county_app, reviewer, drilldown.honour_roll, october, A_CODE)
    assert [h.earned for h in honour] == [5, 5]
    in_november = queries(county_app, reviewer, drilldown.village_households, november, A_CODE)
    assert [h.earned for h in in_november] == [0, 0, 0]
    assert queries(county_app, reviewer, drilldown.village_rounds, november, A_CODE) == []
    page = client.get(f"/county/villages/{A_CODE}?type=month&key=2026-10").get_data(as_text=True)
    assert "本期没有评定" not in page and "本期没有农户得分" not in page
    assert 'id="stat-earned">2<' in page and 'id="stat-opening">291<' in page
    rounds_html = page[page.index('id="rounds"') : page.index('id="honour"')]
    assert "2026-10" in rounds_html and '<td class="num">2</td>' in rounds_html

    # a county that kept its rollups before this rule: rebuilt from the synced transfers, the same
    def rollups():
        c, hp = VillageMonthCategory, HouseholdPeriod
        return (
            sorted(db.session.execute(sa.select(c.month, c.category, c.awarded, c.deducted)).all()),
            sorted(db.session.execute(sa.select(hp.period, hp.household_uuid)).all()),
        )

    with county_app.app_context():
        village_id = db.session.scalar(sa.select(Village.id).where(Village.code == A_CODE))
        kept = rollups()
        assert ("2026-10", "", 291, 0) in kept[0]
        db.session.execute(sa.delete(VillageMonthCategory).where(VillageMonthCategory.category == ""))
        db.session.execute(  # as the ingest counted them before: every household "earned" in October
            sa.insert(HouseholdPeriod),
            [{"village_id": village_id, "period": "2026-10", "household_uuid": h} for h in households],
        )
        db.session.commit()
        opening.rebuild(db.session, village_id)
        db.session.commit()
        assert rollups() == kept
        opening.rebuild(db.session, village_id)
        assert rollups() == kept


def test_the_drill_down_sorts_groups_as_they_are_counted():
    """一社, 二社 … 十社, 十一社 on the server's sort and in the numbers the page's script sorts by."""
    names = ["十一社", "二社", "十社", "一社", "三社", ""]
    rows = [SimpleNamespace(group=g, household_no=f"{i:02d}-001") for i, g in enumerate(names)]
    assert [r.group for r in board.sort_rows(rows, "group")] == ["一社", "二社", "三社", "十社", "十一社", ""]
    ranks = board.group_ranks(rows)
    assert sorted(names, key=ranks.__getitem__) == ["一社", "二社", "三社", "十社", "十一社", ""]
