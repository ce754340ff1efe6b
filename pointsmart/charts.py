"""Server-drawn SVG charts: the county's dashboard and the chair's village picture draw with these.

A chart is a pygal drawing rendered without its script and served as its own ``image/svg+xml``
response, shown on a page through ``<img>``: the page keeps its strict Content-Security-Policy, a
phone needs no JavaScript, and the page prints as vectors. A chart with nothing to draw is a quiet line
of text in its frame (:func:`empty_svg`), never an empty grid.

Nothing here knows where the figures come from: :func:`trend_chart` takes any rows with ``month``,
``issued``, ``redeemed`` and ``opening``; :func:`bars` takes ``(label, whole number)`` pairs.
"""

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Protocol
from unicodedata import east_asian_width

import pygal
from flask import Response, has_request_context, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pygal.style import Style

from .text import visible

#: a chart is its own SVG document: its inline <style> is allowed, nothing else (no script, no fetches)
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"

FONTS = '"Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif'
CHART_STYLE = Style(
    font_family=FONTS,
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d1b1a",
    foreground_strong="#1d1b1a",
    foreground_subtle="#e4ded9",
    colors=("#b3261e", "#1b6e3a", "#8a5a00", "#1d3f8a", "#6b6561"),
    title_font_size=20,
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=16,
    value_font_size=15,
)


#: the size every chart is drawn at (the pages scale them; the <img> tags reserve this shape)
TREND_SIZE, BARS_SIZE = (800, 360), (560, 320)

#: what pygal keeps of a chart's width beside its plot and its margin_left: its margins either side
PLOT_SIDES = 40

#: the size a chart is drawn at for a phone's narrow column, asked for with ``?fit=phone`` (the pages'
#: ``<picture>`` does, on a screen under 720 px: templates/county/_macros.html, chart_figure, which
#: repeats these shapes). Scaled to the 345 px a 390 px phone gives it, the 800 px trend's 15 px labels
#: came out 6.5 px tall and a bar chart's 9 px; drawn this narrow they are 13 px.
PHONE_SIZES = {TREND_SIZE: (400, 400), BARS_SIZE: (380, 340)}


def fitted(size: tuple[int, int]) -> tuple[int, int]:
    """The size to draw a chart of ``size`` at for this request: its phone shape when asked for."""
    if has_request_context() and request.args.get("fit") == "phone":
        return PHONE_SIZES.get(size, size)
    return size


class MonthFigures(Protocol):
    """A month of points, as :func:`trend_chart` draws it."""

    month: str
    issued: int
    redeemed: int
    opening: int


#: how wide an axis number is drawn, in em of its font: digits and "." about 0.6 em (estimated on the
#: wide side), a Chinese unit word a full em
DIGIT_EM, WIDE_EM = 0.6, 1.0
#: the least clear space between two neighbouring axis numbers, in pixels
TICK_GAP = 10


def tick_text(value: float, top: float) -> str:
    """An axis number, shortened on an axis that reaches 100 000: 20万 / 140万 / 1.2亿 (200k / 1.4M in
    other languages), so that a narrow chart fits more of them; smaller axes keep the whole number."""
    if top < 100_000 or not value:
        return f"{value:g}"
    chinese = str(get_locale() or "zh").startswith("zh") if has_request_context() else True
    if chinese:
        size, unit = (10**8, "亿") if top >= 10**8 else (10**4, "万")
    else:
        size, unit = (10**6, "M") if top >= 10**6 else (10**3, "k")
    return f"{round(value / size, 4):g}{unit}"


def text_width(text: str, font_size: float) -> float:
    """The estimated drawn width of an axis number (see :data:`DIGIT_EM`)."""
    wide = sum(east_asian_width(c) in "WF" for c in text)
    return font_size * (wide * WIDE_EM + (len(text) - wide) * DIGIT_EM)


def ticks(values, room: float | None = None) -> list[dict]:
    """Axis marks 1, 2 or 5 × 10ⁿ apart, at most about eight, reaching the largest value (points and goods
    are whole; months of stock left may have a decimal), each as pygal's ``{"value", "label"}``.

    With ``room`` (the pixels an axis drawn across the chart has), the marks are also far enough apart
    that their numbers, each centred on its mark, never touch: a phone's narrow bar chart gets fewer."""
    top = max([0, *values])
    if not top:
        return [{"value": 0, "label": "0"}, {"value": 1, "label": "1"}]
    font = CHART_STYLE.major_label_font_size
    for step in (factor * 10**power for power in itertools.count() for factor in (1, 2, 5)):
        if step * 8 < top:
            continue
        marks = [n * step for n in range(math.ceil(top / step) + 1)]
        labels = [tick_text(mark, marks[-1]) for mark in marks]
        if room is None or len(marks) < 3:
            break
        spacing = room / (len(marks) - 1)
        if all(
            spacing >= (text_width(a, font) + text_width(b, font)) / 2 + TICK_GAP
            for a, b in itertools.pairwise(labels)
        ):
            break
    return [{"value": mark, "label": text} for mark, text in zip(marks, labels, strict=True)]


