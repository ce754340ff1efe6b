"""Scoring panels in a real browser: a whole monthly round through the pages (the keyboard grid, two
approvals, the notice, an objection, finalisation into the ledger), then a quarterly and a half-yearly
round on the same households; the keystrokes a 100-household round takes; nothing lost to a refresh or
a dropped connection; one household at a time on a phone."""

import re
import time
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points, create_household
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, panels, rounds, workflow
from pointsmart.scoring.models import RoundCriterion, Score

from ..conftest import committing
from .conftest import DESKTOP, _open, console_errors, horizontal_overflow, login, screenshot

#: the grid's save requests, for making them fail
SAVE_URL = re.compile(r"/scoring/rounds/\d+/scores$")


# --- set-up through the services ------------------------------------------------------------------


def make_rulebook(app, village_id, rows) -> None:
    """One category, 美丽庭院, with ``(name, points, cadence, max_per_period)`` criteria in order."""
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        for position, (name, points, cadence, most) in enumerate(rows):
            criteria.save_criterion(
                session,
                category,
                {
                    "name": name,
                    "points": points,
                    "cadence": cadence,
                    "max_per_period": most,
                    "position": position,
                },
                None,
            )


def make_panel(app, make_user, roles_and_groups) -> list[str]:
    """Users put on the scoring panel: ``[(role, groups), …]`` → their user names."""
    names = []
    for role, groups in roles_and_groups:
        user_id, name = make_user(role)
        with committing(app) as session:
            panels.set_panel_member(session, session.get(User, user_id), "执委", groups, actor_id=None)
        names.append(name)
    return names


def make_households(app, village_id, rows) -> dict[str, int]:
    """``[(household_no, head_name, group, opening points), …]`` in one transaction → ids by 户号."""
    ids = {}
    with committing(app) as session:
        for no, name, group, points in rows:
            household = create_household(
                session, village_id, {"household_no": no, "head_name": name, "group": group}, None
            )
            if points:
                adjust_points(session, household, points, "开户积分", actor_id=None)
            ids[no] = household.id
    return ids


def open_round(app, period_type, key) -> int:
    with committing(app) as session:
        return workflow.create_round(session, home_village(session), period_type, key, "", None).id


