"""One book per month (台账汇编): the seven ledgers of a month on one printable page and in one workbook.

A village's November: an October round carried into it, November's round (finalised, with minutes
and a notice photo), a quarterly round that belongs to December, soap given and redeemed, its price
changed in November and again in December, a stocktake. The book of November holds what is
November's and nothing else, its workbook has the figures of its page and the same bytes each time.
"""

import io
from datetime import date, datetime
from types import SimpleNamespace

import openpyxl
import pytest

from pointsmart import book
from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.cards.models import Card
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import Period
from pointsmart.scoring import ledgers, meeting_minutes, notice_photos
from pointsmart.scoring.models import ScoringRound
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind

from .conftest import committing
from .test_scoring_reports import _jpeg, _round
from .test_scoring_reports import scene as scene  # a fixture of the rulebook and the panel
from .test_shop_reports import set_clock

NOV = Period("month", 2026, 11)
TITLES = [
    "物资盘点台账",
    "分值对应表台账",
    "积分登记台账",
    "打分表台账",
    "积分评定会议记录台账",
    "积分公示影视资料台账",
    "积分兑换（领取）台账",
]


def november(app, scene, make_household, more: int = 0) -> SimpleNamespace:
    """The month the tests read, with ``more`` households scored too; returns the ids of the first
    household and of the rounds."""
    set_clock(datetime(2026, 10, 20, 2, 0))
    a = make_household(head_name="马春梅", points=100)
    b = make_household(head_name="赵冬梅")
    others = [make_household(head_name=f"陈玉兰{n}", group=f"{n % 3 + 1}社") for n in range(more)]
    with committing(app) as session:
        october = _round(session, scene, "2026-10", {(a, "庭院整洁"): 1}).id
    set_clock(datetime(2026, 11, 2, 2, 0))
    with committing(app) as session:
        village_id = home_village(session).id
        chair = session.get(User, scene.chair)
        card = cards.issue_card(session, session.get(Household, a), None)
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 30}, chair.id)
        shop.receive_stock(session, soap, MoveKind.DONATION, 10, chair.id, donor="爱心企业甲")
        soap_id, card_id = soap.id, card.id
    set_clock(datetime(2026, 11, 5, 2, 0))
    with committing(app) as session:
        redemptions.redeem(
            session, village_id, session.get(Card, card_id), [(soap_id, 1)], session.get(User, scene.chair)
        )
    set_clock(datetime(2026, 11, 20, 2, 0))
    with committing(app) as session:
        soap = session.get(Goods, soap_id)
        shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 25}, scene.chair, soap)
    set_clock(datetime(2026, 11, 24, 2, 0))
    with committing(app) as session:
        shop.record_stocktake(
            session, village_id, date(2026, 11, 24), "王秀兰、李春梅", {soap_id: 9}, scene.chair, "月末盘点"
        )
    set_clock(datetime(2026, 11, 25, 2, 0))
    with committing(app) as session:
        scores = {(a, "庭院整洁"): 1, (a, "参加志愿服务"): 2, (b, "乱堆乱放"): 1}
        scores |= {(h, "庭院整洁" if n % 2 else "参加志愿服务"): 1 for n, h in enumerate(others)}
        found = _round(session, scene, "2026-11", scores)
        meeting_minutes.save_minutes(
            session,
            found,
            {
                "held_on": date(2026, 11, 26),
                "place": "村委会议室",
                "panel_present": scene.panel[:2],
                "decisions": "同意本月评定结果",
                "notes": "",
            },
            scene.chair,
        )
        nov_id = found.id
    with committing(app) as session:
        photo = notice_photos.add_photo(
            session,
            session.get(ScoringRound, nov_id),
            _jpeg(),
            "notice.jpg",
            date(2026, 11, 26),
            None,
            ledgers._uploads(),
            scene.chair,
        )
        assert photo.id
    set_clock(datetime(2026, 12, 5, 2, 0))
    with committing(app) as session:
        soap = session.get(Goods, soap_id)
        shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 20}, scene.chair, soap)
        quarter = _round(session, scene, "2026-Q4", {(a, "绿化"): 1}, stop="draft", period_type="quarterly")
        quarter_id = quarter.id
    return SimpleNamespace(a=a, october=october, november=nov_id, quarter=quarter_id)


@pytest.fixture
def month(app, scene, make_household, login_as):
    found = november(app, scene, make_household)
    found.chair = login_as("chair")
    return found


def _sheet(data: bytes, title: str) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return [tuple(row) for row in workbook[title].iter_rows(values_only=True)]


def test_the_book_prints_the_seven_ledgers_of_the_month_and_nothing_of_another(month):
    page = month.chair.get("/ledgers/book/2026-11")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for title in TITLES:
        assert text.count(title) >= 2, title  # in the contents and over its ledger
    assert "未月结" in text and "目录" in text
    assert text.count(">制表人<") == 7 and text.count(">审核人<") == 7
    assert "2026年11月 月评定" in text and "2026年第4季度" not in text  # the quarter ends in December
    assert "马春梅" in text and "同意本月评定结果" in text and "王秀兰、李春梅" in text
    assert "/ledgers/photos/" in text  # the notice photo
    # the price at the month's end (25), the earlier one as history; December's change is not there
    assert "25 分" in text and "30 分（" in text and "20 分" not in text
    # the register: October brought forward (5), November's 11 on top
    assert "上期结转" in text and ">16<" in text

    december = month.chair.get("/ledgers/book/2026-12").get_data(as_text=True)
    assert "2026年第4季度 季评定" in december and "2026年11月 月评定" not in december
    assert "20 分" in december


