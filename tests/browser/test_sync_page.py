"""The chair's sync page in a real browser: press 现在同步, watch the progress, see the county agree."""

import threading

import pytest
from playwright.sync_api import Page, expect
from waitress import create_server, wasyncore

from ..sync_support import county_totals, register, village_totals, workload
from .conftest import console_errors, login, screenshot

#: sync and the county read and write differently on each database: this flow runs in both passes
pytestmark = pytest.mark.both_databases


@pytest.fixture
def county_server(county_app):
    """The county app served by waitress on a free port, as the village reaches a county server."""
    server = create_server(county_app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=5)
    server.task_dispatcher.shutdown(timeout=5)


def test_chair_pushes_to_the_county_and_watches_it_arrive(
    page: Page, app, county_app, county_server, chair, make_user, make_household
):
    workload(app, make_user, make_household)
    head = village_totals(app)["seq"]
    key = register(county_app)
    app.config.update(POINTSMART_COUNTY_URL=county_server, POINTSMART_SYNC_KEY=key)
    login(page, chair)
    expect(page.locator("body")).to_contain_text("从未同步")
    expect(page.locator("body")).to_contain_text(f"等待发送 {head} 条记录")
    page.get_by_role("link", name="同步", exact=True).click()
    expect(page.locator("#sync-waiting")).to_have_text(str(head))
    page.get_by_role("button", name="现在同步").click()
    expect(page.locator("#sync-status")).to_contain_text(f"县里已确认到第 {head} 条", timeout=20_000)
    expect(page.locator("#sync-waiting")).to_have_text("0")
    expect(page.locator("#sync-bar")).to_have_attribute("value", str(head))
    # the page shows the county's acknowledgement and the time it came
    expect(page.locator("dl.details")).to_contain_text(f"第 {head} 条")
    expect(page.locator("dl.details")).not_to_contain_text("从未同步")
    screenshot(page, "sync-page-after-push")
    assert county_totals(county_app) == village_totals(app)
    page.goto("/")
    expect(page.locator("body")).to_contain_text("等待发送 0 条记录")
    assert console_errors(page) == []
