"""三务公开 (/accounts): a closed month's accounts for everyone, equal to the figures frozen at its close;
an open month is not shown; no household is named; the hash on the page is the close's; any month
string that is not a month answers 404."""

import hashlib
import html
import json
import re

import pytest
import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.months.models import MonthClose
from pointsmart.shop.models import Goods

from .test_month_close import MONTH, close, set_clock, worked  # noqa: F401  (worked is a fixture)


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