def scores(app, round_id) -> dict[tuple[str, str], int]:
    """What the database holds: ``{(户号, criterion): times}`` for the cells that are not zero."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Household.household_no, RoundCriterion.name, Score.times)
            .join(Household, Household.id == Score.household_id)
            .join(RoundCriterion, RoundCriterion.id == Score.round_criterion_id)
            .where(Score.round_id == round_id, Score.times > 0)
        ).all()
        return {(no, name): times for no, name, times in rows}


# --- the pages ------------------------------------------------------------------------------------


def flash(page: Page):
    return page.locator(".flash")


def cell(page: Page, household_no: str, criterion: str):
    """The grid cell of a household (by 户号) and a criterion (by its column heading)."""
    headings = page.locator("table.score-grid thead th").all_inner_texts()
    column = next(i for i, text in enumerate(headings) if text.startswith(criterion)) - 2
    row = page.locator("table.score-grid tbody tr").filter(
        has=page.get_by_role("cell", name=household_no, exact=True)
    )
    return row.locator("input[data-criterion]").nth(column)


def total(page: Page, household_no: str):
    row = page.locator("table.score-grid tbody tr").filter(
        has=page.get_by_role("cell", name=household_no, exact=True)
    )
    return row.locator("td.total")


def grid_status(page: Page):
    return page.locator("p.grid-status")


def all_saved(page: Page) -> None:
    """Wait until the grid has no cell waiting for the server and says so."""
    expect(page.locator("table.score-grid input.saving, table.score-grid input.failed")).to_have_count(0)
    expect(grid_status(page)).to_have_text("已保存")


def pending_cells(page: Page) -> int:
    """How many cells the grid keeps in localStorage for a later retry."""
    return page.evaluate(
        """() => Object.keys(localStorage)
            .filter((key) => key.startsWith("pointsmart.grid.pending:"))
            .reduce((n, key) => n + Object.keys(JSON.parse(localStorage.getItem(key))).length, 0)"""
    )


def keys(page: Page, *presses: str) -> int:
    for key in presses:
        page.keyboard.press(key)
    return len(presses)


def create_round_on_page(page: Page, cadence_label: str, key: str) -> int:
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="评定").click()
    expect(page.get_by_role("heading", name="积分评定")).to_be_visible()
    page.get_by_label("评定周期").select_option(label=cadence_label)
    page.get_by_label("期别").fill(key)
    page.get_by_role("button", name="新建", exact=True).click()
    expect(flash(page)).to_have_text(f"已新建 {key} 的评定。")
    return int(re.search(r"/scoring/rounds/(\d+)$", page.url).group(1))


def press_button(page: Page, name: str, message: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    expect(flash(page)).to_have_text(message)


@contextmanager
def signed_in(browser, live_server, username: str):
    """Another person at another computer: a separate browser context, logged in as ``username``."""
    context, other = _open(browser, live_server, DESKTOP)
    try:
        login(other, username)
        yield other
        assert console_errors(other) == []
    finally:
        context.close()


def submit(browser, live_server, username: str, round_id: int) -> None:
    """Hand the round in; whoever does may not approve it (the button is not offered to them)."""
    with signed_in(browser, live_server, username) as other:
        other.goto(f"/scoring/rounds/{round_id}")
        # with households left unscored it asks first, naming how many
        asked = []
        other.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        press_button(other, "提交审核", "已提交审核。")
        assert not asked or re.fullmatch(r"还有 \d+ 户没打分，确定提交吗？", asked[0]), asked
        expect(other.get_by_role("button", name="审核通过")).to_have_count(0)
        expect(other.get_by_text("需由评比小组的其他成员审核")).to_be_visible()


def approve(browser, live_server, username: str, round_id: int, message: str) -> None:
    with signed_in(browser, live_server, username) as other:
        other.goto(f"/scoring/rounds/{round_id}")
        press_button(other, "审核通过", message)


FIRST_OF_TWO = "已记录您的审核（1 / 2），还需 1 人审核。"
SECOND_OF_TWO = "审核完成（2 / 2），可以开始公示。"


def accept_next_dialog(page: Page, expected: str) -> None:
    """Accept the confirmation the next click asks, checking it names the consequence."""

    def check(dialog):
        assert re.search(expected, dialog.message), dialog.message
        dialog.accept()

    page.once("dialog", check)


def publish_and_finalise(page: Page, round_id: int) -> None:
    """The chair posts the notice, waits it out (the clock moves) and makes the round count."""
    page.goto(f"/scoring/rounds/{round_id}")
    accept_next_dialog(page, "公示 5 天")
    press_button(page, "开始公示", "已开始公示。")
    expect(page.get_by_role("button", name="确认生效，记入积分")).to_have_count(0)
    clock.advance(timedelta(days=6))
    page.reload()
    accept_next_dialog(page, r"^\d+ 户将记入积分.*不能撤回")
    press_button(page, "确认生效，记入积分", "评定已生效，积分已记入各户。")
    expect(page.locator("h1 .status")).to_have_text("已生效")


def balance_on_page(page: Page, household_id: int) -> str:
    page.goto(f"/households/{household_id}")
    return page.locator("#balance").inner_text()


def ledger_verify(app) -> None:
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output


def only_failed_loads(errors: list[str]) -> list[str]:
    """Console errors other than the browser's own note of a request that failed (as the test wanted)."""
    return [e for e in errors if "Failed to load resource" not in e]


# --- (a) a whole monthly round, then a quarterly and a half-yearly one ----------------------------

MONTHLY = [("庭院整洁", 5, "monthly", 1), ("志愿服务", 3, "monthly", 4), ("乱堆乱放", -5, "monthly", 1)]
FAMILIES = [
    ("01-001", "王秀英", "一社", 0),
    ("01-002", "李桂兰", "一社", 0),
    ("02-001", "张玉梅", "二社", 10),
    ("02-002", "刘淑珍", "二社", 0),
]


