"""The chair's account pages in a real browser: disabling a user and revoking a software key ask first,
naming the consequence; the keys page fits a 390 px phone; the audit log reads as sentences there."""

from playwright.sync_api import expect

from .conftest import console_errors, horizontal_overflow, login


def _asked(page, answer: bool) -> list[str]:
    questions = []

    def handle(dialog):
        questions.append(dialog.message)
        dialog.accept() if answer else dialog.dismiss()

    page.once("dialog", handle)
    return questions


def test_disabling_a_user_asks_first_naming_the_consequence(page, chair, make_user):
    make_user("panel", username="xiaozhao")
    login(page, chair)
    page.goto("/users")
    row = page.locator("tr", has_text="xiaozhao")
    asked = _asked(page, answer=False)
    row.get_by_role("button", name="停用").click()
    assert asked and "xiaozhao 不能再登录" in asked[0] and "接口密钥全部作废" in asked[0]
    expect(row).to_contain_text("正常")  # said no: nothing changed
    asked = _asked(page, answer=True)
    row.get_by_role("button", name="停用").click()
    expect(page.locator("tr", has_text="xiaozhao")).to_contain_text("已停用")
    assert asked
    page.goto("/audit/")
    expect(page.locator("ol.audit-log")).to_contain_text("停用了用户 xiaozhao")
    assert not console_errors(page)


def test_the_keys_page_fits_a_phone_and_revoking_asks_first(browser, live_server, chair):
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 390, "height": 844}, has_touch=True
    )
    page = context.new_page()
    try:
        login(page, chair)
        page.goto("/tokens")
        page.get_by_label("密钥名称").fill("收银平板")
        page.get_by_role("button", name="新建").click()
        page.get_by_role("link", name="返回接口密钥列表").click()
        assert horizontal_overflow(page) <= 0
        revoke = page.get_by_role("button", name="作废")
        box = revoke.bounding_box()
        assert box["height"] >= 40 and box["x"] + box["width"] <= 390
        asked = _asked(page, answer=True)
        revoke.click()
        expect(page.locator(".flash-success")).to_contain_text("已作废")
        assert asked and "收银平板" in asked[0] and "立即连不上" in asked[0]
        assert horizontal_overflow(page) <= 0
    finally:
        context.close()
