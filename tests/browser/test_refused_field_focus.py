"""A refused form comes back with the focus on its first marked field, scrolled into view.

Before: the settings page's 有效月数, refused, sat at y≈1366 px on a desktop and y≈1587 px on a phone
under one banner at the top, and nothing pointed there (static/js/app.js now moves the focus).
"""

import pytest
from playwright.sync_api import expect

from ..test_county_dashboard import county_user
from .conftest import ARTIFACTS, DESKTOP, _open, console_errors, login, screenshot
from .test_county_browser import serving_county

FOCUSED = """() => {
  const el = document.activeElement;
  const box = el.getBoundingClientRect();
  return {name: el.name || null, invalid: el.getAttribute('aria-invalid'),
          inView: box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0};
}"""


def _refused_months(page, size: str):
    page.goto("/settings/")
    form = page.locator("#points-rule")
    form.get_by_label("获得满几个月后过期（先获得的先过期）").check()
    form.get_by_label("有效月数").fill("1.5")
    form.get_by_role("button").first.click()
    expect(page.locator(".flash-error")).to_have_text("请修改标出的项目：有效月数。")
    expect(page.locator("#points-rule input[name=months]")).to_be_focused()  # app.js runs once parsed
    assert page.evaluate(FOCUSED) == {"name": "months", "invalid": "true", "inView": True}
    screenshot(page, f"refused-focus-months-{size}")
    # then 每年年底清零 with the junk still in the field: saved, the months not read
    page.locator("#points-rule").get_by_label("每年年底清零（当年获得的积分到12月31日为止）").check()
    page.locator("#points-rule").get_by_role("button").first.click()
    expect(page.locator("#points-rule-now")).to_contain_text("每年年底清零")
    # a page with nothing refused takes no focus
    assert page.evaluate("() => document.activeElement === document.body")


@pytest.mark.parametrize("size", [(1366, 768), (390, 844)], ids=["desktop", "phone"])
def test_the_first_refused_field_has_the_focus_and_is_on_screen(page, chair, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    login(page, chair)
    _refused_months(page, str(width))
    assert [e for e in console_errors(page) if "status of 422" not in e] == []


def test_a_refused_threshold_has_the_focus_on_a_phone(browser, county_app):
    admin = county_user(county_app, "county_admin")
    with serving_county(county_app) as live:
        context, page = _open(browser, live, DESKTOP)
        try:
            page.set_viewport_size({"width": 390, "height": 844})
            login(page, admin.username)
            page.goto("/county/anomalies/thresholds")
            last = page.locator("#thresholds-form input[inputmode=numeric]").last
            name = last.get_attribute("name")
            last.fill("1.5")
            page.locator("#thresholds-form button[type=submit]").click()
            expect(page.locator(".flash-error")).to_have_count(1)
            assert page.locator("small.error").count() == 1
            expect(page.locator(f"#thresholds-form input[name={name}]")).to_be_focused()
            assert page.evaluate(FOCUSED) == {"name": name, "invalid": "true", "inView": True}
            screenshot(page, "refused-focus-thresholds-390")
            page.set_viewport_size({"width": 1366, "height": 768})
            screenshot(page, "refused-focus-thresholds-1366")
            page.emulate_media(media="print")
            page.pdf(path=str(ARTIFACTS / "refused-thresholds-a4.pdf"), format="A4", print_background=True)
        finally:
            context.close()
