"""The roster import page says that a blank cell keeps what a household has; at 390 and 1366 px."""

from .conftest import _open, console_errors, horizontal_overflow, login, screenshot


def test_the_import_page_says_a_blank_cell_keeps_the_stored_value(browser, live_server, make_user):
    _user_id, chair = make_user("chair")
    sizes = {
        "1366": {"viewport": {"width": 1366, "height": 768}},
        "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    }
    for size, options in sizes.items():
        context, page = _open(browser, live_server, options)
        try:
            login(page, chair)
            page.goto("/households/import")
            note = page.locator("#blank-keeps")
            assert note.is_visible() and "保留原来的内容" in note.inner_text()
            assert horizontal_overflow(page) <= 0
            screenshot(page, f"roster-import-{size}")
            assert console_errors(page) == []
        finally:
            context.close()
