"""The village core in a real browser, as the chair uses it: import the roster, find a household,
adjust its points, on the office PC and on a cheap phone; bad spreadsheets; logging out."""

import re

import openpyxl
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from pointsmart.extensions import db
from pointsmart.households.models import Household

from .conftest import console_errors, horizontal_overflow, login, screenshot

HEADERS = ("户号", "户主姓名", "村民小组", "联系电话", "家庭人口", "住址", "标签")
ROSTER = [
    ("03-001", "王秀英", "一社", "13893100001", 4, "上庄村一社 12 号", "最美家庭"),
    ("03-002", "李桂兰", "一社", "13893100002", 3, "上庄村一社 15 号", ""),
    ("03-003", "张玉梅", "二社", "13893100003", 5, "上庄村二社 3 号", "美丽庭院,孝老爱亲"),
    ("03-004", "刘淑珍", "二社", "", 2, "上庄村二社 8 号", ""),
    ("03-005", "陈凤英", "三社", "13893100005", 6, "上庄村三社 21 号", "志愿服务"),
]


def write_roster(path, rows) -> str:
    """A roster workbook as a village keeps it: Chinese headers in row 1, one household a row."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "农户名册"
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return str(path)


def household_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Household.id)))


def upload(page: Page, path: str) -> None:
    """From the household list: 从 Excel 导入 → choose the file → 上传并预览."""
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="农户").click()
    page.get_by_role("link", name="从 Excel 导入").click()
    expect(page.get_by_role("heading", name="导入农户名册")).to_be_visible()
    page.get_by_label("名册文件").set_input_files(path)
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_role("heading", name=re.compile("^预览"))).to_be_visible()


def find_and_open(page: Page, name: str) -> None:
    """Search the household list by the head's name and open that household."""
    page.get_by_role("searchbox", name="查找农户").fill(name)
    page.get_by_role("button", name="查找").click()
    expect(page.get_by_text("共 1 户")).to_be_visible()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def adjust(page: Page, points: int, reason: str) -> None:
    page.get_by_label("积分（扣分填负数）").fill(str(points))
    page.get_by_label("原因", exact=True).fill(reason)
    page.get_by_role("button", name="记录", exact=True).click()


def balance(page: Page):
    """The balance the household page shows in big figures (its 积分余额 stat)."""
    return page.locator("#balance")


def test_chair_imports_roster_finds_household_and_adjusts_points(page, live_server, chair, tmp_path):
    roster = write_roster(tmp_path / "名册.xlsx", ROSTER)
    login(page, chair)

    upload(page, roster)
    expect(page.locator("#added")).to_have_text("新增 5 户")
    expect(page.locator("#problems")).to_have_text("错误 0 行")
    for _no, name, *_rest in ROSTER:
        expect(page.get_by_role("cell", name=name, exact=True)).to_be_visible()
    screenshot(page, "village-core-import-preview")
    assert household_count(live_server.app) == 0, "the preview must not write anything"
    page.get_by_role("button", name="确认导入").click()
    expect(page.get_by_role("status")).to_have_text("导入完成：新增 5 户，修改 0 户，未变 0 户。")
    expect(page.get_by_text("共 5 户")).to_be_visible()
    screenshot(page, "village-core-household-list")

    find_and_open(page, "李桂兰")
    expect(page.get_by_role("heading", level=1)).to_contain_text("03-002")
    expect(balance(page)).to_have_text("0")
    expect(page.get_by_text("还没有积分记录。")).to_be_visible()

    adjust(page, 30, "打扫村道，志愿服务")
    expect(page.get_by_role("status")).to_have_text("已记录 30 分，当前余额 30 分。")
    expect(balance(page)).to_have_text("30")
    row = page.get_by_role("row").filter(has_text="打扫村道，志愿服务")
    expect(row).to_contain_text("积分调整")
    expect(row).to_contain_text("+30")

    adjust(page, -100, "乱倒垃圾")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("扣分后余额不能为负：现有 30 分，扣 100 分。")
    expect(balance(page)).to_have_text("30")
    expect(page.get_by_role("row").filter(has_text="乱倒垃圾")).to_have_count(0)
    screenshot(page, "village-core-household-refused-deduction")

    upload(page, roster)
    expect(page.locator("#added")).to_have_text("新增 0 户")
    expect(page.locator("#changed")).to_have_text("修改 0 户")
    expect(page.get_by_text("未变 5 户")).to_be_visible()
    expect(page.get_by_role("button", name="确认导入")).to_be_disabled()
    assert household_count(live_server.app) == 5
    assert console_errors(page) == []


