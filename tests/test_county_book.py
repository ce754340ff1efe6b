"""The county's copy of a village's month (县里重建的月度台账): a county reviewer opens, from the 月结
table of the village page, the month's figures as the county rebuilds them from the synced records,
beside the hash the village froze; the two agree (一致), or, with a synced record changed, do not
(不一致). The same as a workbook. County roles only; an unknown village or month, or a malformed one,
is 404 and never a 500."""

import io
import json

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart.county.models import SyncedTransfer
from pointsmart.extensions import db
from pointsmart.months.guard import close_of
from pointsmart.org.services import home_village

from .conftest import VILLAGE_CODE
from .sync_support import push_all, register
from .test_county_dashboard import county_user, login
from .test_month_close import MONTH, close
from .test_month_close import worked as worked  # November's work, a fixture

BOOK = f"/county/villages/{VILLAGE_CODE}/book/{MONTH}"


@pytest.fixture
def synced(app, county_app, worked, login_as):
    """November closed by the chair and pushed to the county; the village's figures and hash."""
    assert close(login_as("chair")).status_code == 302
    push_all(app, county_app.test_client(), register(county_app))
    with app.app_context():
        done = close_of(db.session, home_village(db.session).id, MONTH)
        return done.sha256, json.loads(done.figures)


def test_the_reviewer_opens_the_month_from_the_close_table_and_reads_the_rebuilt_figures(county_app, synced):
    sha, figures = synced
    reviewer = login(county_app, county_user(county_app))
    village_page = reviewer.get(f"/county/villages/{VILLAGE_CODE}").get_data(as_text=True)
    assert f'href="{BOOK}"' in village_page
    response = reviewer.get(BOOK)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count(sha) == 2 and "✓ 一致" in page and "不一致" not in page
    assert "县里重建的月度台账" in page and "2026年11月" in page and "已月结" in page
    summary = page[page.index('id="book-summary"') :].replace("\n", "").replace("  ", "")
    points = figures["points"]
    for label, value in (("发放积分", points["issued"]), ("兑换积分", points["redeemed"])):
        assert f'<td>{label}</td><td class="num">{value}</td>' in summary, label
    # the categories with their points, the goods by name (from the synced goods), the round
    assert "环境卫生" in page and "家庭美德" in page
    assert "洗衣粉" in page and "毛巾" in page
    assert "爱心企业" not in page  # figures, not the donation register
    rounds = page[page.index('id="book-rounds"') :]
    assert "2026年11月" in rounds and "已生效" in rounds
    assert figures["households_scored"] == 4


