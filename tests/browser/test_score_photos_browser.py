"""A panel member on a 390×844 phone attaches a photo to a household's score from the checklist (the
file input opens the camera: ``capture=environment``; the test hands it a photo, as the camera would),
and the chair sees it on the score sheet and shows it on the public notice. The 管理办法 is written from
the draft and printed as an A4 wall poster.
"""

import io
import subprocess
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from pointsmart.auth.models import User
from pointsmart.extensions import db
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, panels, score_photos, workflow
from pointsmart.scoring.models import ScorePhoto

from ..conftest import committing
from ..test_uploads import assert_no_exif
from .conftest import ARTIFACTS, _open, console_errors, horizontal_overflow, login, screenshot

PHONE_390 = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _camera_photo() -> bytes:
    """What a phone's camera hands the page: a large JPEG with the camera and a GPS position in EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[1] = "N"
    out = io.BytesIO()
    Image.new("RGB", (2400, 1800), (90, 140, 70)).save(out, "JPEG", exif=exif, quality=70)
    return out.getvalue()


@pytest.fixture
def yard_round(app, village_id, make_user, make_household):
    chair_id, chair = make_user("chair")
    panel_id, panel = make_user("panel")
    household = make_household(group="一社", head_name="陈玉兰")
    with committing(app) as session:
        yard = criteria.save_category(session, village_id, {"name": "美丽庭院", "position": 1}, None)
        criteria.save_criterion(session, yard, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None)
        panels.set_panel_member(session, session.get(User, panel_id), "执委", [], chair_id)
        found = workflow.create_round(session, home_village(session), "monthly", "2026-11", "", chair_id)
        round_id = found.id
    return SimpleNamespace(chair=chair, panel=panel, household=household, round=round_id)


def test_a_panel_member_attaches_a_photo_from_the_phone_checklist(browser, live_server, app, yard_round):
    context, phone = _open(browser, live_server, PHONE_390)
    try:
        login(phone, yard_round.panel)
        phone.goto(f"/scoring/rounds/{yard_round.round}/households")
        screenshot(phone, "score-photos-checklist-390")
        phone.locator("ul.household-list a", has_text="陈玉兰").click()
        file_input = phone.locator("input[type=file][name=photo]")
        assert file_input.get_attribute("capture") == "environment"
        assert file_input.get_attribute("accept") == "image/*"
        phone.get_by_label("条目").select_option(label="美丽庭院 · 庭院整洁")
        phone.locator(".stage-choice label", has_text="整改前").click()
        file_input.set_input_files(
            {"name": "IMG_20261125.jpg", "mimeType": "image/jpeg", "buffer": _camera_photo()}
        )
        phone.get_by_role("button", name="上传照片").click()
        expect(phone.locator(".flash-success")).to_contain_text("已上传佐证照片")
        strip = phone.locator(".photo-strip li")
        expect(strip).to_have_count(1)
        expect(strip.first).to_contain_text("庭院整洁 · 整改前")
        assert phone.evaluate("() => document.querySelector('.photo-strip img').naturalWidth") == 1600
        assert horizontal_overflow(phone) <= 0
        screenshot(phone, "score-photos-entry-390")
        phone.goto(f"/scoring/rounds/{yard_round.round}/households")
        expect(phone.locator(".photo-count")).to_have_text("照片 1")
        assert console_errors(phone) == []
    finally:
        context.close()
    with app.app_context():
        [photo] = db.session.scalars(sa.select(ScorePhoto)).all()
        stored = (score_photos.folder_of(app.instance_path) / photo.stored_name).read_bytes()
    assert_no_exif(stored)
    assert (photo.width, photo.height, photo.stage) == (1600, 1200, "before")


def test_the_chair_sees_the_photo_on_the_score_sheet_at_1366_and_as_a4(browser, live_server, app, yard_round):
    context, page = _open(browser, live_server, {"viewport": {"width": 1366, "height": 768}})
    try:
        login(page, yard_round.chair)
        # the chair is not on the panel here: a panel member uploads, on her phone
        login_panel = browser.new_context(base_url=live_server.url, locale="zh-CN", **PHONE_390)
        panel_page = login_panel.new_page()
        login(panel_page, yard_round.panel)
        panel_page.goto(f"/scoring/rounds/{yard_round.round}/households/{yard_round.household}")
        panel_page.locator("input[type=file][name=photo]").set_input_files(
            {"name": "a.jpg", "mimeType": "image/jpeg", "buffer": _camera_photo()}
        )
        panel_page.get_by_role("button", name="上传照片").click()
        expect(panel_page.locator(".flash-success")).to_be_visible()
        login_panel.close()

        page.goto(f"/ledgers/rounds/{yard_round.round}/scores")
        evidence = page.locator("#evidence")
        expect(evidence.locator("img")).to_have_count(1)
        assert page.evaluate("() => document.querySelector('#evidence img').complete")
        assert horizontal_overflow(page) <= 0
        screenshot(page, "score-photos-sheet-1366")
        evidence.get_by_role("button", name="在公示上公开").click()
        expect(page.locator(".flash-success")).to_contain_text("会显示在公示上")
        expect(page.locator("#evidence .public-badge")).to_have_text("已公开")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pdf = ARTIFACTS / "score-photos-sheet-a4.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "打分佐证照片" in text and "在公示上公开" not in text and "从公示撤下" not in text
        assert console_errors(page) == []
    finally:
        context.close()


def test_the_chair_writes_the_bylaws_from_the_draft_and_prints_the_poster(browser, live_server, yard_round):
    context, page = _open(browser, live_server, {"viewport": {"width": 1366, "height": 768}})
    try:
        login(page, yard_round.chair)
        page.goto("/ledgers/")
        page.get_by_role("link", name="管理办法的各个版本").click()
        page.get_by_role("link", name="从草稿开始写").click()
        text = page.get_by_label("管理办法")
        assert "一、目的" in text.input_value()
        text.fill(text.input_value().replace("不能兑换现金", "不能兑换现金或烟酒"))
        page.get_by_role("button", name="保存为新版本").click()
        expect(page.locator(".flash-success")).to_contain_text("第 1 版")
        page.get_by_role("link", name="打印上墙").click()
        expect(page.locator(".bylaws-text")).to_contain_text("不能兑换现金或烟酒")
        assert horizontal_overflow(page) <= 0
        pdf = ARTIFACTS / "bylaws-wall-a4.pdf"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(pdf), format="A4", print_background=True)
        printed = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "巾帼家美积分超市管理办法" in printed and "第 1 版" in printed and "返回台账" not in printed
        page.set_viewport_size({"width": 390, "height": 844})
        assert horizontal_overflow(page) <= 0
        screenshot(page, "bylaws-wall-390")
        assert console_errors(page) == []
    finally:
        context.close()
