"""三务公开 (/accounts): a closed month's accounts for everyone, equal to the figures frozen at its close;
an open month is not shown; no household is named; the hash on the page is the close's; any month
string that is not a month answers 404."""

import hashlib
import html
import json
import re
from datetime import date

import pytest
import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.months.models import MonthClose
from pointsmart.org.services import home_village
from pointsmart.shop.models import Goods

from .test_month_close import MONTH, close, set_clock, stocktake, worked  # noqa: F401  (worked is a fixture)


def _closed(app, login_as) -> MonthClose:
    chair = login_as("chair")
    assert close(chair).status_code == 302
    with app.app_context():
        found = db.session.scalar(sa.select(MonthClose).where(MonthClose.month == MONTH))
        db.session.expunge(found)
        return found


def _text(page: str) -> str:
    """The page's text, tags out, entities read."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _rows(page: str, table: str) -> dict[str, list[str]]:
    body = page.split(f'class="ledger wall-table {table}"')[1].split("</table>")[0]
    body = body.split("<tbody>")[1].split("</tbody>")[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [html.unescape(c.strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_a_closed_month_shows_its_frozen_figures_and_hashes_to_everyone(app, worked, login_as, client):  # noqa: F811
    done = _closed(app, login_as)
    frozen = json.loads(done.figures)
    response = client.get(f"/accounts/{MONTH}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    page = response.get_data(as_text=True)
    assert "2026年11月积分超市账目公开" in page

    for name in ("issued", "redeemed", "deducted", "expired"):
        shown = re.search(rf'data-figure="{name}">(-?\d+)<', page)[1]
        assert int(shown) == frozen["points"][name], name
    categories = _rows(page, "accounts-categories")
    assert categories == {
        name: [str(c["awarded"]), str(c["deducted"])] for name, c in frozen["by_category"].items()
    }
    assert categories  # the worked month's round scored by category
    with app.app_context():
        names = dict(db.session.execute(sa.select(Goods.uuid, Goods.name)).all())
    goods = _rows(page, "accounts-goods-table")
    expected = {}
    for uuid, row in frozen["goods"].items():
        other = row["stocktake"] - row["loss"]
        expected[names[uuid]] = [
            str(row["opening"]),
            str(row["donated"]),
            str(row["purchased"]),
            str(row["given_out"]),
            f"{other:+d}" if other else "0",
            str(row["stock"]),
        ]
    assert goods == expected and set(goods) == {"洗衣粉", "毛巾"}
    # the donor of the month, with where the gift went: as many units as the frozen figures' donations
    text = _text(page)
    assert "爱心企业" in text and "洗衣粉×20" in text
    assert sum(r["donated"] for r in frozen["goods"].values()) == 20
    assert "已兑换给农户 1 件" in text and "月底还在货架 19 件" in text

    # the hashes: the close's, and the frozen figures for anyone to hash themselves
    assert f'data-hash="figures">{done.sha256}<' in page
    assert done.book_sha256 and f'data-hash="book">{done.book_sha256}<' in page
    assert f">http://pointsmart.test/accounts/{MONTH}<" in page  # the address the poster prints
    raw = client.get(f"/accounts/{MONTH}.json")
    assert raw.status_code == 200 and raw.mimetype == "application/json"
    assert hashlib.sha256(raw.data).hexdigest() == done.sha256

    index = client.get("/accounts/").get_data(as_text=True)
    assert f'href="/accounts/{MONTH}"' in index and "2026年11月" in index


def test_the_page_names_no_household_and_no_balance(app, worked, login_as, client):  # noqa: F811
    _closed(app, login_as)
    with app.app_context():
        homes = db.session.execute(sa.select(Household.head_name, Household.household_no)).all()
        uuids = db.session.scalars(sa.select(Household.uuid)).all()
    assert len(homes) == 4
    for path in ("/accounts/", f"/accounts/{MONTH}", f"/accounts/{MONTH}.json", "/accounts/2026-12"):
        page = client.get(path).get_data(as_text=True)
        for head_name, household_no in homes:
            # the honour roll names households, this page names none (so no honour-roll name is shown here)
            assert head_name not in page and household_no not in page, (path, head_name)
        assert "改名户" not in page and not re.search(r"余额\s*[:：]?\s*-?\d", _text(page))
        assert not any(uuid in page for uuid in uuids)


def test_an_open_month_is_not_shown(app, worked, client):  # noqa: F811
    # November has ended but is not closed yet: its page says so and shows no figure, no hash, no data
    page = client.get(f"/accounts/{MONTH}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "2026年11月还没有月结" in text and "data-figure" not in text and "data-hash" not in text
    assert "洗衣粉" not in text and "爱心企业" not in text
    assert client.get(f"/accounts/{MONTH}.json").status_code == 404
    index = client.get("/accounts/").get_data(as_text=True)
    assert f"/accounts/{MONTH}" not in index and "还没有月结的月份" in index
    # the month being kept now is never shown either
    assert "还没有月结" in client.get("/accounts/2026-12").get_data(as_text=True)


@pytest.mark.parametrize(
    "month",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        "1999-12",
        "2100-01",
        "2026-11-01",
        "2026年11月",
        "２０２６-１１",
        "2026-Q4",
        "2026-11 ",
        "..",
        "%2e%2e",
        "2026-11%00",
        "2026-11%0a",
        "%E2%80%AE2026-11",
        "<script>",
        "2" * 5000,
        "2026-11.json.json",
        "2026-11.xlsx",
    ],
)
def test_a_month_string_that_is_no_month_is_404(app, worked, login_as, client, month):  # noqa: F811
    _closed(app, login_as)
    for path in (f"/accounts/{month}", f"/accounts/{month}.json"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)


def test_the_accounts_are_linked_from_the_family_card_the_notices_and_the_ledgers(
    app,
    worked,  # noqa: F811
    login_as,
    client,
):
    from pointsmart.cards.models import Card

    with app.app_context():
        token = db.session.scalar(sa.select(Card.token).limit(1))
        round_uuid = worked["round"]
    link = 'href="/accounts/"'
    assert link in client.get(f"/c/{token}").get_data(as_text=True)
    assert link in client.get("/notice").get_data(as_text=True)
    assert link in client.get(f"/notice/{round_uuid}").get_data(as_text=True)
    assert link in client.get("/honour").get_data(as_text=True)
    assert link in login_as("chair").get("/ledgers/").get_data(as_text=True)


def test_a_closed_month_reads_the_same_after_later_moves(app, worked, login_as, client):  # noqa: F811
    """December's loss of November's donated soap changes the live 爱心榜, never November's accounts."""
    from pointsmart.shop import services as shop

    _closed(app, login_as)

    def article() -> str:
        page = client.get(f"/accounts/{MONTH}").get_data(as_text=True)
        return page.split("<article")[1].split("</article>")[0]

    before = article()
    set_clock(2026, 12, 10)
    with app.app_context():
        soap = db.session.scalar(sa.select(Goods).where(Goods.name == "洗衣粉"))
        shop.record_loss(db.session, soap, 19, "受潮", None)
        db.session.commit()
        from pointsmart.shop import registers

        (live,) = registers.trace_donations(db.session, soap.village_id)
        assert live.other_out == 19 and live.on_shelf == 0  # the live trace moved on
    assert article() == before
    assert "月底还在货架 19 件" in _text(before)


