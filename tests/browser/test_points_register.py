"""积分登记台账 in a real browser: the demo rulebook's nine categories on a 1366 px screen show 本期积分
and 累计 without scrolling sideways (the page takes the full width, as the score grid does), a paper
card's carried-over balance is in 上年结转, and on A4 every figure still sits under its header."""

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.households.services import adjust_points, household_by_no
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, finalisation, rounds, score_entry, workflow
from pointsmart.scoring.models import ScoringRound

from ..conftest import committing
from .conftest import _open, console_errors, horizontal_overflow, login, screenshot
from .test_scoring import make_households, make_panel
from .test_scoring_daily import MISALIGNED_CELLS

#: the demo rulebook's categories, each with a monthly award
RULEBOOK = [
    ("巾帼脱贫行动 / 乡村振兴巾帼行动", "参加技能培训", 5),
    ('寻找"最美家庭"', "家风家训上墙", 5),
    ('创建"美丽庭院"', "庭院整洁", 5),
    ("孝老爱亲", "赡养照顾老人", 5),
    ("移风易俗", "婚丧事简办", 10),
    ("环境卫生", "乱堆乱放", -5),
    ("志愿服务", "参加志愿服务", 3),
    ("家庭教育", "参加家长学校", 3),
    ("积分负面清单", "违反村规民约", -10),
]


def _keep(page, name):
    screenshot(page, f"register-{name}")


def test_the_register_fits_a_1366_screen_and_brings_a_paper_cards_balance_forward(
    browser, live_server, app, village_id, make_user
):
    (member, other, chair) = make_panel(app, make_user, [("panel", []), ("panel", []), ("chair", [])])
    with committing(app) as session:
        for position, (category_name, name, points) in enumerate(RULEBOOK):
            category = criteria.save_category(
                session, village_id, {"name": category_name, "position": position}, None
            )
            criteria.save_criterion(
                session, category, {"name": name, "points": points, "cadence": "monthly"}, None
            )
    make_households(app, village_id, [(f"01-{i:03d}", f"陈玉兰{i}", "一社", 0) for i in range(1, 5)])
    with committing(app) as session:
        carried = household_by_no(session, village_id, "01-003")
        adjust_points(session, carried, 245, "纸质积分卡余额结转", None, ref="demo:opening")
        year = clock.utcnow().year
        found = workflow.create_round(session, home_village(session), "monthly", f"{year}-01", "", None)
        users = {u.username: u for u in session.scalars(sa.select(User))}
        for n, h in enumerate(rounds.round_households(session, found)):
            for j, c in enumerate(found.criteria):
                if (n + j) % 2 or h.household_no == "01-003" and c.points > 0:
                    continue
                score_entry.set_score(session, found, h.id, c.id, 1, users[member])
        workflow.submit_round(session, found, users[chair])
        workflow.approve_round(session, found, users[member])
        workflow.approve_round(session, found, users[other])
        workflow.publish_round(session, found, users[chair].id)
        round_id = found.id
    clock.advance(timedelta(days=6))
    with committing(app) as session:
        assert finalisation.finalise_round(session, session.get(ScoringRound, round_id), None)
        balance = household_by_no(session, village_id, "01-003").balance

    context, page = _open(browser, live_server, {"viewport": {"width": 1366, "height": 768}})
    try:
        login(page, chair)
        page.goto(f"/ledgers/register?year={year}")
        table = page.locator("table.ledger.register")
        expect(table.locator("tbody.household")).to_have_count(4)
        wrap = page.locator(".table-wrap").first
        sizes = wrap.evaluate("(w) => ({scroll: w.scrollWidth, client: w.clientWidth})")
        assert sizes["scroll"] <= sizes["client"], sizes
        for header in ("本期积分", "累计"):
            box = table.locator("thead th", has_text=header).bounding_box()
            assert box["x"] + box["width"] <= 1366, (header, box)
        assert horizontal_overflow(page) <= 0
        carried_rows = table.locator("tbody.household", has_text="01-003").locator("td.num")
        assert carried_rows.last.inner_text().strip() == str(balance)
        assert balance == 245 - 10  # 违反村规民约
        assert carried_rows.first.inner_text().strip() == "245"  # 上年结转
        _keep(page, "register-1366")
        assert console_errors(page) == []
        page.set_viewport_size({"width": 718, "height": 1040})  # A4's printable width, print styles
        page.emulate_media(media="print")
        result = table.evaluate(MISALIGNED_CELLS)
        assert result["checked"] > 4 * 9 and result["bad"] == [], ("print", result)
        page.pdf(
            path=str(screenshot(page, "register-nine-categories-print").with_suffix(".pdf")), format="A4"
        )
    finally:
        context.close()
