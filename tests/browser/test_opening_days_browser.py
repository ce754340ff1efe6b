"""The shop's opening days on the settings page, in a browser: the chair ticks the days on a desktop and
on a phone, saves, and sees them ticked and named; a tampered value is refused naming the field."""

from playwright.sync_api import expect

from .conftest import ARTIFACTS, console_errors, horizontal_overflow, login, screenshot


def _section(page):
    return page.locator("#opening-days")


def test_the_chair_ticks_the_opening_days_on_a_desktop(page, chair):
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, chair)
    page.goto("/settings/")
    section = _section(page)
    expect(section).to_contain_text("不设置则不检查")
    for day in ("周一", "周三", "周五"):
        section.get_by_label(day, exact=True).check()
    section.get_by_role("button", name="保存营业日").click()
    expect(page.locator("#opening-days-now")).to_have_text("现在的营业日：周一、周三、周五。")
    expect(_section(page).get_by_label("周三", exact=True)).to_be_checked()
    expect(_section(page).get_by_label("周日", exact=True)).not_to_be_checked()
    assert horizontal_overflow(page) <= 0
    screenshot(page, "opening-days-1366")
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "opening-days-a4.pdf"), format="A4", print_background=True)
    page.emulate_media(media="screen")
    # a value no tick sends (a tampered form): refused, naming the field, nothing saved
    page.evaluate("document.querySelector('#opening-days input[name=days]').value = '8'")
    _section(page).get_by_role("button", name="保存营业日").click()
    expect(page.locator("#opening-days")).to_contain_text("只能勾选周一到周日，每天一次。")
    expect(page.locator(".flash-error")).to_have_text("请修改标出的项目：营业日。")
    screenshot(page, "opening-days-refused-1366")
    page.goto("/settings/")
    expect(page.locator("#opening-days-now")).to_have_text("现在的营业日：周一、周三、周五。")
    # the refusal's own 422 is the one load the browser reports
    assert [e for e in console_errors(page) if "status of 422" not in e] == []


def test_the_chair_ticks_the_opening_days_on_a_phone(phone, chair):
    phone.set_viewport_size({"width": 390, "height": 844})
    login(phone, chair)
    phone.goto("/settings/")
    section = _section(phone)
    section.get_by_label("周六", exact=True).tap()
    section.get_by_label("周日", exact=True).tap()
    section.get_by_role("button", name="保存营业日").tap()
    expect(phone.locator("#opening-days-now")).to_have_text("现在的营业日：周六、周日。")
    assert horizontal_overflow(phone) <= 0
    screenshot(phone, "opening-days-390")
    assert console_errors(phone) == []
