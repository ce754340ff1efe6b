"""Pasting a text longer than a field allows, in a real browser: the text stays whole, a counter says
how much is too much, and the server's refusal names the field — never a silent cut."""

from playwright.sync_api import expect

from .conftest import console_errors, login


def test_pasting_300_characters_into_the_200_character_address_is_said_not_cut(page, chair):
    login(page, chair)
    page.goto("/households/new")
    page.get_by_label("户号").fill("07-001")
    page.get_by_label("户主姓名").fill("王秀兰")
    address = page.locator('input[name="address"]')
    address.focus()
    page.keyboard.insert_text("上" * 300)  # what a paste does: one insertion of the whole text
    assert len(address.input_value()) == 300, "the browser cut the pasted text"
    expect(page.locator('.counter[data-for="address"]')).to_have_text("300 / 200 字，多了 100 字，请删减")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".field.has-error")).to_contain_text("住址：最多 200 个字，现在是 300 个")
    assert len(page.locator('input[name="address"]').input_value()) == 300
    # the refusal's own 422 is the one load the browser reports
    assert [e for e in console_errors(page) if "status of 422" not in e] == []
    expect(page.locator('input[name="address"]')).to_be_focused()  # the marked field, to fix