def test_phone_search_open_and_adjust_without_sideways_scrolling(phone, chair, make_household):
    make_household(head_name="王秀英", household_no="01-001", address="上庄村一社 12 号")
    make_household(
        points=12,
        head_name="欧阳春花",
        household_no="01-002",
        phone="13893100002",
        members=7,
        address="甘肃省兰州市榆中县某某镇上庄村第一村民小组二十八号院",
        tags="最美家庭,美丽庭院,孝老爱亲,移风易俗,志愿服务",
    )
    make_household(head_name="张玉梅", household_no="02-001", group="二社")

    login(phone, chair)
    assert phone.evaluate("() => window.innerWidth") == 360
    assert horizontal_overflow(phone) <= 0, "home page scrolls sideways"

    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="农户").tap()
    expect(phone.get_by_text("共 3 户")).to_be_visible()
    assert horizontal_overflow(phone) <= 0, "household list scrolls sideways"

    phone.get_by_role("searchbox", name="查找农户").tap()
    phone.keyboard.type("欧阳")
    phone.get_by_role("button", name="查找").tap()
    expect(phone.get_by_text("共 1 户")).to_be_visible()
    assert horizontal_overflow(phone) <= 0, "search results scroll sideways"
    phone.get_by_role("link", name="欧阳春花").tap()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("欧阳春花")
    expect(balance(phone)).to_have_text("12")
    assert horizontal_overflow(phone) <= 0, "household page scrolls sideways"

    phone.get_by_label("积分（扣分填负数）").tap()
    phone.keyboard.type("30")
    phone.get_by_label("原因", exact=True).tap()
    phone.keyboard.type("美丽庭院月评")
    phone.get_by_role("button", name="记录", exact=True).tap()
    expect(phone.get_by_role("status")).to_have_text("已记录 30 分，当前余额 42 分。")
    expect(balance(phone)).to_have_text("42")
    assert horizontal_overflow(phone) <= 0, "household page scrolls sideways after the adjustment"
    screenshot(phone, "village-core-phone-household")

    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="农户").tap()
    expect(phone.get_by_role("row").filter(has_text="欧阳春花")).to_contain_text("42")
    assert horizontal_overflow(phone) <= 0, "household list scrolls sideways"
    screenshot(phone, "village-core-phone-list")
    assert console_errors(phone) == []


def test_import_with_a_bad_row_names_the_row_and_imports_nothing(page, live_server, chair, tmp_path):
    rows = [*ROSTER[:3], ("03-001", "赵兰芳", "三社", "", 3, "", "")]  # row 5 repeats the 户号 of row 2
    login(page, chair)

    upload(page, write_roster(tmp_path / "重复户号.xlsx", rows))
    expect(page.locator("#problems")).to_have_text("错误 1 行")
    problem = page.get_by_role("listitem").filter(has_text="第 5 行")
    expect(problem).to_contain_text("03-001")
    expect(problem).to_contain_text("重复")
    expect(problem).to_contain_text("第 2 行")
    expect(page.get_by_text("本次不会导入任何数据")).to_be_visible()
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    screenshot(page, "village-core-import-bad-row")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="农户").click()
    expect(page.get_by_text("共 0 户")).to_be_visible()
    expect(page.get_by_text("没有找到农户。")).to_be_visible()
    assert household_count(live_server.app) == 0
    assert console_errors(page) == []


