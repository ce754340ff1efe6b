"""A month walked end to end in real browsers (CSRF on, as in production), the village and the county
each served by waitress:

two families claim points from their phones (two 390×844 contexts, each with its own card); a panel
member answers the claims and attaches a photo to a score from the one-household scoring page; the
round is handed in, approved, put on notice and, once the notice has run (the app clock moves), made
to count; the shelves are counted; in December the chair closes November; the month's book prints to
an A4 PDF (more than one page, the seven ledgers, the cover's hash the close's) and its workbook
downloads (seven sheets, the bytes the close kept); the chair pushes to the county, and a county
reviewer opens the book the county rebuilds from the synced records: 一致, the same hash.
"""

import hashlib
import re
import subprocess
from types import SimpleNamespace

import openpyxl
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from pointsmart.cards import services as cards
from pointsmart.claims.models import Claim
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.months.models import MonthClose
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, workflow
from pointsmart.scoring.models import ScorePhoto, ScoringRound
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from ..conftest import VILLAGE_CODE, committing
from ..sync_support import register
from ..test_county_dashboard import county_user
from ..test_month_book import TITLES
from ..test_month_close import MONTH, set_clock
from ..test_uploads import phone_photo
from .conftest import ARTIFACTS, _open, console_errors, horizontal_overflow, login, screenshot
from .test_county_browser import serving_county
from .test_score_photos_browser import _camera_photo
from .test_scoring import FIRST_OF_TWO, SECOND_OF_TWO, approve, make_panel, publish_and_finalise, submit

#: the village and the county read and write differently on each database: this walk runs in both passes
pytestmark = pytest.mark.both_databases

PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP_1366 = {"viewport": {"width": 1366, "height": 768}}
CLAIMED = "乡村振兴巾帼行动 · 参加技能培训（+5 分）"


def _pdf_text(path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout.split("\f")[:-1]


def _pdf_pages(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.fixture
def november(app, make_user, make_household, village_id):
    """The village at the start of November: a rulebook with a claimable criterion, a panel of three
    (the chair and two members), two families with cards, soap on the shelf, November's round open."""
    set_clock(2026, 11, 2)
    chair, member1, member2 = make_panel(app, make_user, [("chair", []), ("panel", []), ("panel", [])])
    a = make_household(head_name="王秀兰", group="一社", household_no="01-001")
    b = make_household(head_name="李春梅", group="一社", household_no="01-002")
    with committing(app) as session:
        action = criteria.save_category(session, village_id, {"name": "乡村振兴巾帼行动"}, None)
        criteria.save_criterion(
            session,
            action,
            {
                "name": "参加技能培训",
                "points": 5,
                "cadence": "monthly",
                "max_per_period": 2,
                "claimable": True,
            },
            None,
        )
        yard = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        criteria.save_criterion(session, yard, {"name": "庭院整洁", "points": 3, "cadence": "monthly"}, None)
        round_id = workflow.create_round(session, home_village(session), "monthly", MONTH, "", None).id
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 10}, None)
        shop.receive_stock(session, soap, MoveKind.DONATION, 20, None, donor="爱心企业")
        tokens = [cards.issue_card(session, session.get(Household, h), None).token for h in (a, b)]
    return SimpleNamespace(
        chair=chair, member1=member1, member2=member2, households=(a, b), tokens=tokens, round=round_id
    )


def _claim_from_phone(browser, live_server, token: str, note: str, photo) -> None:
    """A family, on its own phone, claims 参加技能培训 with a photo from its card page."""
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        phone.goto(f"/c/{token}")
        phone.get_by_role("link", name="我要申领积分").click()
        phone.get_by_label("申领的积分条目").select_option(label=CLAIMED)
        phone.get_by_label("说明").fill(note)
        phone.get_by_label("照片（最多 3 张，可不传）").set_input_files(str(photo))
        phone.get_by_role("button", name="提交申领").click()
        expect(phone.locator(".flash-success")).to_contain_text("申领已提交")
        expect(phone.locator("#claims")).to_contain_text(note)
        expect(phone.locator("#claims .claim-status")).to_have_text("待审")
        assert horizontal_overflow(phone) <= 0
        assert console_errors(phone) == []
    finally:
        context.close()