def test_the_workbook_holds_the_same_figures_and_both_hashes(county_app, synced):
    sha, figures = synced
    reviewer = login(county_app, county_user(county_app))
    response = reviewer.get(f"{BOOK}.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert reviewer.get(f"{BOOK}.xlsx").data == response.data  # the same records, the same bytes
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert len(book.sheetnames) == 7  # the cover, and the photos ledger
    cells = {
        title: [tuple(row) for row in book[title].iter_rows(values_only=True)] for title in book.sheetnames
    }
    # the cover: the village's close, both hashes (the county's rebuilt one named so), the sheets
    assert book.sheetnames[0] == "封面"
    cover = cells["封面"]
    facts = {row[0]: row[1] for row in cover if row[0] and row[1]}
    assert facts["月份"] == "2026年11月" and facts["月结"] == "已月结" and facts["月结时间"]
    assert facts["账目校验码"] == facts["账目校验码（县里重算）"] == sha and facts["核对"] == "一致"
    assert [row[1] for row in cover if isinstance(row[0], int)] == book.sheetnames[1:]
    check = dict(row[:2] for row in cells[book.sheetnames[1]][2:])
    assert check["村里的账目校验码"] == check["县里重算的账目校验码"] == sha and check["核对"] == "一致"
    summary = dict(row[:2] for row in cells[book.sheetnames[2]][2:])
    assert summary["发放积分"] == figures["points"]["issued"]
    assert summary["兑换积分"] == figures["points"]["redeemed"]
    assert summary["得分农户"] == figures["households_scored"]
    goods = {row[0]: row for row in cells[book.sheetnames[4]][2:]}
    soap = next(v for u, v in figures["goods"].items() if goods["洗衣粉"][-1] == v["stock"])
    assert goods["洗衣粉"][3] == soap["donated"] == 20
    assert goods["洗衣粉"][2] == soap["opening"] == 0  # 期初库存: nothing before November


def test_a_changed_synced_record_shows_as_not_agreeing(county_app, synced):
    sha, _figures = synced
    with county_app.app_context():
        first = db.session.scalars(
            sa.select(SyncedTransfer).where(SyncedTransfer.kind == "award").order_by(SyncedTransfer.id)
        ).first()
        first.amount += 1
        db.session.commit()
    reviewer = login(county_app, county_user(county_app))
    page = reviewer.get(BOOK).get_data(as_text=True)
    assert "✕ 不一致" in page and page.count(sha) == 1
    book = openpyxl.load_workbook(io.BytesIO(reviewer.get(f"{BOOK}.xlsx").data))
    check = dict(row[:2] for row in list(book.worksheets[1].iter_rows(values_only=True))[2:])
    assert check["核对"] == "不一致" and check["村里的账目校验码"] == sha != check["县里重算的账目校验码"]
    cover = {row[0]: row[1] for row in book["封面"].iter_rows(values_only=True) if row[0] and row[1]}
    assert cover["核对"] == "不一致" and cover["账目校验码"] == sha != cover["账目校验码（县里重算）"]


def test_a_month_not_closed_yet_is_shown_as_the_county_has_it(app, county_app, worked):
    push_all(app, county_app.test_client(), register(county_app))
    reviewer = login(county_app, county_user(county_app))
    response = reviewer.get(BOOK)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="book-verdict">未月结' in page and "以后还可能变化" in page and "洗衣粉" in page
    assert "本月还没有结束" not in page
    # this month (December) is not over: shown, and said so
    december = reviewer.get(f"/county/villages/{VILLAGE_CODE}/book/2026-12").get_data(as_text=True)
    assert "本月还没有结束，数字还会变化。" in december and 'id="book-verdict">未月结' in december


@pytest.mark.parametrize(
    "month",
    [
        "2026-13",
        "2026-00",
        "0000-01",
        "9999-12",
        "2026-1",
        "2026年11月",
        "２０２６-１１",
        "x" * 500,
        "2026-11-01",
        "-2026-11",
        "%00",
        "2026-Q4",
    ],
)
def test_a_bad_month_is_404_never_500(county_app, synced, month):
    reviewer = login(county_app, county_user(county_app))
    for suffix in ("", ".xlsx"):
        assert reviewer.get(f"/county/villages/{VILLAGE_CODE}/book/{month}{suffix}").status_code == 404, month


def test_unknown_villages_and_months_and_other_townships_are_404(county_app, synced):
    reviewer = login(county_app, county_user(county_app))
    for url in (
        "/county/villages/999999999999/book/2026-11",
        f"/county/villages/{'9' * 500}/book/2026-11",
        "/county/villages/%00%27/book/2026-11",
        f"/county/villages/{VILLAGE_CODE}/book/2026-09",  # before anything was synced
        f"/county/villages/{VILLAGE_CODE}/book/2027-01",  # not begun
        f"/county/villages/{VILLAGE_CODE}/book/2030-01",
    ):
        assert reviewer.get(url).status_code == 404, url
        assert reviewer.get(url + ".xlsx").status_code == 404, url
    elsewhere = login(county_app, county_user(county_app, township="620123999000"))
    assert elsewhere.get(BOOK).status_code == 404
    assert elsewhere.get(f"{BOOK}.xlsx").status_code == 404
    admin = login(county_app, county_user(county_app, role="county_admin"))
    assert admin.get(BOOK).status_code == 200
    assert county_app.test_client().get(BOOK).status_code in (302, 401, 404)


def test_the_village_instance_has_no_county_book(app, worked, login_as):
    assert login_as("chair").get(BOOK).status_code == 404


def test_a_receipt_typed_in_later_is_in_the_month_written_on_it_in_the_village_and_the_county(
    app, county_app, worked, login_as
):
    """Soap bars come on 25 November and are typed in on 3 December, with the day they came: the
    village's book of November lists them in its 分值对应表 (in force from that day), its shop month
    report counts the purchase in November and not in December, and the county's rebuilt November
    has them too, its hash agreeing with the village's."""
    from datetime import date

    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    with app.app_context():
        village_id = home_village(db.session).id
        bars = shop.save_goods(db.session, village_id, {"name": "香皂", "spec": "块", "price": 8}, None)
        shop.receive_stock(db.session, bars, MoveKind.PURCHASE, 6, None, moved_on=date(2026, 11, 25))
        db.session.commit()
    chair = login_as("chair")
    page = chair.get(f"/ledgers/book/{MONTH}").get_data(as_text=True)
    prices = page[page.index('id="book-prices"') : page.index('id="book-register"')]
    assert "香皂" in prices and "2026-11-25" in prices
    cells = [row for row in _sheet(chair.get(f"/ledgers/book/{MONTH}.xlsx").data, "分值对应表台账")]
    assert [r for r in cells if "香皂" in r][0][3] == 8
    assert "香皂" not in chair.get("/ledgers/book/2026-10").get_data(as_text=True)

    november = chair.get(f"/shop/reports/monthly?month={MONTH}").get_data(as_text=True)
    intakes = november[november.index("捐赠和采购入库") :]
    assert "香皂" in intakes and "2026-11-25" in intakes
    december = chair.get("/shop/reports/monthly?month=2026-12").get_data(as_text=True)
    assert "2026-11-25" not in december[december.index("捐赠和采购入库") :]

    assert close(chair).status_code == 302
    push_all(app, county_app.test_client(), register(county_app))
    reviewer = login(county_app, county_user(county_app))
    county = reviewer.get(BOOK).get_data(as_text=True)
    assert "✓ 一致" in county and "香皂" in county[county.index('id="book-goods"') :]
    with app.app_context():
        assert close_of(db.session, village_id, MONTH).sha256 in county


def _sheet(data: bytes, title: str) -> list[tuple]:
    return [tuple(row) for row in openpyxl.load_workbook(io.BytesIO(data))[title].iter_rows(values_only=True)]
