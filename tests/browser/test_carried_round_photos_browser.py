"""A round carried on by November's close, in a browser: its page says 已结转到 2026年12月 and the
scoring index marks it, at 1366×768, at 390×844 and printed to A4; its score photos are listed in the
county's rebuilt December book (积分公示影视资料台账), the same lines as the village's, on a desktop, a
phone and A4. The pictures are kept under ``/work/wt/shots/misc`` when that folder's parent exists."""

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from pointsmart.auth.models import User
from pointsmart.book import month_rounds
from pointsmart.closing.services import carry_round, close_month
from pointsmart.extensions import db
from pointsmart.images import clean_photo
from pointsmart.org.services import home_village
from pointsmart.periods import read_period
from pointsmart.scoring import criteria, panels, score_photos, workflow

from ..conftest import VILLAGE_CODE, committing
from ..sync_support import push_all, register
from ..test_county_dashboard import county_user
from .conftest import ARTIFACTS, _open, console_errors, horizontal_overflow, login
from .test_county_browser import serving_county

SIZES = {
    "1366": {"viewport": {"width": 1366, "height": 768}},
    "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


def _shots() -> Path:
    shots = Path("/work/wt/shots/misc")
    folder = shots if shots.parent.is_dir() else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


def _carried_round_with_photos(app, make_user, make_household) -> tuple[int, str]:
    """A November round of two households' photos (before and after, one public; one of a whole score),
    carried on by November's close; its id and the chair's user name."""
    chair_id, chair = make_user("chair")
    panel_id, _panel = make_user("panel")
    homes = [make_household(group="一社", head_name=name) for name in ("陈玉兰", "王桂芬")]
    with committing(app) as session:
        village = home_village(session)
        yard = criteria.save_category(session, village.id, {"name": "美丽庭院", "position": 1}, None)
        criteria.save_criterion(session, yard, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None)
        member = session.get(User, panel_id)
        panels.set_panel_member(session, member, "执委", [], chair_id)
        found = workflow.create_round(session, village, "monthly", "2026-11", "", chair_id)
        round_id, criterion = found.id, found.criteria[0].id
        folder = score_photos.folder_of(app.instance_path)
        for home, colour, stage in ((homes[0], (200, 40, 40), "before"), (homes[0], (40, 160, 40), "after"),
                                    (homes[1], (40, 40, 200), "")):  # fmt: skip
            photo = score_photos.add_photo(
                session, found, home, criterion if stage else None, stage, clean_photo(_png(colour)), folder,
                member, 10**9,
            )  # fmt: skip
            if stage == "after":
                score_photos.set_public(session, photo, True, chair_id)
    with committing(app) as session:
        village = home_village(session)
        carry_round(session, village.id, round_id, "2026-11", chair_id)
        close_month(session, village, "2026-11", chair_id)
    return round_id, chair


def test_the_carried_round_page_and_the_county_photos_ledger(
    app, county_app, browser, live_server, make_user, make_household
):
    round_id, chair = _carried_round_with_photos(app, make_user, make_household)
    shots = _shots()
    for name, size in SIZES.items():
        context, page = _open(browser, live_server, size)
        login(page, chair)
        page.goto(f"/scoring/rounds/{round_id}")
        expect(page.locator("#round-carried")).to_have_text("已结转到 2026年12月")
        expect(page.locator("h1")).to_contain_text("2026年11月 月评定")
        assert horizontal_overflow(page) <= 0
        page.screenshot(path=str(shots / f"round-carried-{name}.png"), full_page=True)
        if name == "1366":
            page.emulate_media(media="print")
            page.pdf(path=str(shots / "round-carried-a4.pdf"), format="A4", print_background=True)
            page.emulate_media(media="screen")
        page.goto("/scoring/rounds")
        expect(page.locator("tbody tr", has_text="2026-11")).to_contain_text("已结转到 2026年12月")
        assert horizontal_overflow(page) <= 0
        page.screenshot(path=str(shots / f"rounds-index-{name}.png"), full_page=True)
        assert console_errors(page) == []
        context.close()

    push_all(app, county_app.test_client(), register(county_app))
    with app.app_context():
        village = home_village(db.session)
        lines = score_photos.ledger_lines(
            db.session, month_rounds(db.session, village.id, read_period("2026-12"))
        )
    assert len(lines) == 3
    reviewer = county_user(county_app)
    with serving_county(county_app) as live:
        for name, size in SIZES.items():
            context, page = _open(browser, live, size)
            login(page, reviewer.username)
            page.goto(f"/county/villages/{VILLAGE_CODE}/book/2026-12")
            ledger = page.locator("#book-photos")
            expect(ledger.locator("tbody tr")).to_have_count(3)
            for line in lines:
                expect(ledger).to_contain_text(line.sha256)
            expect(ledger).to_contain_text("陈玉兰")
            expect(ledger).to_contain_text("整改前")
            assert horizontal_overflow(page) <= 0
            page.screenshot(path=str(shots / f"county-book-photos-{name}.png"), full_page=True)
            ledger.screenshot(path=str(shots / f"county-book-photos-ledger-{name}.png"))
            if name == "1366":
                page.emulate_media(media="print")
                page.pdf(path=str(shots / "county-book-a4.pdf"), format="A4", print_background=True)
            assert console_errors(page) == []
            context.close()