def test_after_logout_back_and_refresh_land_on_the_login_page(page, chair, make_household):
    household_id = make_household(points=5, head_name="王秀英")
    login(page, chair)
    page.goto(f"/households/{household_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("王秀英")

    page.get_by_role("button", name="退出", exact=True).click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.get_by_text("已退出登录。")).to_be_visible()

    on_login_page = re.compile(r"/login(\?|$)")
    page.go_back()
    expect(page).to_have_url(on_login_page)
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.get_by_text("王秀英")).to_have_count(0)

    page.reload()
    expect(page).to_have_url(on_login_page)
    expect(page.get_by_text("王秀英")).to_have_count(0)

    page.goto(f"/households/{household_id}")
    expect(page).to_have_url(on_login_page)
    expect(page.get_by_text("王秀英")).to_have_count(0)

    # Logging in again returns to the page that was asked for.
    login(page, chair)
    expect(page).to_have_url(re.compile(rf"/households/{household_id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("王秀英")
    assert console_errors(page) == []


def test_a_new_head_for_a_household_with_points_needs_the_chairs_tick(
    page, live_server, chair, make_household, tmp_path
):
    make_household(points=150, household_no="03-001", head_name="王秀英", group="一社")
    renamed = [("03-001", "王小英", *ROSTER[0][2:]), *ROSTER[1:]]
    login(page, chair)

    upload(page, write_roster(tmp_path / "换户主.xlsx", renamed))
    warning = page.locator("#head-changes")
    expect(warning).to_be_visible()
    expect(warning.get_by_role("row").filter(has_text="03-001")).to_contain_text("王秀英")
    expect(warning.get_by_role("row").filter(has_text="03-001")).to_contain_text("王小英")
    expect(warning.get_by_role("row").filter(has_text="03-001")).to_contain_text("150 分")
    screenshot(page, "village-core-import-head-change")
    page.get_by_role("button", name="确认导入").click()  # not ticked: the browser keeps the page
    expect(warning).to_be_visible()
    with live_server.app.app_context():
        assert (
            db.session.scalar(sa.select(Household.head_name).where(Household.household_no == "03-001"))
            == "王秀英"
        )

    page.get_by_label(re.compile("我已逐户核对")).check()
    page.get_by_role("button", name="确认导入").click()
    expect(page.get_by_role("status")).to_have_text("导入完成：新增 4 户，修改 1 户，未变 0 户。")
    with live_server.app.app_context():
        assert (
            db.session.scalar(sa.select(Household.head_name).where(Household.household_no == "03-001"))
            == "王小英"
        )
    assert console_errors(page) == []


def _issue_cards_to(live_server, household_ids):
    from pointsmart.cards import services as cards

    with live_server.app.app_context():
        made = [cards.issue_card(db.session, db.session.get(Household, h), None) for h in household_ids]
        db.session.commit()
        return [c.id for c in made]


def test_lost_card_forms_stay_on_a_phone_screen_and_revoking_asks(phone, live_server, chair, make_household):
    ids = [make_household(head_name=name) for name in ("欧阳春花", "王秀英")]
    card_id = _issue_cards_to(live_server, ids)[0]
    login(phone, chair)
    phone.goto("/cards")
    assert horizontal_overflow(phone) <= 0, "cards page scrolls sideways"
    row = phone.get_by_role("row").filter(has_text="欧阳春花")
    row.get_by_text("挂失补办").tap()
    reason = row.get_by_label("作废原因")
    expect(reason).to_be_visible()
    width = phone.evaluate("() => window.innerWidth")
    for control in (
        reason,
        row.get_by_role("button", name="只作废"),
        row.get_by_role("button", name="作废旧卡并补办"),
    ):
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, "a lost-card control is off the screen"
    assert horizontal_overflow(phone) <= 0, "the open lost-card forms push the page sideways"
    screenshot(phone, "village-core-phone-lost-card")

    reason.fill("丢失")
    asked = []
    phone.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    row.get_by_role("button", name="只作废").tap()
    expect(phone.get_by_role("status")).to_contain_text("已作废")
    assert "将作废" in asked[0] and "不能撤回" in asked[0] and "欧阳春花" in asked[0]

    phone.goto(f"/cards/{card_id}")
    expect(phone.get_by_role("heading", name="此卡已作废，不能使用")).to_be_visible()
    expect(phone.locator("img.pc-qr")).to_have_count(0)
    assert horizontal_overflow(phone) <= 0
    assert console_errors(phone) == []


def test_print_the_cards_just_issued_and_the_selected_ones(page, live_server, chair, make_household):
    first = make_household(head_name="老户")
    _issue_cards_to(live_server, [first])
    make_household(head_name="新甲")
    make_household(head_name="新乙")
    login(page, chair)
    page.goto("/cards")
    page.get_by_role("button", name="为所有未发卡的农户发卡").click()
    expect(page.get_by_role("status")).to_have_text("已为 2 户发卡。")
    page.get_by_role("link", name="打印刚发的 2 张卡").click()
    expect(page.locator(".point-card")).to_have_count(2)
    expect(page.locator(".card-sheet")).to_contain_text("新甲")
    expect(page.locator(".card-sheet")).not_to_contain_text("老户")

    page.goto("/cards")
    page.get_by_label(re.compile("选中 .* 老户 的卡")).check()
    page.get_by_role("button", name="打印选中的卡").click()
    expect(page.locator(".point-card")).to_have_count(1)
    expect(page.locator(".card-sheet")).to_contain_text("老户")
    assert console_errors(page) == []


#: the texts among ``selector``'s elements that the browser broke over more than one line
#: the elements whose text runs over more than one line (the lines of their text nodes, not of the boxes
#: around them: a link made a tall tap target is one box, however its text sits in it)
WRAPPED = """selector => [...document.querySelectorAll(selector)].filter(el => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const tops = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
  }
  return tops.size > 1;
}).map(el => el.textContent.trim())"""


def test_names_and_household_numbers_never_break_on_a_phone(phone, live_server, chair, make_household):
    for no, name in (("01-001", "欧阳春花"), ("12-0345-A", "司马建国"), ("03-017", "王秀英")):
        make_household(head_name=name, household_no=no, group="十一社")
    _issue_cards_to(live_server, [make_household(head_name="慕容秀兰", household_no="04-0211")])
    login(phone, chair)
    for url in ("/households/", "/cards"):
        phone.goto(url)
        expect(phone.locator(".hh-name").first).to_be_visible()
        assert phone.evaluate(WRAPPED, ".hh-no, .hh-name") == [], url
        assert horizontal_overflow(phone) <= 0, url
    assert console_errors(phone) == []


def test_a_file_too_large_for_the_server_is_refused_before_it_is_sent(page, live_server, chair):
    """The server takes at most 8 MB a request and could only cut the connection: the page says so first."""
    login(page, chair)
    page.goto("/households/import")
    picker = page.locator("input[type=file]")
    big = {"name": "花名册.xlsx", "mimeType": "application/octet-stream", "buffer": b"\0" * (9 * 1024 * 1024)}
    picker.set_input_files(big)
    message = picker.evaluate("el => el.validationMessage")
    assert "这个文件有 9 MB，一次最多只能传 8 MB" in message, message
    picker.set_input_files({**big, "buffer": b"\0" * 1024})
    assert picker.evaluate("el => el.validationMessage") == ""
