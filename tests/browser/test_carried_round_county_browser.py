"""A round carried from November into December and finalised there, in a browser: the village's
December accounts count it with the household it scored, the county's rebuilt December book lists it in
本月的评定 (its hash agreeing), and the county's 光荣榜 lists the village's roll, names masked — at
1366×768, at 390×844 and printed to A4. The pictures are kept under ``/work/wt/shots/carry`` when that
folder's parent exists."""

from pathlib import Path

from playwright.sync_api import expect

from ..conftest import VILLAGE_CODE
from ..sync_support import push_all, register
from ..test_carried_round_county import DECEMBER, _carried_and_finalised
from ..test_county_dashboard import county_user
from .conftest import ARTIFACTS, _open, console_errors, horizontal_overflow, login
from .test_county_browser import serving_county

SIZES = {
    "1366": {"viewport": {"width": 1366, "height": 768}},
    "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


def _shots() -> Path:
    shots = Path("/work/wt/shots/carry")
    folder = shots if shots.parent.is_dir() else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _keep(page, shots: Path, stem: str, name: str) -> None:
    assert horizontal_overflow(page) <= 0
    page.screenshot(path=str(shots / f"{stem}-{name}.png"), full_page=True)
    if name == "1366":
        page.emulate_media(media="print")
        page.pdf(path=str(shots / f"{stem}-a4.pdf"), format="A4", print_background=True)
        page.emulate_media(media="screen")
    assert console_errors(page) == []


def test_a_carried_round_in_decembers_accounts_and_the_county_book_and_honour_roll(
    app, county_app, browser, live_server, make_user, make_household
):
    _carried_and_finalised(app, make_user, make_household)
    shots = _shots()
    for name, size in SIZES.items():
        context, page = _open(browser, live_server, size)
        page.goto(f"/accounts/{DECEMBER}")
        expect(page.locator("body")).to_contain_text("本月评定 1 次，1 户得到评定结果")
        _keep(page, shots, "village-accounts-december", name)
        context.close()

    push_all(app, county_app.test_client(), register(county_app))
    reviewer = county_user(county_app)
    with serving_county(county_app) as live:
        for name, size in SIZES.items():
            context, page = _open(browser, live, size)
            page.goto("/honour")
            roll = page.locator(f'section[data-village="{VILLAGE_CODE}"]')
            expect(roll.locator("li")).to_have_count(1)
            expect(roll).to_contain_text("第 1 名")
            _keep(page, shots, "county-honour", name)
            page.goto(f"/accounts/{VILLAGE_CODE}/{DECEMBER}")
            expect(page.locator("body")).to_contain_text("本月评定 1 次，1 户得到评定结果")
            _keep(page, shots, "county-accounts-december", name)
            login(page, reviewer.username)
            page.goto(f"/county/villages/{VILLAGE_CODE}/book/{DECEMBER}")
            rounds = page.locator("#book-rounds")
            expect(rounds.locator("tbody tr")).to_have_count(1)
            expect(rounds).to_contain_text("已生效")
            expect(page.locator("body")).to_contain_text("✓ 一致")
            _keep(page, shots, "county-book-december", name)
            context.close()
