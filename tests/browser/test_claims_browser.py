"""Families' claims in a real browser (CSRF on, as in production): a family on a 390×844 phone claims a
criterion with a photo from its card page; a panel member accepts it beside the grid at 1366×768; the
family's page then says 已采纳 and the grid cell holds the value. Another family sees none of it."""

import io

import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.claims.models import ClaimPhoto
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import Period, today
from pointsmart.scoring import criteria, panels, workflow
from pointsmart.scoring.models import ScoringRound

from ..conftest import committing
from ..test_uploads import phone_photo
from .conftest import _open, console_errors, horizontal_overflow, login, screenshot
from .test_scoring import cell

PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP_1366 = {"viewport": {"width": 1366, "height": 768}}


def test_a_family_claims_on_a_phone_and_the_panel_accepts_it_in_the_grid(
    app, live_server, browser, make_user, make_household, village_id, tmp_path
):
    a = make_household(head_name="王秀兰", group="一社", household_no="01-001")
    b = make_household(head_name="李春梅", group="一社", household_no="01-002")
    panel_id, panel_name = make_user("panel")
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "乡村振兴巾帼行动"}, None)
        criteria.save_criterion(
            session,
            category,
            {
                "name": "参加技能培训",
                "points": 5,
                "cadence": "monthly",
                "max_per_period": 2,
                "claimable": True,
            },
            None,
        )
        criteria.save_criterion(
            session, category, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None
        )
        round_id = workflow.create_round(
            session, home_village(session), "monthly", Period.of(today()).key, "", None
        ).id
        panels.set_panel_member(session, session.get(User, panel_id), "执委", [], actor_id=None)
        token_a = cards.issue_card(session, session.get(Household, a), None).token
        token_b = cards.issue_card(session, session.get(Household, b), None).token
    photo = tmp_path / "培训签到.jpg"
    photo.write_bytes(phone_photo("JPEG", orientation=6))

    # --- the family, on its phone ---
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        phone.goto(f"/c/{token_a}")
        phone.get_by_role("link", name="我要申领积分").click()
        expect(phone.get_by_role("heading", name="申领积分")).to_be_visible()
        phone.get_by_label("申领的积分条目").select_option(label="乡村振兴巾帼行动 · 参加技能培训（+5 分）")
        expect(phone.get_by_label("日期")).to_have_value(today().isoformat())
        phone.get_by_label("说明").fill("参加了村里的电商直播培训")
        phone.get_by_label("照片（最多 3 张，可不传）").set_input_files(str(photo))
        assert horizontal_overflow(phone) <= 0
        # 说明 is as wide as the other fields at 390 px
        widths = phone.evaluate(
            "() => ['#criterion_id', '#happened_on', '#note'].map(s => document.querySelector(s)"
            ".getBoundingClientRect().width)"
        )
        assert max(widths) - min(widths) <= 1, widths
        screenshot(phone, "claims-phone-form")
        phone.get_by_role("button", name="提交申领").click()
        expect(phone.locator(".flash-success")).to_contain_text("申领已提交")
        claims = phone.locator("#claims")
        expect(claims).to_contain_text("参加技能培训")
        expect(claims.locator(".claim-status")).to_have_text("待审")
        thumb = claims.locator(".claim-thumbs img").first
        expect(thumb).to_be_visible()
        assert phone.evaluate("(img) => img.complete && img.naturalWidth > 0", thumb.element_handle())
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "claims-phone-waiting")

        # --- the panel, at the grid on a laptop ---
        desk_context, desk = _open(browser, live_server, DESKTOP_1366)
        try:
            login(desk, panel_name)
            desk.goto(f"/scoring/rounds/{round_id}/grid")
            panel = desk.locator("#claims")
            expect(panel).to_contain_text("01-001 王秀兰")
            expect(panel).to_contain_text("参加了村里的电商直播培训")
            expect(panel.locator(".claim-thumbs img")).to_have_count(1)
            expect(panel.get_by_label("采纳后次数")).to_have_value("1")
            screenshot(desk, "claims-grid-waiting")
            panel.get_by_role("button", name="采纳", exact=True).click()
            expect(desk.locator(".flash-success")).to_contain_text("已采纳 01-001 的申领")
            expect(cell(desk, "01-001", "参加技能培训")).to_have_value("1")
            expect(desk.locator("#claims")).to_contain_text("申领都已答复")
            assert horizontal_overflow(desk) <= 0
            screenshot(desk, "claims-grid-accepted")
            assert console_errors(desk) == []
        finally:
            desk_context.close()

        phone.reload()
        expect(phone.locator("#claims .claim-status")).to_have_text("已采纳")
        expect(phone.locator("#claims")).to_contain_text("已计入")
        screenshot(phone, "claims-phone-accepted")
        assert console_errors(phone) == []

        # --- another family sees nothing of it, not even with the photo's address ---
        with app.app_context():
            photo_id = db.session.scalar(sa.select(ClaimPhoto.id))
        phone.goto(f"/c/{token_b}")
        expect(phone.locator("body")).not_to_contain_text("电商直播培训")
        expect(phone.locator("#claims .claim-status")).to_have_count(0)
        assert phone.request.get(f"/c/{token_b}/claims/photos/{photo_id}").status == 404
        assert phone.request.get(f"/c/{token_a}/claims/photos/{photo_id}").status == 200
        assert phone.request.get(f"/scoring/claims/photos/{photo_id}", max_redirects=0).status == 302

        # --- a phone's 11 MB photo is shrunk on the phone: it arrives, under the server's limits ---
        big = tmp_path / "大照片.jpg"
        out = io.BytesIO()
        Image.effect_noise((4000, 3000), 60).convert("RGB").save(out, "JPEG", quality=95)
        big.write_bytes(out.getvalue())
        assert big.stat().st_size > 8 * 1024 * 1024  # more than a whole request may carry
        phone.goto(f"/c/{token_a}/claims/new")
        phone.get_by_label("申领的积分条目").select_option(label="乡村振兴巾帼行动 · 参加技能培训（+5 分）")
        phone.get_by_label("照片（最多 3 张，可不传）").set_input_files(str(big))
        phone.get_by_role("button", name="提交申领").click()
        expect(phone.locator(".flash-success")).to_contain_text("申领已提交")
        with app.app_context():
            newest = db.session.scalars(sa.select(ClaimPhoto).order_by(ClaimPhoto.id.desc())).first()
            assert newest.id != photo_id and max(newest.width, newest.height) <= 1600
        assert console_errors(phone) == []

        # --- files over the request limit (8 MB) that the phone cannot shrink are refused before sending:
        # the server would refuse the body unread, and what the family typed with it ---
        huge = tmp_path / "录像截图.gif"
        huge.write_bytes(b"GIF89a" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 1024))
        with app.app_context():
            claims_before = db.session.scalar(sa.select(sa.func.count(ClaimPhoto.id)))
        phone.goto(f"/c/{token_a}/claims/new")
        phone.get_by_label("说明").fill("培训签到表的照片")
        phone.get_by_label("照片（最多 3 张，可不传）").set_input_files(str(huge))
        phone.get_by_role("button", name="提交申领").click()
        refused = phone.locator("small.error.too-large")
        expect(refused).to_contain_text("照片合起来超过了 8 MB")
        expect(phone.get_by_label("照片（最多 3 张，可不传）")).to_have_attribute("aria-invalid", "true")
        expect(phone.get_by_label("说明")).to_have_value("培训签到表的照片")
        assert phone.url.endswith("/claims/new") and horizontal_overflow(phone) <= 0
        screenshot(phone, "claims-phone-too-large")
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count(ClaimPhoto.id))) == claims_before
        assert console_errors(phone) == []

        # --- no round open for scoring: the card and the form say so before anything is filled in ---
        with committing(app) as session:
            workflow.submit_round(session, session.get(ScoringRound, round_id), session.get(User, panel_id))
        phone.goto(f"/c/{token_a}")
        expect(phone.locator("#no-open-round")).to_contain_text("现在没有正在打分的评定")
        expect(phone.get_by_role("link", name="我要申领积分")).to_have_count(0)
        expect(phone.locator("#claims .claim-status").first).to_be_visible()  # the claims made still show
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "claims-phone-no-round")
        phone.goto(f"/c/{token_a}/claims/new")
        expect(phone.locator("#no-open-round")).to_be_visible()
        expect(phone.get_by_role("button", name="提交申领")).to_have_count(0)
        expect(phone.locator("input[type=file]")).to_have_count(0)
        screenshot(phone, "claims-phone-form-no-round")
        phone.set_viewport_size({"width": 1366, "height": 768})
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "claims-form-no-round-1366")
    finally:
        context.close()