def test_the_workbook_has_a_sheet_per_ledger_with_the_figures_of_the_page(month):
    answer = month.chair.get("/ledgers/book/2026-11.xlsx")
    assert answer.status_code == 200
    assert answer.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert workbook.sheetnames == ["封面", *TITLES]
    cover = _sheet(answer.data, "封面")
    facts = {row[0]: row[1] for row in cover if row[0] and row[1]}
    assert facts["月份"] == "2026年11月" and facts["月结"].startswith("未月结")
    assert "月结人" not in facts and "账目校验码" not in facts  # an open month has no close to name
    contents = [row[1:] for row in cover if isinstance(row[0], int)]
    assert [name for name, _what in contents] == TITLES
    assert dict(contents)["积分兑换（领取）台账"] == "1 笔兑换"
    scores = _sheet(answer.data, "打分表台账")
    header = next(row for row in scores if row and row[0] == "户号")
    row = next(row for row in scores if row and row[1] == "马春梅")
    assert row[header.index("合计")] == 11  # 5 + 2 × 3, as the page shows it
    assert ">+11<" in month.chair.get("/ledgers/book/2026-11").get_data(as_text=True)
    redeemed = _sheet(answer.data, "积分兑换（领取）台账")
    assert next(r for r in redeemed if r[0] == "净兑换积分")[7] == 30
    register = _sheet(answer.data, "积分登记台账")
    assert [r[-1] for r in register if r[1] == "马春梅"] == [5, 16]
    prices = _sheet(answer.data, "分值对应表台账")
    assert next(r for r in prices if r[1] == "洗衣粉")[3] == 25
    assert len(workbook["积分公示影视资料台账"]._images) == 1
    assert any(r[1] == "同意本月评定结果" for r in _sheet(answer.data, "积分评定会议记录台账"))


def test_the_workbook_is_the_same_bytes_for_the_same_data(app, month):
    first = month.chair.get("/ledgers/book/2026-11.xlsx").data
    set_clock(datetime(2026, 12, 9, 13, 37, 11))  # another day, another second
    second = month.chair.get("/ledgers/book/2026-11.xlsx").data
    assert first == second
    with app.app_context():
        from pointsmart.extensions import db

        village = home_village(db.session)
        rebuilt = book.book_xlsx(book.month_book(db.session, village.id, NOV), village, ledgers._uploads())
    assert rebuilt == first
    workbook = openpyxl.load_workbook(io.BytesIO(first))
    assert workbook.properties.modified == datetime(2026, 12, 1)


def test_the_cover_of_an_open_month_says_it_is_not_closed(month):
    """(A closed month's cover — who, when, both hashes — is tested with the close itself, in
    tests/test_month_close.py.)"""
    text = month.chair.get("/ledgers/book/2026-10").get_data(as_text=True)
    assert "未月结" in text and "这个月还没有月结" in text


def test_the_ledgers_index_links_each_months_book(month):
    text = month.chair.get("/ledgers/").get_data(as_text=True)
    for key in ("2026-10", "2026-11", "2026-12"):
        assert f'href="/ledgers/book/{key}"' in text
    assert 'href="/ledgers/book/2026-09"' not in text


@pytest.mark.parametrize(
    "month_text",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "abc",
        "2026-11x",
        "1999-12",
        "2100-01",
        "２０２６-１１",
        "2026年11月",
        "-2026-11",
        "9" * 6000,
        "2026-11%00",
        "2026-11 ",
    ],
)
def test_a_month_that_is_not_yyyy_mm_is_not_a_book(login_as, month_text):
    chair = login_as("chair")
    assert chair.get(f"/ledgers/book/{month_text}").status_code == 404
    assert chair.get(f"/ledgers/book/{month_text}.xlsx").status_code == 404


def test_the_book_is_for_the_chair_and_the_panel_only(app, login_as):
    assert login_as("panel").get("/ledgers/book/2026-11").status_code == 200
    assert login_as("panel").get("/ledgers/book/2026-11.xlsx").status_code == 200
    assert login_as("shopkeeper").get("/ledgers/book/2026-11").status_code == 403
    assert login_as("shopkeeper").get("/ledgers/book/2026-11.xlsx").status_code == 403
    anonymous = app.test_client().get("/ledgers/book/2026-11")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_an_empty_month_still_makes_a_whole_book(login_as):
    chair = login_as("chair")
    text = chair.get("/ledgers/book/2026-03").get_data(as_text=True)
    assert all(title in text for title in TITLES)
    assert "这个月没有盘点记录。" in text and "本月没有评定。" in text
    workbook = openpyxl.load_workbook(io.BytesIO(chair.get("/ledgers/book/2026-03.xlsx").data))
    assert workbook.sheetnames == ["封面", *TITLES]


def test_a_round_belongs_to_the_month_its_period_ends_in(app, month):
    with app.app_context():
        from pointsmart.extensions import db

        village_id = home_village(db.session).id
        assert [r.id for r in book.month_rounds(db.session, village_id, NOV)] == [month.november]
        assert [r.id for r in book.month_rounds(db.session, village_id, Period("month", 2026, 12))] == [
            month.quarter
        ]
        assert book.month_rounds(db.session, village_id, Period("month", 2026, 10))[0].id == month.october


def test_a_month_to_come_has_no_book_but_the_month_in_progress_has(login_as):
    """On 2 December 2026 the book of December (the month in progress) opens; January 2027 and
    December 2099 are no book yet: 404 saying the month has not come."""
    from .test_month_close import set_clock

    set_clock(2026, 12, 2)
    chair = login_as("chair")
    assert chair.get("/ledgers/book/2026-12").status_code == 200
    for month_text in ("2027-01", "2099-12"):
        for suffix in ("", ".xlsx"):
            answer = chair.get(f"/ledgers/book/{month_text}{suffix}")
            assert answer.status_code == 404 and "这个月还没到" in answer.get_data(as_text=True), month_text
