"""The public notice's "find my household": by 户号 or name, through a plain GET field (no JavaScript)."""

import re

from .test_scoring_reports import _make_round, scene  # noqa: F401  (scene is a fixture)


def _rows(page: str) -> list[str]:
    """The 户号 of each household row of the notice table, as shown (marks taken out)."""
    body = page.split('<table class="ledger notice-table">')[1].split("</table>")[0]
    return [re.sub(r"</?mark>", "", no) for no in re.findall(r'<td class="hh-no">(.*?)</td>', body)]


def test_notice_finds_a_household_by_number_or_name_without_javascript(app, scene, make_household, client):  # noqa: F811
    a = make_household(head_name="马春梅", household_no="01-001")
    b = make_household(head_name="魏建军", household_no="01-002")
    c = make_household(head_name="马小红", household_no="02-017")
    notice = _make_round(
        app, scene, "2026-11", {(a, "庭院整洁"): 1, (b, "庭院整洁"): 1, (c, "参加志愿服务"): 1}, stop="notice"
    )
    url = f"/notice/{notice.uuid}"
    whole = client.get(url).get_data(as_text=True)
    assert _rows(whole) == ["01-001", "01-002", "02-017"]
    assert (
        'name="q"' in whole
        and "查找我家" in whole
        and "<script" not in whole.split("</main>")[0].split("<main")[-1]
    )

    by_name = client.get(url, query_string={"q": "魏建军"}).get_data(as_text=True)
    assert _rows(by_name) == ["01-002"] and "<mark>魏建军</mark>" in by_name and "找到 1 户" in by_name
    by_surname = client.get(url, query_string={"q": " 马 "}).get_data(as_text=True)
    assert _rows(by_surname) == ["01-001", "02-017"] and "找到 2 户" in by_surname
    by_number = client.get(url, query_string={"q": "017"}).get_data(as_text=True)
    assert _rows(by_number) == ["02-017"] and "02-<mark>017</mark>" in by_number
    assert 'value="017"' in by_number and f'href="{url}"' in by_number  # the box keeps it; 显示全部 clears it

    nobody = client.get(url, query_string={"q": "张三"})
    assert nobody.status_code == 200
    page = nobody.get_data(as_text=True)
    assert _rows(page) == [] and "没有找到“张三”" in page


def test_notice_search_escapes_what_is_typed(app, scene, make_household, client):  # noqa: F811
    a = make_household(head_name="马春梅")
    notice = _make_round(app, scene, "2026-11", {(a, "庭院整洁"): 1}, stop="notice")
    page = client.get(f"/notice/{notice.uuid}", query_string={"q": "<b>x</b>"}).get_data(as_text=True)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_a_search_too_long_is_refused_naming_the_box_not_cut_short(app, scene, make_household, client):  # noqa: F811
    name = "马" * 41  # longer than any 户号 or name: cut to 40 it would find 马…; refused, it finds no one
    a = make_household(head_name="马" * 40)
    notice = _make_round(app, scene, "2026-11", {(a, "庭院整洁"): 1}, stop="notice")
    page = client.get(f"/notice/{notice.uuid}", query_string={"q": name})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "查找农户（户号或户主姓名）：最多 40 个字，现在是 41 个" in text
    assert "找到 1 户" not in text
