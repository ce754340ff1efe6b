"""The chair's to-do home, the settings page and the sync page in Chromium, at 1366×768 and 390×844
and printed on A4: each line is readable, each button is pressed as a person would, nothing overflows
sideways, and every tap target on the phone is at least 40 px."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, panels, score_entry, workflow
from pointsmart.shop import services as shop

from ..conftest import DB, committing
from .conftest import ARTIFACTS, PHONE, _open, console_errors, horizontal_overflow, login, screenshot
from .gallery_support import TAPS_JS

LAPTOP = {"viewport": {"width": 1366, "height": 768}}
#: a larger phone than the suite's default one
PHONE_390 = PHONE | {"viewport": {"width": 390, "height": 844}, "screen": {"width": 390, "height": 844}}
KEY = "pmk_Zs8Tq0uVw3xYAbCdEfGh-9a7Q"


@pytest.fixture
def laptop(browser, live_server):
    context, page = _open(browser, live_server, LAPTOP)
    yield page
    context.close()


@pytest.fixture
def phone390(browser, live_server):
    context, page = _open(browser, live_server, PHONE_390)
    yield page
    context.close()


@pytest.fixture
def busy_village(app, village_id, make_user, make_household):
    """A village where something of each kind waits for the chair."""
    hid = make_household(head_name="陈玉兰", household_no="06-001")
    member_ids = [make_user("panel")[0], make_user("panel")[0]]
    submitter_id = make_user("chair")[0]  # the member who submits a round may not approve it
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        criteria.save_criterion(
            session, category, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None
        )
        members = [session.get(User, i) for i in member_ids]
        for member in members:
            panels.set_panel_member(session, member, "执委", [], actor_id=None)
        village = home_village(session)
        on_notice = workflow.create_round(session, village, "monthly", "2026-10", "", None)
        score_entry.set_score(session, on_notice, hid, on_notice.criteria[0].id, 1, members[0])
        submitter = session.get(User, submitter_id)
        workflow.submit_round(session, on_notice, submitter)
        for member in members:
            workflow.approve_round(session, on_notice, member)
        workflow.publish_round(session, on_notice, None)
        workflow.record_objection(session, on_notice, hid, "李大娘", "院子其实没扫", None)
        submitted = workflow.create_round(session, village, "monthly", "2026-11", "", None)
        workflow.submit_round(session, submitted, submitter)
        shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋（2kg）", "price": 20}, None)
    return member_ids


def tap_targets_under(page: Page, px: int = 40) -> list[str]:
    """Tap targets shorter than ``px``, by the page gallery's rule (a checkbox or radio by its label)."""
    return page.evaluate(TAPS_JS, px)


def shoot(page: Page, name: str) -> None:
    """Keep a full-page screenshot and, for the laptop, the page printed on A4."""
    screenshot(page, name)
    size = page.viewport_size
    if size["width"] > 1000:
        page.emulate_media(media="print")
        page.pdf(path=str(ARTIFACTS / f"{name}-a4.pdf"), format="A4", print_background=True)
        page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi, as a person can look at it
        assert horizontal_overflow(page) <= 0, f"{name} overflows A4 when printed"
        screenshot(page, f"{name}-print")
        page.set_viewport_size(size)
        page.emulate_media(media="screen")


@pytest.mark.sqlite_only  # 现在备份 copies the SQLite file; on PostgreSQL the line says to use pg_dump
def test_the_chairs_home_lists_what_waits_and_backs_up_at_a_press(
    laptop: Page, phone390: Page, chair, busy_village
):
    login(laptop, chair)
    todo = laptop.locator("#todo")
    expect(todo).to_contain_text("李大娘 对 06-001 陈玉兰 在 2026年10月 月评定 的积分有异议，请处理。")
    expect(todo).to_contain_text("2026年10月 月评定 正在公示，")
    expect(todo).to_contain_text("2026年11月 月评定 已提交，等评比小组审核（已有 0/2 人审核）。")
    expect(todo).to_contain_text("洗衣粉 袋（2kg） 已经没货了。")
    expect(laptop.locator("#home-backup")).to_contain_text("还没有备份过数据。")
    expect(laptop.locator("#home-sync")).to_contain_text("还没有填写县里的地址和同步密钥。")
    assert horizontal_overflow(laptop) <= 0
    shoot(laptop, "home-chair-1366")

    laptop.locator("#home-backup").get_by_role("button", name="现在备份").click()
    expect(laptop.locator(".flash-success")).to_contain_text("已备份")
    expect(laptop.locator("#home-backup")).to_contain_text("上次备份：")

    # the objection line leads to the objection
    laptop.locator("li.todo-objection").get_by_role("link", name="处理异议").click()
    expect(laptop).to_have_url(re.compile(r"/scoring/objections/\d+$"))

    login(phone390, chair)
    expect(phone390.locator("#todo")).to_contain_text("已经没货了")
    assert horizontal_overflow(phone390) <= 0
    assert tap_targets_under(phone390) == []
    shoot(phone390, "home-chair-390")
    assert console_errors(laptop) == [] and console_errors(phone390) == []