def test_a_month_from_two_phones_to_the_countys_matching_book(
    app, county_app, browser, live_server, november, tmp_path
):
    walk = november
    photo = tmp_path / "培训签到.jpg"
    photo.write_bytes(phone_photo("JPEG", orientation=6))

    # --- 20 November: two families claim from their phones; neither sees the other's claim ---
    set_clock(2026, 11, 20)
    _claim_from_phone(browser, live_server, walk.tokens[0], "参加了电商直播培训", photo)
    _claim_from_phone(browser, live_server, walk.tokens[1], "参加了家政服务培训", photo)
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        phone.goto(f"/c/{walk.tokens[1]}")
        expect(phone.locator("#claims")).to_contain_text("家政服务培训")
        expect(phone.locator("body")).not_to_contain_text("电商直播培训")
    finally:
        context.close()

    # --- a panel member, on her phone: answers both claims, then a photo on a score ---
    context, member = _open(browser, live_server, PHONE_390)
    try:
        login(member, walk.member1)
        member.goto(f"/scoring/rounds/{walk.round}/claims")
        for number in ("01-001", "01-002"):
            item = member.locator(".claim-item", has_text=number)
            expect(item.locator(".claim-thumbs img")).to_have_count(1)
            item.get_by_role("button", name="采纳", exact=True).click()
            expect(member.locator(".flash-success")).to_contain_text(f"已采纳 {number} 的申领")
        member.goto(f"/scoring/rounds/{walk.round}/households")
        member.locator("ul.household-list a", has_text="王秀兰").click()
        member.get_by_label("条目").select_option(label="美丽庭院 · 庭院整洁")
        member.locator("input[type=file][name=photo]").set_input_files(
            {"name": "IMG_20261120.jpg", "mimeType": "image/jpeg", "buffer": _camera_photo()}
        )
        member.get_by_role("button", name="上传照片").click()
        expect(member.locator(".flash-success")).to_contain_text("已上传佐证照片")
        expect(member.locator(".photo-strip:not(.claim-evidence) li")).to_have_count(1)
        expect(member.locator(".photo-strip.claim-evidence li")).to_have_count(
            1
        )  # the accepted claim's photo
        assert horizontal_overflow(member) <= 0
        assert console_errors(member) == []
    finally:
        context.close()
    with app.app_context():
        accepted = db.session.scalars(sa.select(Claim.status)).all()
        assert sorted(accepted) == ["accepted", "accepted"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ScorePhoto)) == 1

    # --- handed in, approved by the two others, on notice, and made to count when the notice ends ---
    submit(browser, live_server, walk.member1, walk.round)
    approve(browser, live_server, walk.member2, walk.round, FIRST_OF_TWO)
    approve(browser, live_server, walk.chair, walk.round, SECOND_OF_TWO)
    context, desk = _open(browser, live_server, DESKTOP_1366)
    try:
        login(desk, walk.chair)
        publish_and_finalise(desk, walk.round)  # moves the clock past the five days' notice

        # --- 27 November: the shelves are counted (one bag short) ---
        set_clock(2026, 11, 27)
        desk.goto("/shop/stocktake")
        expect(desk.get_by_label("盘点日期")).to_have_value("2026-11-27")
        desk.get_by_label("盘点人").fill("王芳、李梅")
        desk.get_by_label("洗衣粉 实际数量").fill("19")
        desk.once("dialog", lambda dialog: dialog.accept())
        desk.get_by_role("button", name="保存盘点").click()
        expect(desk.locator(".flash-success")).to_contain_text("盘点已记录：1 种商品，1 种有差异。")

        # --- 3 December: the chair closes November ---
        set_clock(2026, 12, 3)
        desk.goto("/closing/")
        card = desk.locator(f"#m-{MONTH}")
        card.get_by_label("我已核对，月结后这个月的记录不能再改动").check()
        card.get_by_role("button", name="月结 2026年11月").click()
        expect(desk.locator(".flash-success")).to_contain_text("2026年11月已月结")
        with app.app_context():
            closed = db.session.scalars(sa.select(MonthClose)).one()
            sha, book_sha = closed.sha256, closed.book_sha256
            assert db.session.get(ScoringRound, walk.round).status == "finalised"
        assert re.fullmatch(r"[0-9a-f]{64}", sha) and re.fullmatch(r"[0-9a-f]{64}", book_sha)

        # --- the book, printed to A4: pages, the seven ledgers, the cover's hash ---
        desk.goto(f"/ledgers/book/{MONTH}")
        expect(desk.locator(".book-cover")).to_contain_text(sha)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pdf = ARTIFACTS / "month-walk-book-a4.pdf"
        desk.pdf(path=str(pdf), format="A4", prefer_css_page_size=True, print_background=True)
        count = _pdf_pages(pdf)
        pages = _pdf_text(pdf)
        assert count > 1 and len(pages) == count
        text = "\n".join(pages)
        for title in TITLES:
            assert title in text, title
        # the cover in reading order (the label and the hash each wrap over lines, side by side)
        cover = subprocess.run(
            ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        cover = re.sub(r"\s+", "", cover)
        printed = re.search(r"账目校验码([0-9a-f]{64})", cover)
        assert printed is not None, cover[:400]
        assert printed.group(1) == sha
        assert "王秀兰" in text and "李春梅" in text  # the families whose claims counted

        # --- the book's workbook: its cover and seven sheets, the very bytes the close kept ---
        with desk.expect_download() as downloading:
            desk.locator(".sheet-tools").get_by_role("link", name="导出 Excel").click()
        saved = tmp_path / "book.xlsx"
        downloading.value.save_as(saved)
        data = saved.read_bytes()
        assert hashlib.sha256(data).hexdigest() == book_sha
        workbook = openpyxl.load_workbook(saved)
        assert workbook.sheetnames == ["封面", *TITLES]  # the cover, then a ledger a sheet, in order
        facts = {row[0]: row[1] for row in workbook["封面"].iter_rows(values_only=True) if row[0] and row[1]}
        assert facts["月结"] == "已月结" and facts["账目校验码"] == sha

        # --- the chair pushes to the county from the sync page ---
        key = register(county_app)
        with serving_county(county_app) as county:
            app.config.update(POINTSMART_COUNTY_URL=county.url, POINTSMART_SYNC_KEY=key)
            desk.goto("/sync/")
            desk.get_by_role("button", name="现在同步").click()
            expect(desk.locator("#sync-waiting")).to_have_text("0", timeout=20_000)
            assert console_errors(desk) == []

            # --- a county reviewer opens November from the village's 月结 table ---
            reviewer = county_user(county_app)
            county_context, review = _open(browser, county, DESKTOP_1366)
            try:
                login(review, reviewer.username)
                review.goto(f"/county/villages/{VILLAGE_CODE}")
                row = review.locator(f"#close-{MONTH}")
                expect(row).to_contain_text("一致")
                row.get_by_role("link", name="2026年11月").click()
                review.wait_for_url(f"**/county/villages/{VILLAGE_CODE}/book/{MONTH}")
                expect(review.locator("#book-verdict")).to_have_text("✓ 一致")
                expect(review.locator("#village-sha")).to_have_text(sha)
                expect(review.locator("#county-sha")).to_have_text(sha)
                expect(review.locator("#book-goods")).to_contain_text("洗衣粉")
                expect(review.locator("#book-categories")).to_contain_text("乡村振兴巾帼行动")
                expect(review.locator("#book-rounds")).to_contain_text("已生效")
                assert horizontal_overflow(review) <= 0
                screenshot(review, "month-walk-county-book-1366")
                review.emulate_media(media="print")
                county_pdf = ARTIFACTS / "month-walk-county-book-a4.pdf"
                review.pdf(path=str(county_pdf), format="A4", print_background=True)
                printed_county = re.sub(r"\s+", "", "".join(_pdf_text(county_pdf)))
                assert (
                    sha in printed_county and "一致" in printed_county and "导出Excel" not in printed_county
                )
                review.emulate_media(media="screen")
                review.set_viewport_size({"width": 390, "height": 844})
                assert horizontal_overflow(review) <= 0
                screenshot(review, "month-walk-county-book-390")
                assert console_errors(review) == []
            finally:
                county_context.close()
    finally:
        context.close()