def test_monthly_round_from_grid_to_ledger_then_quarterly_and_half_yearly(
    page, browser, live_server, app, village_id, make_user
):
    make_rulebook(
        app, village_id, [*MONTHLY, ("绿化美化", 15, "quarterly", 1), ("最美家庭", 20, "half_yearly", 1)]
    )
    chair, member1, member2 = make_panel(app, make_user, [("chair", []), ("panel", []), ("panel", [])])
    ids = make_households(app, village_id, FAMILIES)

    # The chair opens the monthly round on the rounds page and enters the scores by keyboard.
    login(page, chair)
    monthly = create_round_on_page(page, "月评定", "2026-10")
    page.get_by_role("link", name="表格打分").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("打分表")
    expect(cell(page, "01-001", "庭院整洁")).to_be_focused()
    # one rule for every cell: the count (nothing for none), then Enter
    keys(page, "1", "Enter", "2", "Enter", "Enter")  # 王秀英: tidy, volunteered twice, no mess
    keys(page, "Enter", "Tab", "1", "Enter")  # 李桂兰: a mess only (Tab steps like Enter)
    keys(page, "Enter", "4", "Enter", "1", "Enter")  # 张玉梅: volunteered 4 times (a slip), a mess
    keys(page, "1", "Enter", "1", "Enter")  # 刘淑珍: tidy, volunteered once
    expect(cell(page, "02-002", "乱堆乱放")).to_be_focused()
    keys(page, "ArrowUp", "ArrowLeft", "3", "Enter")  # 张玉梅 volunteered 3 times, not 4
    expect(cell(page, "02-001", "乱堆乱放")).to_be_focused()
    all_saved(page)
    for no, shown in [("01-001", "+11"), ("01-002", "-5"), ("02-001", "+4"), ("02-002", "+8")]:
        expect(total(page, no)).to_have_text(shown)
    assert scores(app, monthly) == {
        ("01-001", "庭院整洁"): 1,
        ("01-001", "志愿服务"): 2,
        ("01-002", "乱堆乱放"): 1,
        ("02-001", "志愿服务"): 3,
        ("02-001", "乱堆乱放"): 1,
        ("02-002", "庭院整洁"): 1,
        ("02-002", "志愿服务"): 1,
    }
    screenshot(page, "scoring-grid-monthly")

    # Filtered by group, the grid shows that group only, as saved.
    page.get_by_label("村民小组").select_option("二社")
    expect(page).to_have_url(re.compile(r"group="))
    expect(page.locator("table.score-grid tbody tr")).to_have_count(2)
    expect(cell(page, "02-001", "志愿服务")).to_have_value("3")
    expect(total(page, "02-001")).to_have_text("+4")

    # A panel member hands it in; the two others approve (the submitter may not).
    submit(browser, live_server, member1, monthly)
    approve(browser, live_server, member2, monthly, FIRST_OF_TWO)
    approve(browser, live_server, chair, monthly, SECOND_OF_TWO)

    # The chair posts the notice; a villager objects; the chair upholds it by changing the score.
    page.goto(f"/scoring/rounds/{monthly}")
    expect(page.locator("h1 .status")).to_have_text("已审核")
    accept_next_dialog(page, "公示 5 天")
    press_button(page, "开始公示", "已开始公示。")
    expect(page.get_by_text("之后才能生效")).to_be_visible()
    # the household is typed (户号 or name) with the browser's own suggestions, not picked from 121
    expect(page.locator("datalist#objection-households option")).to_have_count(4)
    page.get_by_label("农户").fill("刘淑珍")
    page.get_by_label("异议人").fill("赵大姐")
    page.get_by_label("异议内容").fill("刘淑珍本月参加了两次志愿服务，只记了一次。")
    press_button(page, "登记", "已记录异议。")
    expect(page.get_by_role("button", name="确认生效，记入积分")).to_have_count(0)
    page.get_by_role("link", name="待处理").click()
    page.get_by_label("美丽庭院·志愿服务（+3）").fill("2")
    page.get_by_label("处理意见").fill("核实签到表，确为两次。")
    accept_next_dialog(page, "刘淑珍")
    press_button(page, "采纳并改分", "异议已处理。")
    expect(page.get_by_role("row").filter(has_text="赵大姐")).to_contain_text("已改分")
    assert scores(app, monthly)[("02-002", "志愿服务")] == 2

    # The notice runs out; the chair finalises; the balances follow.
    clock.advance(timedelta(days=6))
    page.reload()
    # the chair is asked first, with the real count: 4 households hold points
    accept_next_dialog(page, r"^4 户将记入积分（加 \d+ 分，扣 10 分），记入后不能撤回。确定吗？$")
    press_button(page, "确认生效，记入积分", "评定已生效，积分已记入各户。")
    # 李桂兰's deduction is more than she has: it is recorded as not taken (余额不足未扣), not posted.
    expect(page.get_by_role("row").filter(has_text="李桂兰").locator("td").last).to_have_text("5")
    screenshot(page, "scoring-round-finalised")
    expected = {"01-001": 11, "01-002": 0, "02-001": 14, "02-002": 11}
    for no, points in expected.items():
        assert balance_on_page(page, ids[no]) == str(points), no
    ledger_verify(app)

    # A quarterly round on the same households: fewer cells, the chair hands it in herself.
    quarterly = create_round_on_page(page, "季评定", "2026-Q4")
    page.get_by_role("link", name="表格打分").click()
    expect(cell(page, "01-001", "绿化美化")).to_be_focused()
    keys(page, "1", "Enter", "Enter", "1", "Enter")  # 王秀英 and 张玉梅
    all_saved(page)
    submit(browser, live_server, chair, quarterly)
    approve(browser, live_server, member1, quarterly, FIRST_OF_TWO)
    approve(browser, live_server, member2, quarterly, SECOND_OF_TWO)
    publish_and_finalise(page, quarterly)

    # And a half-yearly one.
    half = create_round_on_page(page, "半年评定", "2026-H2")
    page.get_by_role("link", name="表格打分").click()
    expect(cell(page, "01-001", "最美家庭")).to_be_focused()
    keys(page, "ArrowDown", "1", "ArrowDown", "ArrowDown", "1")  # 李桂兰 and 刘淑珍: typing never moves
    all_saved(page)
    assert scores(app, half) == {("01-002", "最美家庭"): 1, ("02-002", "最美家庭"): 1}
    submit(browser, live_server, member1, half)
    approve(browser, live_server, member2, half, FIRST_OF_TWO)
    approve(browser, live_server, chair, half, SECOND_OF_TWO)
    publish_and_finalise(page, half)

    expected = {"01-001": 11 + 15, "01-002": 0 + 20, "02-001": 14 + 15, "02-002": 11 + 20}
    for no, points in expected.items():
        assert balance_on_page(page, ids[no]) == str(points), no
    expect(page.get_by_role("row").filter(has_text="2026-H2")).to_contain_text("+20")
    ledger_verify(app)
    assert console_errors(page) == []