def test_a_back_dated_receipt_counts_among_the_donors_of_the_month_written_on_it(
    app,
    worked,  # noqa: F811
    login_as,
    client,
):
    """A donation written down on 20 November and typed in on 3 December is November's gift, as the
    goods table counts it; one dated 25 October and typed in November is October's: November's stock
    at its start (期初库存), not November's gift."""
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    with app.app_context():
        soap, towel = (db.session.scalar(sa.select(Goods).where(Goods.name == n)) for n in ("洗衣粉", "毛巾"))
        set_clock(2026, 11, 25)
        shop.receive_stock(
            db.session, towel, MoveKind.DONATION, 5, None, donor="十月的捐赠", moved_on=date(2026, 10, 25)
        )
        db.session.commit()
        set_clock(2026, 12, 3)
        shop.receive_stock(
            db.session, soap, MoveKind.DONATION, 7, None, donor="补录的捐赠", moved_on=date(2026, 11, 20)
        )
        db.session.commit()
        soap_uuid, towel_uuid = soap.uuid, towel.uuid
        # the October receipt makes October the first month to close: its towels counted on its last day
        shop.record_stocktake(db.session, soap.village_id, date(2026, 10, 31), "王芳", {towel.id: 5}, None)
        db.session.commit()
    assert close(login_as("chair"), "2026-10").status_code == 302
    frozen = json.loads(_closed(app, login_as).figures)
    assert frozen["goods"][soap_uuid]["donated"] == 27 and frozen["goods"][towel_uuid]["donated"] == 0
    assert frozen["goods"][towel_uuid]["opening"] == 5 and frozen["goods"][soap_uuid]["opening"] == 0

    page = client.get(f"/accounts/{MONTH}").get_data(as_text=True)
    donors = _text(page.split('class="wall-section accounts-donors"')[1].split("</section>")[0])
    assert "补录的捐赠" in donors and "洗衣粉×7" in donors
    assert "十月的捐赠" not in donors and "毛巾" not in donors
    assert "本月没有收到捐赠" not in donors
    given = sum(int(n) for n in re.findall(r"×(\d+)", donors))
    assert given == sum(row["donated"] for row in frozen["goods"].values()) == 27
    # 期初库存 beside the stock left: the towels dated in October, per goods and in total
    goods = _rows(page, "accounts-goods-table")
    assert goods["毛巾"][0] == "5" and goods["洗衣粉"][0] == "0"
    total = page.split('class="ledger wall-table accounts-goods-table"')[1].split("<tfoot>")[1]
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", total.split("</tfoot>")[0])]
    assert cells[0] == "5" and cells[-1] == str(sum(row["stock"] for row in frozen["goods"].values()))