#: what a chart with nothing to draw says, quietly, in its frame
EMPTY = _l("本期暂无数据")


def trend_has_data(rows: Sequence[MonthFigures]) -> bool:
    return any(r.issued or r.redeemed or r.opening for r in rows)


def empty_svg(title: str, size: tuple[int, int]) -> Response:
    """A chart with nothing to draw: its title and a quiet line of text, inside its own frame."""
    width, height = size = fitted(size)
    svg_root = ET.Element(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        width=str(width),
        height=str(height),
        viewBox=f"0 0 {width} {height}",
        role="img",
    )
    ET.SubElement(svg_root, "title").text = _("%(chart)s：本期暂无数据", chart=title)
    ET.SubElement(svg_root, "rect", width=str(width), height=str(height), fill="#ffffff")
    for y, size_px, colour, words in (
        (40, CHART_STYLE.title_font_size, "#1d1b1a", title),
        (height // 2 + 8, CHART_STYLE.legend_font_size, "#6b6561", str(EMPTY)),
    ):
        line = ET.SubElement(
            svg_root,
            "text",
            x=str(width // 2),
            y=str(y),
            fill=colour,
            style=f"font-family:{FONTS};font-size:{size_px}px",
        )
        line.set("text-anchor", "middle")
        line.text = words
    response = Response(
        ET.tostring(svg_root, encoding="utf-8", xml_declaration=True), mimetype="image/svg+xml"
    )
    response.headers["Content-Security-Policy"] = CHART_CSP
    return response


def new_chart(kind, title: str, values, size: tuple[int, int], **config):
    """A pygal chart of ``kind`` in the house style, its value axis marked by :func:`ticks`."""
    width, height = fitted(size)
    settings = {"legend_at_bottom": True, "truncate_label": -1, "y_labels": ticks(values)} | config
    if (width, height) != size and kind is pygal.Bar:
        settings.setdefault("x_label_rotation", 45)  # twelve months side by side in a phone's width
    return kind(
        js=[], style=CHART_STYLE, title=title, width=width, height=height,
        no_data_text=_("这段时间没有数据"), **settings,
    )  # fmt: skip


def svg(chart, title: str = "", size: tuple[int, int] = BARS_SIZE) -> Response:
    """The chart as a standalone SVG, its script (pygal's config, unused without JS) left out; with
    nothing to draw (``chart`` None), the quiet empty state."""
    if chart is None:
        return empty_svg(title, size)
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    body = ET.tostring(tree, encoding="utf-8", xml_declaration=True)
    response = Response(body, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = CHART_CSP
    return response


def trend_chart(rows: Sequence[MonthFigures], title: str):
    """Issued and redeemed points by month; opening balances (:mod:`pointsmart.county.opening`) as their
    own series, only when the months shown have any, so they never swell "issued"."""
    if not trend_has_data(rows):
        return None
    opening = any(r.opening for r in rows)
    values = [r.issued for r in rows] + [r.redeemed for r in rows] + [r.opening for r in rows]
    chart = new_chart(pygal.Bar, title, values, TREND_SIZE)
    chart.x_labels = [r.month[2:] for r in rows]
    chart.add(_("发放积分"), [r.issued for r in rows])
    chart.add(_("兑换积分"), [r.redeemed for r in rows])
    if opening:
        chart.add(_("期初结转（纸质积分卡）"), [r.opening for r in rows])
    return chart


def label(name: str, longest: int = 12) -> str:
    """A bar's name, cut to ``longest`` characters; a control character stored before the text rule is
    shown as its escape (as on the pages), since an SVG holding one is no XML and draws nothing."""
    name = visible(name)
    return name if len(name) <= longest else name[: longest - 1] + "…"


def label_room(labels: list[str]) -> int:
    """The left margin a bar chart's labels need. pygal guesses 0.6 em a character; Chinese characters
    are a full em wide, so without this the start of a long name is cut off."""
    wide = max((sum(east_asian_width(c) in "WF" for c in text) for text in labels), default=0)
    return 20 + round(wide * 0.45 * CHART_STYLE.label_font_size)


def bars(title: str, items: list[tuple[str, float]], series: str):
    """Horizontal bars, the first item on top, each with its value printed; None when all are zero."""
    if not any(value for _name, value in items):
        return None
    values = [value for _name, value in items]
    labels = [label(name) for name, _value in items[::-1]]
    chart = new_chart(
        pygal.HorizontalBar, title, values, BARS_SIZE, show_legend=False, print_values=True,
        margin_left=label_room(labels),
    )  # fmt: skip
    chart.x_labels = labels
    # the value axis runs across the chart: its numbers must fit side by side in the plot's width, which
    # is what is left of the drawing beside the names (pygal sizes their column at 0.6 em a character
    # on top of margin_left) and pygal's margins
    width = fitted(BARS_SIZE)[0]
    names = 0.6 * CHART_STYLE.label_font_size * max(len(text) for text in labels)
    chart.config.y_labels = ticks(values, width - label_room(labels) - names - PLOT_SIDES)
    chart.add(series, [value for _name, value in items[::-1]])
    return chart