# --- (b) how many keystrokes a round takes -----------------------------------------------------------


def keystrokes_by_the_rule(meant: list[list[int]]) -> int:
    """The grid's one rule: per cell, the digits of its count (none for 0), then Enter."""
    return sum(len(str(t)) * bool(t) + 1 for row in meant for t in row)


def test_keystrokes_for_households_by_3_yes_no_criteria(page, app, village_id, make_user):
    """Typed for real on 20 households; the rule gives the figure for 100 (printed)."""
    make_rulebook(
        app,
        village_id,
        [("庭院整洁", 5, "monthly", 1), ("孝老爱亲", 5, "monthly", 1), ("乱堆乱放", -5, "monthly", 1)],
    )
    (chair,) = make_panel(app, make_user, [("chair", [])])
    count = 20
    make_households(app, village_id, [(f"01-{i:03d}", f"农户{i}", "一社", 0) for i in range(1, count + 1)])
    round_id = open_round(app, "monthly", "2026-10")
    names = ["庭院整洁", "孝老爱亲", "乱堆乱放"]

    def wanted(i: int, j: int) -> int:
        return 1 if (7 * i + 3 * j) % 5 < 3 else 0

    login(page, chair)
    page.goto(f"/scoring/rounds/{round_id}/grid")
    expect(page.locator("table.score-grid tbody tr")).to_have_count(count)
    expect(cell(page, "01-001", "庭院整洁")).to_be_focused()  # no click needed: the grid takes the cursor

    meant = [[wanted(i, j) for j in range(3)] for i in range(count)]
    presses = 0
    started = time.perf_counter()
    for row in meant:
        for times in row:
            presses += keys(page, *([str(times)] if times else []), "Enter")
    typed = time.perf_counter() - started
    all_saved(page)
    saved = time.perf_counter() - started

    expect(cell(page, f"01-{count:03d}", "乱堆乱放")).to_be_focused()
    assert scores(app, round_id) == {
        (f"01-{i + 1:03d}", names[j]): 1 for i in range(count) for j in range(3) if wanted(i, j)
    }
    assert presses == keystrokes_by_the_rule(meant)
    expect(page.locator("table.score-grid tbody tr.complete")).to_have_count(count)
    hundred = [[wanted(i, j) for j in range(3)] for i in range(100)]
    print(
        f"KEYSTROKES {count}x3 typed: {presses} (typed in {typed:.1f} s, all saved after {saved:.1f} s); "
        f"100x3 by the rule: {keystrokes_by_the_rule(hundred)} for this pattern "
        f"({sum(map(sum, hundred))} cells scored), 300 with nothing scored, 600 with every cell scored"
    )
    screenshot(page, "scoring-grid-keystrokes")
    assert console_errors(page) == []


