"""Daily scoring work in a real browser (issue 11): a whole round typed by keyboard under the grid's one
rule and every cell checked in the database; 户号 and 户主 frozen; the full width; complete rows;
the phone's household list; the submitter who may not approve; finalising that asks first; the
objection form's searchable household; the points register's cells under their headers."""

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, finalisation, rounds, score_entry, workflow
from pointsmart.scoring.models import RoundCriterion, Score, ScoringRound

from ..conftest import committing
from .conftest import _open, console_errors, horizontal_overflow, login, screenshot
from .test_scoring import all_saved, cell, grid_status, make_households, make_panel, make_rulebook, open_round

#: a yes/no award, a counted award, a yes/no deduction (a violation) and a count that may reach 12
MIXED = [
    ("庭院整洁", 5, "monthly", 1),
    ("志愿服务", 3, "monthly", 4),
    ("乱堆乱放", -10, "monthly", 1),
    ("义务劳动", 1, "monthly", 12),
]
NAMES = [name for name, *_rest in MIXED]


def every_cell(app, round_id) -> dict[tuple[str, str], int]:
    """Every cell the database holds for a round, zeros included: ``{(户号, criterion): times}``."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Household.household_no, RoundCriterion.name, Score.times)
            .join(Household, Household.id == Score.household_id)
            .join(RoundCriterion, RoundCriterion.id == Score.round_criterion_id)
            .where(Score.round_id == round_id)
        ).all()
        return {(no, name): times for no, name, times in rows}


def type_round(page: Page, meant: list[list[int]]) -> int:
    """Type a round by the grid's one rule: per cell, the count (nothing for 0), then Enter."""
    presses = 0
    for row in meant:
        for times in row:
            for key in (str(times) if times else "") + "\n":
                page.keyboard.press("Enter" if key == "\n" else key)
                presses += 1
    return presses


def test_a_whole_round_typed_by_keyboard_lands_in_every_cell_as_meant(page, app, village_id, make_user):
    make_rulebook(app, village_id, MIXED)
    (member,) = make_panel(app, make_user, [("panel", [])])
    families = [(f"0{1 + i // 5}-{i % 5 + 1:03d}", f"农户{i + 1}", f"{1 + i // 5}社", 0) for i in range(10)]
    make_households(app, village_id, families)
    round_id = open_round(app, "monthly", "2026-11")
    # yes/no and counted cells mixed on one row, a violation (−10) on some, two-digit counts on others
    meant = [
        [1, 2, 0, 0],
        [0, 0, 1, 12],
        [1, 4, 0, 3],
        [0, 0, 0, 0],
        [1, 0, 1, 10],
        [0, 3, 0, 0],
        [1, 1, 1, 1],
        [0, 0, 0, 11],
        [1, 0, 0, 0],
        [0, 4, 1, 2],
    ]

    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, member)
    page.goto(f"/scoring/rounds/{round_id}/grid")
    expect(page.locator(".grid-rule")).to_contain_text("输入数字不会自动跳格")
    expect(cell(page, "01-001", "庭院整洁")).to_be_focused()

    # Typing never moves the cursor, whatever the kind of cell.
    page.keyboard.press("1")
    expect(cell(page, "01-001", "庭院整洁")).to_be_focused()
    page.keyboard.press("Enter")
    expect(cell(page, "01-001", "志愿服务")).to_be_focused()
    # A draft (a count that may have two digits) is never reported as saved.
    cell(page, "01-001", "义务劳动").focus()
    page.keyboard.press("1")
    expect(grid_status(page)).to_have_text("未保存：这一格还在输入，按回车保存")
    page.keyboard.press("Backspace")
    cell(page, "01-001", "庭院整洁").focus()

    presses = type_round(page, meant)
    expect(cell(page, "02-005", "义务劳动")).to_be_focused()  # the last cell: Enter has nowhere to go
    all_saved(page)

    expected = {(no, NAMES[j]): meant[i][j] for i, (no, *_r) in enumerate(families) for j in range(4)}
    assert every_cell(app, round_id) == expected  # all 40 cells, the zeros confirmed as zeros
    nonzero = sum(1 for row in meant for t in row if t)
    digits = sum(len(str(t)) for row in meant for t in row if t)
    assert presses == 40 + digits and nonzero == 20
    # every household complete, marked green with a tick
    expect(page.locator("table.score-grid tbody tr.complete")).to_have_count(10)
    expect(page.locator("table.score-grid .done-mark:visible")).to_have_count(10)
    expect(page.locator("table.score-grid tbody tr").nth(1).locator("td.total")).to_have_text("+2")

    # The full width of a 1366 px screen, no 1100 px cap.
    width = page.evaluate("() => document.querySelector('main.page').getBoundingClientRect().width")
    assert width > 1300, width
    screenshot(page, "scoring-grid-typed-1366")
    assert console_errors(page) == []


