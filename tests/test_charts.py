"""The server-drawn charts' value axis: its numbers never run into each other, on a phone or a desk."""

import itertools
import xml.etree.ElementTree as ET

import pytest

from pointsmart import charts

SVG = "{http://www.w3.org/2000/svg}"


def axis_numbers(app, query: str, top: int) -> tuple[list[tuple[float, str]], int]:
    """The value axis's (x, text) of a category chart whose longest bar is ``top``; the drawing's width."""
    items = [("卫生评比加分项目", top), ("志愿服务", top // 2), ("孝老爱亲", top // 3), ("其他", 1)]
    with app.test_request_context("/chart" + query):
        body = charts.svg(charts.bars("各类别加分", items, "分")).get_data()
    root = ET.fromstring(body)  # noqa: S314 (our own server's output)
    numbers = [
        (float(text.get("x")), text.text)
        for group in root.iter(SVG + "g")
        if (group.get("class") or "").split()[:2] == ["axis", "x"]
        for text in group.iter(SVG + "text")
    ]
    width = int(root.get("viewBox").split()[2])
    return numbers, width


@pytest.mark.parametrize("top", [1400, 14000, 1_400_000, 123_456_789])
@pytest.mark.parametrize("query", ["", "?fit=phone"])
def test_bar_chart_axis_numbers_never_overlap(app, query, top):
    numbers, width = axis_numbers(app, query, top)
    assert len(numbers) >= 3, numbers
    font = charts.CHART_STYLE.major_label_font_size
    # each number is centred on its mark; measured generously (digits 0.6 em, a Chinese unit a full em)
    extents = [(x - charts.text_width(t, font) / 2, x + charts.text_width(t, font) / 2) for x, t in numbers]
    for (_x, text), (left, right) in zip(numbers, extents, strict=True):
        assert left > -width and right < width, (text, left, right)
    for (a, (_, a_end)), (b, (b_start, _)) in itertools.pairwise(zip(numbers, extents, strict=True)):
        assert b_start - a_end >= 4, (a, b, numbers)
    # the axis reaches the longest bar, and its numbers are short on a large axis (140万, not 1400000)
    values = [float(t.replace("亿", "e8").replace("万", "e4")) for _, t in numbers]
    assert values[-1] >= top and values == sorted(values)
    assert all(len(t) <= 5 for _, t in numbers), numbers


def test_the_phone_drawing_that_overlapped_now_has_fewer_numbers(app):
    """The reported case: 0 to 1400 on a 380 px drawing read "0 200400600800100012001400"."""
    phone, _ = axis_numbers(app, "?fit=phone", 1400)
    desk, _ = axis_numbers(app, "", 1400)
    assert [t for _, t in desk] == ["0", "200", "400", "600", "800", "1000", "1200", "1400"]
    assert len(phone) < len(desk)
    assert [t for _, t in axis_numbers(app, "", 14000)[0]][:3] == ["0", "5000", "10000"]
    assert [t for _, t in axis_numbers(app, "", 1_400_000)[0]][:3] == ["0", "20万", "40万"]