# --- (c) nothing lost to a refresh or a dropped connection ----------------------------------------


def test_grid_keeps_unsaved_cells_through_a_refresh_and_a_dropped_connection(
    page, app, village_id, make_user
):
    make_rulebook(app, village_id, MONTHLY)
    (member,) = make_panel(app, make_user, [("panel", ["一社"])])
    make_households(
        app,
        village_id,
        [
            ("01-001", "王秀英", "一社", 0),
            ("01-002", "张玉梅", "二社", 0),  # not this member's group: read-only, skipped
            ("01-003", "李桂兰", "一社", 0),
            ("01-004", "刘淑珍", "一社", 0),
        ],
    )
    round_id = open_round(app, "monthly", "2026-10")
    login(page, member)
    page.goto(f"/scoring/rounds/{round_id}/grid")  # her own group first: 张玉梅 of 二社 not shown
    expect(page.locator("table.score-grid tbody tr")).to_have_count(3)
    page.get_by_label("村民小组").select_option("all")
    expect(page).to_have_url(re.compile(r"group=all"))
    expect(cell(page, "01-002", "庭院整洁")).to_have_attribute("readonly", "")
    cell(page, "01-001", "庭院整洁").focus()

    keys(page, "1", "Enter", "3", "Enter", "Enter")
    expect(cell(page, "01-003", "庭院整洁")).to_be_focused()  # stepped over the read-only row
    all_saved(page)
    assert scores(app, round_id) == {("01-001", "庭院整洁"): 1, ("01-001", "志愿服务"): 3}

    # A fast typist changes one cell four times in a row: its saves go one at a time, in order,
    # and the last value typed is the one kept.
    sent = []
    page.on("request", lambda r: SAVE_URL.search(r.url) and sent.append(r.post_data_json))
    cell(page, "01-004", "志愿服务").focus()
    for value in "3142":
        keys(page, value, "Enter", "Shift+Enter")
    all_saved(page)
    assert scores(app, round_id)[("01-004", "志愿服务")] == 2
    volunteer = [b["times"] for b in sent if b["criterion_id"] == sent[0]["criterion_id"]]
    in_order = iter([3, 1, 4, 2])
    assert all(times in in_order for times in volunteer), sent  # a subsequence: never reordered
    assert volunteer[-1] == 2
    # (the other requests: 乱堆乱放, confirmed empty as 0 by each Shift+Enter that left it)
    assert {b["times"] for b in sent if b["criterion_id"] != sent[0]["criterion_id"]} <= {0}
    cell(page, "01-003", "庭院整洁").focus()

    # More than a criterion allows is refused on the spot, visibly, and never sent.
    keys(page, "2")
    expect(grid_status(page)).to_have_text("未保存：01-003 李桂兰 · 庭院整洁：每期最多 1 次")
    expect(cell(page, "01-003", "庭院整洁")).to_be_focused()
    keys(page, "ArrowRight", "7")
    expect(grid_status(page)).to_have_text("未保存：01-003 李桂兰 · 志愿服务：每期最多 4 次")
    expect(cell(page, "01-003", "志愿服务")).to_have_value("")
    # Typing into someone else's household says why, and sends nothing.
    cell(page, "01-002", "志愿服务").focus()
    keys(page, "2")
    expect(grid_status(page)).to_have_text("01-002 张玉梅：属于二社，不在您负责的小组（一社）。")
    expect(cell(page, "01-002", "志愿服务")).to_have_value("")
    cell(page, "01-003", "志愿服务").focus()
    keys(page, "ArrowLeft")

    # The server cannot be reached: the cells stay marked and are kept in the browser.
    page.route(SAVE_URL, lambda route: route.abort("connectionrefused"))
    keys(page, "1", "Enter", "2", "Enter", "1", "Enter")  # 李桂兰
    keys(page, "1", "Enter", "4", "Enter")  # 刘淑珍, the last cell left alone
    # every cell typed is marked: refused, or being sent again by the page's retry (refused again)
    expect(page.locator("table.score-grid input.failed, table.score-grid input.saving")).to_have_count(5)
    expect(grid_status(page)).to_contain_text("未能保存")
    expect(total(page, "01-003")).to_have_text("+6")
    assert pending_cells(page) == 5
    assert scores(app, round_id) == {
        ("01-001", "庭院整洁"): 1,
        ("01-001", "志愿服务"): 3,
        ("01-004", "志愿服务"): 2,
    }
    screenshot(page, "scoring-grid-offline")

    # A refresh with the server back: the page sends what it kept.
    page.unroute(SAVE_URL)
    page.reload()
    all_saved(page)
    assert pending_cells(page) == 0
    expected = {
        ("01-001", "庭院整洁"): 1,
        ("01-001", "志愿服务"): 3,
        ("01-003", "庭院整洁"): 1,
        ("01-003", "志愿服务"): 2,
        ("01-003", "乱堆乱放"): 1,
        ("01-004", "庭院整洁"): 1,
        ("01-004", "志愿服务"): 4,
    }
    assert scores(app, round_id) == expected
    expect(cell(page, "01-004", "志愿服务")).to_have_value("4")
    expect(total(page, "01-004")).to_have_text("+17")

    # The connection drops while typing and comes back: the cell goes through without a refresh.
    page.context.set_offline(True)
    cell(page, "01-004", "乱堆乱放").focus()
    keys(page, "1")
    expect(cell(page, "01-004", "乱堆乱放")).to_have_class(re.compile(r"\bfailed\b"))
    expect(grid_status(page)).to_contain_text("未能保存")
    page.context.set_offline(False)
    all_saved(page)
    assert scores(app, round_id) == {**expected, ("01-004", "乱堆乱放"): 1}

    # Logged out (in another tab) while typing: the cell is kept until a new login and a refresh.
    other_tab = page.context.new_page()
    other_tab.goto("/")
    other_tab.get_by_role("button", name="退出", exact=True).click()
    cell(page, "01-004", "乱堆乱放").focus()
    keys(page, "Backspace")
    expect(grid_status(page)).to_contain_text("登录已过期")
    assert pending_cells(page) == 1
    login(other_tab, member)
    other_tab.close()
    page.reload()
    all_saved(page)
    assert scores(app, round_id) == expected

    # The server refuses (the round was handed in meanwhile): the message shows, the cell goes back.
    with committing(app) as session:
        scoring_round = rounds.get_round(session, village_id, round_id)
        submitter = session.scalar(sa.select(User).filter_by(username=member))
        workflow.submit_round(session, scoring_round, submitter)
    cell(page, "01-001", "志愿服务").focus()
    keys(page, "Backspace")
    expect(grid_status(page)).to_contain_text("不能进行这个操作")
    expect(cell(page, "01-001", "志愿服务")).to_have_value("3")
    expect(page.locator("table.score-grid input.saving, table.score-grid input.failed")).to_have_count(0)
    assert pending_cells(page) == 0
    assert scores(app, round_id)[("01-001", "志愿服务")] == 3
    assert only_failed_loads(console_errors(page)) == []