def _shots(page, name: str) -> None:
    """The page at 1366×768 and at 390×844, and printed to A4, kept for a person to look at."""
    from pathlib import Path

    folder = Path("/work/wt/shots/claims")
    folder.mkdir(parents=True, exist_ok=True)
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        assert horizontal_overflow(page) <= 0, (name, width)
        screenshot(page, f"{name}-{width}")
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.pdf(path=str(folder / f"{name}.pdf"), format="A4", print_background=True)


def test_the_panel_is_told_of_a_claim_reads_what_accepting_does_and_finds_its_photo_as_evidence(
    app, live_server, browser, make_user, make_household, village_id, tmp_path
):
    """The panel entered 2 of 3; a family claims one more with a photo. The panel's home says
    1 条家庭申领待审; the accept form reads 本格现在 2 次，采纳后 3 次; once accepted, the claim reads
    加 1 次，本格共 3 次 and its photo is on the household's 佐证照片 and the score sheet."""
    from pointsmart.scoring import score_entry

    a = make_household(head_name="王秀兰", group="一社", household_no="01-001")
    panel_id, panel_name = make_user("panel")
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "乡村振兴巾帼行动"}, None)
        criteria.save_criterion(
            session,
            category,
            {
                "name": "参加技能培训",
                "points": 5,
                "cadence": "monthly",
                "max_per_period": 3,
                "claimable": True,
            },
            None,
        )
        scoring_round = workflow.create_round(
            session, home_village(session), "monthly", Period.of(today()).key, "", None
        )
        round_id = scoring_round.id
        member = session.get(User, panel_id)
        panels.set_panel_member(session, member, "执委", [], actor_id=None)
        score_entry.set_score(session, scoring_round, a, scoring_round.criteria[0].id, 2, member)
        token = cards.issue_card(session, session.get(Household, a), None).token
    photo = tmp_path / "培训签到.jpg"
    photo.write_bytes(phone_photo("JPEG", orientation=6))

    context, page = _open(browser, live_server, DESKTOP_1366)
    try:
        page.goto(f"/c/{token}/claims/new")
        page.get_by_label("申领的积分条目").select_option(label="乡村振兴巾帼行动 · 参加技能培训（+5 分）")
        page.get_by_label("说明").fill("参加了村里的电商直播培训")
        page.get_by_label("照片（最多 3 张，可不传）").set_input_files(str(photo))
        page.get_by_role("button", name="提交申领").click()
        expect(page.locator(".flash-success")).to_contain_text("申领已提交")

        login(page, panel_name)
        page.goto("/")
        line = page.locator('.todo-line[data-kind="claims"]')
        expect(line).to_contain_text("1 条家庭申领待审")
        _shots(page, "home-panel")
        line.get_by_role("link", name="去审核").click()
        form = page.locator("form.claim-accept")
        expect(form).to_contain_text("本格现在 2 次，采纳后")
        expect(form.get_by_label("采纳后次数")).to_have_value("3")
        _shots(page, "accept-form")
        form.get_by_role("button", name="采纳", exact=True).click()
        expect(page.locator(".flash-success")).to_contain_text("参加技能培训 加 1 次，本格现在共 3 次")
        expect(page.locator(".claim-counted")).to_contain_text("已计入：加 1 次，本格共 3 次")
        _shots(page, "claims-answered")

        page.goto(f"/scoring/rounds/{round_id}/households/{a}")
        evidence = page.locator("#photos .claim-evidence img")
        expect(evidence).to_have_count(1)
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", evidence.element_handle())
        expect(page.locator("#photos-heading")).to_contain_text("另有家庭申领照片 1 张")
        _shots(page, "household-photos")
        page.goto(f"/ledgers/rounds/{round_id}/scores")
        expect(page.locator("#evidence .claim-evidence img")).to_have_count(1)
        _shots(page, "score-sheet")

        page.goto(f"/c/{token}")
        expect(page.locator("#claims .claim-status")).to_have_text("已采纳")
        _shots(page, "card-page")
        assert console_errors(page) == []

        # a claim dated in a closed month is told the month is closed, not to wait for a round
        from datetime import timedelta

        from pointsmart.months.models import MonthClose

        last_month = today().replace(day=1) - timedelta(days=1)
        with committing(app) as session:
            session.add(
                MonthClose(
                    village_id=village_id, month=Period.of(last_month).key, figures="{}", sha256="0" * 64
                )
            )
        page.goto(f"/c/{token}/claims/new")
        page.get_by_label("申领的积分条目").select_option(label="乡村振兴巾帼行动 · 参加技能培训（+5 分）")
        page.get_by_label("日期").fill(last_month.isoformat())
        page.get_by_role("button", name="提交申领").click()
        expect(page.locator("form.claim-form")).to_contain_text("已经月结，不能再申领这个月的积分")
        _shots(page, "claim-form-closed-month")  # answered 409: the refusal is the page's one "error"
    finally:
        context.close()
