"""The pages the claim and date fixes change, in a real browser at 1366×768 and 390×844 (and printed to
A4): the panel's claims page offering only a decline for a full cell, the family's form refusing a claim
of a full cell, the stocktake refusing a count before a later one, and a month to come's 404."""

from pathlib import Path

from playwright.sync_api import expect

from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import Period, today
from pointsmart.scoring import criteria, panels, score_entry, workflow
from pointsmart.scoring.models import ScoringRound
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from ..conftest import committing
from .conftest import _open, horizontal_overflow, login
from .test_claims_browser import DESKTOP_1366, PHONE_390

SHOTS = Path("/work/wt/shots/claimfix")


def _keep(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_full_cells_dated_refusals_and_months_to_come_in_the_browser(
    app, live_server, browser, make_user, make_household, village_id
):
    a = make_household(head_name="王秀兰", group="一社", household_no="01-001")
    panel_id, panel_name = make_user("panel")
    _shop_id, shop_name = make_user("shopkeeper")
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "乡村振兴巾帼行动"}, None)
        training = {
            "name": "参加技能培训",
            "points": 5,
            "cadence": "monthly",
            "max_per_period": 2,
            "claimable": True,
        }
        criteria.save_criterion(session, category, training, None)
        round_id = workflow.create_round(
            session, home_village(session), "monthly", Period.of(today()).key, "", None
        ).id
        panels.set_panel_member(session, session.get(User, panel_id), "执委", [], actor_id=None)
        token = cards.issue_card(session, session.get(Household, a), None).token
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 10}, None)
        shop.receive_stock(session, soap, MoveKind.DONATION, 40, None, donor="王建华")
        shop.record_stocktake(session, village_id, today(), "王芳", {soap.id: 0}, None)

    # the family files a claim, then the panel types the cell full in the grid
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        phone.goto(f"/c/{token}/claims/new")
        phone.get_by_label("申领的积分条目").select_option(label="乡村振兴巾帼行动 · 参加技能培训（+5 分）")
        phone.get_by_role("button", name="提交申领").click()
        expect(phone.get_by_text("申领已提交")).to_be_visible()
        with committing(app) as session:
            scoring_round = session.get(ScoringRound, round_id)
            held = scoring_round.criteria[0]
            score_entry.set_score(session, scoring_round, a, held.id, 2, session.get(User, panel_id))
        phone.goto(f"/c/{token}/claims/new")
        phone.get_by_label("申领的积分条目").select_option(label="乡村振兴巾帼行动 · 参加技能培训（+5 分）")
        phone.get_by_role("button", name="提交申领").click()
        expect(phone.get_by_text("这一项本期已经满 2 次").first).to_be_visible()
        assert horizontal_overflow(phone) <= 0
        _keep(phone, "claim-form-full-390")
    finally:
        context.close()

    for name, options in (("1366", DESKTOP_1366), ("390", PHONE_390)):
        context, page = _open(browser, live_server, options)
        try:
            login(page, panel_name)
            page.goto(f"/scoring/rounds/{round_id}/claims")
            expect(page.get_by_text("本格已经满 2 次").first).to_be_visible()
            assert page.get_by_role("button", name="采纳", exact=True).count() == 0
            assert horizontal_overflow(page) <= 0
            _keep(page, f"round-claims-full-{name}")
            if name == "1366":
                page.pdf(path=str(SHOTS / "round-claims-full-a4.pdf"), format="A4")
            page.goto("/ledgers/book/2099-12")
            expect(page.get_by_text("这个月还没到").first).to_be_visible()
            _keep(page, f"book-month-to-come-{name}")
            if name == "1366":
                page.pdf(path=str(SHOTS / "book-month-to-come-a4.pdf"), format="A4")
        finally:
            context.close()
        context, page = _open(browser, live_server, options)
        try:
            page.goto("/accounts/2099-01")
            expect(page.get_by_text("这个月还没到").first).to_be_visible()
            _keep(page, f"accounts-month-to-come-{name}")
            login(page, shop_name)
            page.goto("/shop/stocktake")
            page.get_by_label("盘点日期").fill("2000-01-03")
            page.locator("input[name^=count_]").first.fill("40")
            page.get_by_label("盘点人").fill("王芳")
            page.once("dialog", lambda dialog: dialog.accept())  # 确定保存盘点吗？
            page.get_by_role("button", name="保存盘点").click()
            expect(page.get_by_text("已经盘点过").first).to_be_visible()
            assert horizontal_overflow(page) <= 0
            _keep(page, f"stocktake-later-count-{name}")
        finally:
            context.close()