def test_household_number_and_head_stay_put_when_the_grid_scrolls(page, app, village_id, make_user):
    make_rulebook(app, village_id, [(f"条目{i}", 2, "monthly", 1) for i in range(1, 19)])
    (member,) = make_panel(app, make_user, [("panel", [])])
    make_households(app, village_id, [(f"01-{i:03d}", f"农户{i}", "一社", 0) for i in range(1, 41)])
    round_id = open_round(app, "monthly", "2026-11")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, member)
    page.goto(f"/scoring/rounds/{round_id}/grid")
    wrap = page.locator(".grid-wrap")
    no = page.locator("table.score-grid tbody tr").first.locator("td.no")
    head = page.locator("table.score-grid tbody tr").first.locator("td.head")
    heading = page.locator("table.score-grid thead th.head")
    before = (no.bounding_box()["x"], head.bounding_box()["x"], heading.bounding_box()["y"])
    wrap.evaluate("(el) => { el.scrollLeft = 600; el.scrollTop = 300; }")
    assert wrap.evaluate("(el) => el.scrollLeft") > 100, "the grid does not scroll sideways"
    row = page.locator("table.score-grid tbody tr").nth(12)
    after = (
        row.locator("td.no").bounding_box()["x"],
        row.locator("td.head").bounding_box()["x"],
        heading.bounding_box()["y"],
    )
    assert after == before, (before, after)
    # the head's name is not covered by the 户号 column
    box_no, box_head = row.locator("td.no").bounding_box(), row.locator("td.head").bounding_box()
    assert box_no["x"] + box_no["width"] <= box_head["x"] + 1
    assert horizontal_overflow(page) <= 0
    screenshot(page, "scoring-grid-scrolled-390")
    assert console_errors(page) == []


# --- the phone checklist: a list with search and done marks --------------------------------------------

PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def test_phone_finds_household_90_by_search_and_marks_it_done(
    browser, live_server, app, village_id, make_user
):
    make_rulebook(app, village_id, MIXED[:3])
    (member,) = make_panel(app, make_user, [("panel", [])])
    make_households(app, village_id, [(f"01-{i:03d}", f"农户{i}", "一社", 0) for i in range(1, 122)])
    round_id = open_round(app, "monthly", "2026-11")
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        login(phone, member)
        phone.goto(f"/scoring/rounds/{round_id}")
        taps = 0
        phone.get_by_role("link", name="逐户打分（手机）").tap()
        taps += 1
        expect(phone.get_by_text("已打 0 / 121 户")).to_be_visible()
        expect(phone.locator("ul.household-list li[data-search]")).to_have_count(121)
        assert horizontal_overflow(phone) <= 0

        # typing filters the list at once (one tap on the field, three digits), one tap opens it
        search = phone.get_by_label("查找农户（户号或户主姓名）")
        search.tap()
        phone.keyboard.type("090")
        taps += 1
        expect(phone.locator("ul.household-list li[data-search]:visible")).to_have_count(1)
        screenshot(phone, "scoring-phone-list-search-390")
        phone.get_by_role("link", name=re.compile("农户90")).tap()
        taps += 1
        expect(phone.get_by_role("heading", level=1)).to_contain_text("农户90")
        assert taps == 3  # not 89

        phone.get_by_role("checkbox", name=re.compile("乱堆乱放")).tap()
        phone.get_by_role("button", name="保存，下一户").tap()
        expect(phone.get_by_role("heading", level=1)).to_contain_text("农户91")
        phone.get_by_role("link", name="全部农户（查找）").tap()
        expect(phone.get_by_text("已打 1 / 121 户")).to_be_visible()
        done = phone.locator("ul.household-list a.done")
        expect(done).to_have_count(1)
        expect(done).to_contain_text("01-090")
        expect(done).to_contain_text("✓ 已打")
        # every row is a thumb-sized target
        for box in (phone.locator("ul.household-list a").nth(i).bounding_box() for i in range(5)):
            assert box["height"] >= 44, box

        # without script, the same field searches on the server: by name too
        phone.goto(f"/scoring/rounds/{round_id}/households?q=农户12")
        expect(phone.locator("ul.household-list li[data-search]")).to_have_count(3)  # 12, 120, 121
        phone.goto(f"/scoring/rounds/{round_id}/households?q=没有这户")
        expect(phone.get_by_text("没有找到“没有这户”。")).to_be_visible()
        phone.goto(f"/scoring/rounds/{round_id}/households")
        screenshot(phone, "scoring-phone-list-390")
        assert console_errors(phone) == []
    finally:
        context.close()