def test_figures_frozen_before_the_opening_stock_was_kept_still_read_and_agree_at_the_county(
    app,
    worked,  # noqa: F811
    client,
):
    """A month closed by version 1 (no ``opening``): its page shows — for the opening stock, never an
    error, and a rebuild is checked in that version (the same hash, not "不一致")."""
    from pointsmart.closing import figures as month_figures

    with app.app_context():
        village_id = home_village(db.session).id
        built = month_figures.month_figures(db.session, village_id, MONTH)
        old = month_figures.earlier_version(built)
        assert old["version"] == 1 and all("opening" not in row for row in old["goods"].values())
        assert built["version"] == 2 and month_figures.digest(built) != month_figures.digest(old)
        # a close as the version before kept it (closes are append-only: written, never changed)
        sha = month_figures.digest(old)
        db.session.add(
            MonthClose(
                village_id=village_id, month=MONTH, figures=month_figures.canonical(old).decode(), sha256=sha
            )
        )
        db.session.commit()
        assert month_figures.rebuilt_digest(built, sha) == sha
        assert month_figures.rebuilt_digest(built, "0" * 64) == month_figures.digest(built)
    response = client.get(f"/accounts/{MONTH}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    goods = _rows(page, "accounts-goods-table")
    assert set(goods) == {"洗衣粉", "毛巾"} and all(row[0] == "—" for row in goods.values())
    assert "还不记期初库存" in _text(page)
    assert hashlib.sha256(client.get(f"/accounts/{MONTH}.json").data).hexdigest() == sha


def test_a_carried_round_is_counted_in_the_month_its_book_holds_it(
    app, make_user, make_household, login_as, client
):
    """November's round carried to December: November's accounts count no round, as November's book;
    finalised in December, it is one of December's rounds on the accounts, as in December's book."""
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
        round_id = scoring_workflow.create_round(db.session, village, "monthly", MONTH, "", None).id
        soap = shop.save_goods(db.session, village.id, {"name": "洗衣粉", "price": 10}, None)
        shop.receive_stock(db.session, soap, MoveKind.DONATION, 5, None, donor="爱心企业")
        for member in members:
            panels.set_panel_member(db.session, db.session.get(User, member), "执委", [], None)
        db.session.commit()
    set_clock(2026, 11, 30)  # a count is dated no later than the day it is recorded
    stocktake(app, date(2026, 11, 30))
    set_clock(2026, 12, 3)
    chair = login_as("chair")
    assert chair.post(f"/closing/{MONTH}/carry/{round_id}").status_code == 302
    assert close(chair).status_code == 302

    def counted(month: str) -> tuple[str, str, str]:
        """The rounds and households the accounts count, and the rounds the month's book holds."""
        accounts = _text(client.get(f"/accounts/{month}").get_data(as_text=True))
        book = _text(chair.get(f"/ledgers/book/{month}").get_data(as_text=True))
        said = re.search(r"本月评定 (\d+) 次，(\d+) 户得到评定结果", accounts)
        return said[1], said[2], re.search(r"(\d+) 次评定", book)[1]

    assert counted(MONTH) == ("0", "0", "0")
    # December: the carried round is scored, approved, published and finalised; December closes
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, round_id)
        score_entry.set_score(
            db.session, scoring_round, home, scoring_round.criteria[0].id, 1, db.session.get(User, members[0])
        )
        scoring_workflow.submit_round(db.session, scoring_round, db.session.get(User, chair.user_id))
        for member in members:
            scoring_workflow.approve_round(db.session, scoring_round, db.session.get(User, member))
        scoring_workflow.publish_round(db.session, scoring_round, None)
        db.session.commit()
    set_clock(2026, 12, 10)
    with app.app_context():
        assert finalisation.finalise_round(db.session, db.session.get(ScoringRound, round_id), None)
        db.session.commit()
    set_clock(2026, 12, 31)
    stocktake(app, date(2026, 12, 31))
    set_clock(2027, 1, 4)
    chair = login_as("chair")
    assert close(chair, "2026-12").status_code == 302
    # the household the carried round scored is December's, with the round (not "1 次，0 户")
    assert counted("2026-12") == ("1", "1", "1")
    assert counted(MONTH) == ("0", "0", "0")  # November's reads as it did


def test_a_month_to_come_has_no_accounts_page(app, client):
    """A month after the current one is no page (404, 这个月还没到); the month in progress says it is
    published once closed."""
    set_clock(2026, 12, 2)
    for path in ("/accounts/2027-01", "/accounts/2099-01", "/accounts/2099-01.json"):
        answer = client.get(path)
        assert answer.status_code == 404 and "这个月还没到" in answer.get_data(as_text=True), path
    assert client.get("/accounts/2026-12").status_code == 200


def test_a_month_before_the_first_close_says_it_has_no_accounts_of_its_own(app, worked, login_as, client):  # noqa: F811
    """October, before the village's first close (November): as closed as November (months close in
    order; a claim or receipt dated in it is refused as closed), so the page must not say it is still
    to be closed — it says it has no accounts of its own and links to the first closed month."""
    before = client.get("/accounts/2026-10").get_data(as_text=True)
    assert "2026年10月还没有月结" in before  # nothing closed yet: October is open like any month
    _closed(app, login_as)
    page = client.get("/accounts/2026-10").get_data(as_text=True)
    assert "还没有月结" not in page and "2026年10月没有单独的账目：本村从2026年11月起月结" in page
    assert 'href="/accounts/2026-11"' in page