# --- (d) one household at a time on a phone --------------------------------------------------------


def test_phone_scores_three_households_one_at_a_time(phone, app, village_id, make_user):
    make_rulebook(app, village_id, MONTHLY)
    (member,) = make_panel(app, make_user, [("panel", [])])
    make_households(app, village_id, FAMILIES[:3])
    round_id = open_round(app, "monthly", "2026-10")

    login(phone, member)
    phone.get_by_role("navigation", name="主菜单").get_by_role("link", name="评定").tap()
    phone.get_by_role("link", name="2026-10").tap()
    phone.get_by_role("link", name="逐户打分（手机）").tap()
    expect(phone.get_by_text("已打 0 / 3 户")).to_be_visible()
    phone.get_by_role("link", name="下一户未打：01-001 王秀英").tap()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("王秀英")
    expect(phone.get_by_text("第 1 / 3 户")).to_be_visible()
    assert horizontal_overflow(phone) <= 0, "the checklist scrolls sideways"

    # Every touch target is large enough for a thumb.
    targets = phone.locator(".check-row, .segment span, .entry-nav button")
    assert targets.count() == 2 + 5 + 1 + 3  # and the evidence photo's three before/after choices
    for box in (targets.nth(i).bounding_box() for i in range(targets.count())):
        assert box["height"] >= 44 and box["width"] >= 44, box
    next_button = phone.get_by_role("button", name="保存，下一户")
    box = next_button.bounding_box()
    assert box["y"] + box["height"] <= 740, "next is visible without scrolling"

    phone.get_by_role("checkbox", name=re.compile("庭院整洁")).tap()
    phone.get_by_role("group", name=re.compile("志愿服务")).get_by_role("radio", name="2", exact=True).tap()
    screenshot(phone, "scoring-phone-entry")
    next_button.tap()
    expect(flash(phone)).to_have_text("已保存 01-001 王秀英。")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("李桂兰")

    phone.get_by_role("checkbox", name=re.compile("乱堆乱放")).tap()
    phone.get_by_role("button", name="保存，下一户").tap()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("张玉梅")
    expect(phone.get_by_text("第 3 / 3 户")).to_be_visible()

    phone.get_by_role("checkbox", name=re.compile("庭院整洁")).tap()
    phone.get_by_role("group", name=re.compile("志愿服务")).get_by_role("radio", name="4", exact=True).tap()
    phone.get_by_role("button", name="保存", exact=True).tap()  # the last household: no next
    expect(flash(phone)).to_have_text("已保存 02-001 张玉梅。")

    # Previous: back to 李桂兰, whose answers are as saved.
    phone.get_by_role("button", name="保存，上一户").tap()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("李桂兰")
    expect(phone.get_by_role("checkbox", name=re.compile("乱堆乱放"))).to_be_checked()
    expect(phone.get_by_role("checkbox", name=re.compile("庭院整洁"))).not_to_be_checked()
    assert horizontal_overflow(phone) <= 0

    assert scores(app, round_id) == {
        ("01-001", "庭院整洁"): 1,
        ("01-001", "志愿服务"): 2,
        ("01-002", "乱堆乱放"): 1,
        ("02-001", "庭院整洁"): 1,
        ("02-001", "志愿服务"): 4,
    }
    assert console_errors(phone) == []