def test_the_notice_end_turns_into_a_finalise_line(laptop: Page, chair, busy_village, app):
    clock.advance(timedelta(days=6))
    login(laptop, chair)
    expect(laptop.locator("li.todo-finalise")).to_contain_text("还有 1 条异议没处理，处理完才能生效。")


def test_a_panel_member_with_nothing_to_do_reads_that_all_is_done(
    laptop: Page, phone390: Page, make_user, app
):
    user_id, name = make_user("panel")
    with committing(app) as session:
        panels.set_panel_member(session, session.get(User, user_id), "执委", [], actor_id=None)
    login(laptop, name)
    expect(laptop.locator("#todo-done")).to_have_text("事情都办完了，现在没有等您处理的事。")
    shoot(laptop, "home-panel-empty-1366")
    login(phone390, name)
    expect(phone390.locator("#todo-done")).to_be_visible()
    assert horizontal_overflow(phone390) <= 0
    shoot(phone390, "home-panel-empty-390")


def test_a_panel_member_goes_from_home_to_the_round_to_approve(laptop: Page, busy_village, app):
    with committing(app) as session:
        name = session.get(User, busy_village[1]).username
    login(laptop, name)
    line = laptop.locator("li.todo-approve")
    expect(line).to_contain_text("2026年11月 月评定 已提交，等您审核（已有 0/2 人审核）。")
    line.get_by_role("link", name="去审核").click()
    expect(laptop.locator("h1")).to_contain_text("2026年11月 月评定")


def test_the_shopkeeper_lands_on_the_counter(laptop: Page, make_user):
    login(laptop, make_user("shopkeeper")[1])
    expect(laptop).to_have_url(re.compile(r"/shop/counter$"))


def test_the_chair_pastes_the_key_and_the_sync_page_offers_the_usb_export(
    laptop: Page, phone390: Page, chair
):
    login(laptop, chair)
    laptop.goto("/sync/")
    expect(laptop.locator("#sync-not-configured")).to_contain_text("还没有填写县里的地址和同步密钥")
    expect(laptop.get_by_role("link", name="导出同步文件（U盘）")).to_have_count(0)
    assert "POINTSMART" not in laptop.content()
    shoot(laptop, "sync-unconfigured-1366")
    laptop.get_by_role("link", name="去“设置”页填写").click()

    expect(laptop.locator("h1")).to_have_text("设置")
    laptop.get_by_label("县里的地址").fill("county.example.cn")
    laptop.get_by_role("button", name="保存设置").click()
    expect(laptop.locator(".flash-error")).to_contain_text("县里的地址")
    laptop.get_by_label("县里的地址").fill("https://county.example.cn")
    laptop.locator("#sync_key").fill(KEY)
    laptop.get_by_role("button", name="保存设置").click()
    expect(laptop.locator(".flash-success")).to_have_text("设置已保存。")
    expect(laptop.locator("#key-state")).to_have_text("已保存同步密钥（末4位 9a7Q）。")
    assert KEY not in laptop.content()
    assert laptop.locator("#sync_key").input_value() == ""
    assert horizontal_overflow(laptop) <= 0
    shoot(laptop, "settings-1366")

    if DB == "sqlite":
        with laptop.expect_download() as download:
            laptop.get_by_role("link", name="下载备份文件").click()
        assert download.value.suggested_filename.endswith(".sqlite3")
    else:  # a county-sized PostgreSQL is backed up with its own tools, and the page says so
        expect(laptop.get_by_role("link", name="下载备份文件")).to_have_count(0)
        assert "pg_dump" in laptop.content()

    laptop.goto("/sync/")
    expect(laptop.get_by_role("link", name="导出同步文件（U盘）")).to_be_visible()
    expect(laptop.get_by_role("button", name="现在同步")).to_be_visible()
    assert "POINTSMART" not in laptop.content()
    shoot(laptop, "sync-configured-1366")

    login(phone390, chair)
    for path, name in (("/settings/", "settings-390"), ("/sync/", "sync-configured-390")):
        phone390.goto(path)
        assert horizontal_overflow(phone390) <= 0, path
        assert tap_targets_under(phone390) == [], path
        shoot(phone390, name)
    # the refused address answered 422, as it should; nothing else went wrong
    refused = [e for e in console_errors(laptop) if "status of 422" not in e]
    assert refused == [] and console_errors(phone390) == []