# --- the points register: every figure under its header, on screen and on A4 ---------------------------

#: For every body cell of a table, the header columns it should sit under (rowspans and colspans
#: followed) and how far its left and right edges are from theirs on the rendered page, in CSS px.
MISALIGNED_CELLS = """(table) => {
  const heads = Array.from(table.tHead.rows[table.tHead.rows.length - 1].cells);
  const edges = [];
  heads.forEach((th) => { for (let i = 0; i < th.colSpan; i++) edges.push(th.getBoundingClientRect()); });
  const bad = [];
  let checked = 0;
  Array.from(table.tBodies).forEach((body) => {
    const taken = [];  // per row of this body: the columns rowspans from above hold
    Array.from(body.rows).forEach((tr, r) => {
      let col = 0;
      Array.from(tr.cells).forEach((td) => {
        while ((taken[r] || []).includes(col)) col++;
        const box = td.getBoundingClientRect();
        const first = edges[col], last = edges[col + td.colSpan - 1];
        if (!first || !last) bad.push(`${td.textContent.trim()}: column ${col} has no header`);
        else if (Math.abs(box.left - first.left) > 1.5 || Math.abs(box.right - last.right) > 1.5)
          bad.push(`${td.textContent.trim()} [${box.left}-${box.right}] under [${first.left}-${last.right}]`);
        for (let k = 1; k < td.rowSpan; k++)
          for (let c = col; c < col + td.colSpan; c++) (taken[r + k] = taken[r + k] || []).push(c);
        col += td.colSpan;
        checked++;
      });
    });
  });
  return { bad, checked };
}"""


def test_points_register_figures_sit_under_their_headers(browser, live_server, app, village_id, make_user):
    (member, other, chair) = make_panel(app, make_user, [("panel", []), ("panel", []), ("chair", [])])
    with committing(app) as session:
        yard = criteria.save_category(session, village_id, {"name": "美丽庭院", "position": 1}, None)
        helping = criteria.save_category(session, village_id, {"name": "志愿服务", "position": 2}, None)
        for category, data in [
            (yard, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}),
            (yard, {"name": "乱堆乱放", "points": -10, "cadence": "monthly"}),
            (helping, {"name": "参加志愿服务", "points": 3, "cadence": "monthly", "max_per_period": 4}),
        ]:
            criteria.save_criterion(session, category, data, None)
    families = [(f"0{1 + i % 2}-{i + 1:03d}", f"陈玉兰{i}", f"{1 + i % 2}社", 3 * i) for i in range(8)]
    make_households(app, village_id, families)
    with committing(app) as session:
        found = workflow.create_round(session, home_village(session), "monthly", "2026-11", "", None)
        users = {u.username: u for u in session.scalars(sa.select(User))}
        for n, h in enumerate(rounds.round_households(session, found)):
            for j, c in enumerate(found.criteria):
                times = (n + j) % 3 and (2 if c.max_per_period > 1 else 1)
                score_entry.set_score(session, found, h.id, c.id, times, users[member])
        workflow.submit_round(session, found, users[chair])
        workflow.approve_round(session, found, users[member])
        workflow.approve_round(session, found, users[other])
        workflow.publish_round(session, found, users[chair].id)
        round_id = found.id
    clock.advance(timedelta(days=6))
    with committing(app) as session:
        assert finalisation.finalise_round(session, session.get(ScoringRound, round_id), None)

    sizes = {
        "1366": {"viewport": {"width": 1366, "height": 768}},
        "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    }
    for size, options in sizes.items():
        context, page = _open(browser, live_server, options)
        try:
            login(page, chair)
            page.goto("/ledgers/register?year=2026")
            table = page.locator("table.ledger.register")
            expect(table.locator("tbody.household")).to_have_count(8)
            result = table.evaluate(MISALIGNED_CELLS)
            assert result["checked"] > 8 * 8 and result["bad"] == [], (size, result)
            if size == "1366":
                # printed: A4's printable width, print styles
                page.set_viewport_size({"width": 718, "height": 1040})
                page.emulate_media(media="print")
                result = table.evaluate(MISALIGNED_CELLS)
                assert result["checked"] > 8 * 8 and result["bad"] == [], ("print", result)
                page.pdf(path=str(screenshot(page, "register-print").with_suffix(".pdf")), format="A4")
            else:
                assert horizontal_overflow(page) <= 0
            assert console_errors(page) == []
        finally:
            context.close()