def test_the_grid_group_filter_shows_its_whole_label_at_1366_and_fits_a_phone(
    browser, live_server, app, village_id, make_user
):
    from .test_claims_browser import DESKTOP_1366, PHONE_390

    make_rulebook(app, village_id, [("庭院整洁", 5, "monthly", 1)])
    groups = ["一社", "二社", "三社", "四社"]
    (member,) = make_panel(app, make_user, [("panel", groups)])
    make_households(app, village_id, [(f"0{i}-001", f"农户{i}", g, 0) for i, g in enumerate(groups, 1)])
    round_id = open_round(app, "monthly", "2026-10")
    measure = """(select) => {
        const ctx = document.createElement('canvas').getContext('2d');
        const css = getComputedStyle(select);
        ctx.font = css.font;
        const text = Math.max(...[...select.options].map(o => ctx.measureText(o.text).width));
        const room = select.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
        return [text, room, select.selectedOptions[0].text];
    }"""
    for options in (DESKTOP_1366, PHONE_390):
        context, page = _open(browser, live_server, options)
        try:
            login(page, member)
            page.goto(f"/scoring/rounds/{round_id}/grid")
            select = page.locator("form.grid-filter select")
            text, room, chosen = select.evaluate(measure)
            assert chosen == "我的小组（一社、二社、三社、四社）"
            if options is DESKTOP_1366:
                assert text + 16 <= room, (text, room)  # the arrow beside it, and the whole label
            assert horizontal_overflow(page) <= 0
            screenshot(page, f"scoring-grid-filter-{options['viewport']['width']}")
        finally:
            context.close()
