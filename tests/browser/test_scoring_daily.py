"""Daily scoring work in a real browser (issue 11): a whole round typed by keyboard under the grid's one
rule and every cell checked in the database; 户号 and 户主 frozen; the full width; complete rows;
the phone's household list; the submitter who may not approve; finalising that asks first; the
objection form's searchable household; the points register's cells under their headers."""

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.scoring.models import RoundCriterion, Score

from .conftest import console_errors, horizontal_overflow, login, screenshot
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
