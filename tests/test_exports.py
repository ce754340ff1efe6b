"""The one export model's sheet: its own heading, totals, captioned sections, notes, a figure with its own
format, and a header-first sheet for a file read back in."""

import io
from datetime import date
from operator import itemgetter

from openpyxl import load_workbook

from pointsmart.exports import DAY, INTEGER, MONEY, Column, Figure, Table, workbook


def _sheet(table: Table, heading: str = "村 报表"):
    return load_workbook(io.BytesIO(workbook(heading, [table]))).active


COLUMNS = [Column("日期", 12, itemgetter(0), DAY), Column("件数", 8, itemgetter(1), INTEGER)]


def test_a_sheet_with_its_own_heading_totals_a_section_and_notes():
    table = Table(
        "明细",
        COLUMNS,
        [(date(2026, 11, 1), 3)],
        footer=["合计", 3],
        totals=[["退回"]],
        sections=[("以前月份", [(date(2026, 10, 30), 1)])],
        notes=["", "说明一句"],
        heading="某村 明细 2026年11月",
    )
    sheet = _sheet(table)
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "某村 明细 2026年11月" and rows[1] == ["日期", "件数"]
    assert rows[2][1] == 3 and rows[3] == ["合计", 3] and rows[4][0] == "退回"
    assert rows[6][0] == "以前月份" and rows[7][1] == 1
    assert rows[-1][0] == "说明一句" and rows[-2] == [None, None]
    assert sheet["A3"].number_format == "yyyy-mm-dd" and sheet["B3"].number_format == "0"
    assert sheet["A4"].font.b and sheet["A5"].font.b and sheet["A7"].font.b and not sheet["A3"].font.b
    assert sheet.freeze_panes == "A3" and sheet.title == "明细"


def test_without_its_own_heading_the_workbooks_heading_and_the_title():
    assert _sheet(Table("明细", COLUMNS, []))["A1"].value == "村 报表 · 明细"


def test_a_figure_keeps_its_own_format_in_a_mixed_column():
    table = Table("汇总", [Column("项目", 20, itemgetter(0)), Column("数值", 10, itemgetter(1))])
    table.rows = [("笔数", 4), ("金额（元）", Figure(12345, MONEY))]
    sheet = _sheet(table)
    assert sheet["B3"].value == 4 and sheet["B3"].number_format == "General"
    assert sheet["B4"].value == 123.45 and sheet["B4"].number_format == "#,##0.00"


def test_a_file_read_back_in_has_its_headings_on_the_first_row():
    sheet = _sheet(Table("名册", COLUMNS, [(date(2026, 11, 1), 3)], heading_line=False))
    assert [c.value for c in sheet[1]] == ["日期", "件数"] and sheet["B2"].value == 3
    assert sheet.freeze_panes == "A2" and sheet.print_title_rows == "$1:$1"


PAGE = """{% from "_table.html" import data_table with context %}
{% macro odd(row) %}{{ 'odd' if row[1] % 2 }}{% endmacro %}
{% macro many(n) %}{{ 'total' if n >= 4 }}{% endmacro %}
{% call(c, row, value) data_table(table, css='extra', skip=['spare'], classes={'day': 'wrap', 'count': many},
                                   wrap_headings=True, numbered=True, row_class=odd) -%}
{%- if c.key == 'day' %}<a href="/day/{{ value.isoformat() }}">{{ cell(c, value) }}</a>
{%- else %}{{ cell(c, value) }}{% endif %}
{%- endcall %}"""


def _page(app, table: Table) -> str:
    with app.test_request_context():
        return app.jinja_env.from_string(PAGE).render(table=table)


def test_the_page_prints_the_declared_table_with_what_the_page_adds(app):
    columns = [
        Column("日期", 12, itemgetter(0), DAY, key="day"),
        Column("备用", 8, itemgetter(1), key="spare"),
        Column("件数", 8, itemgetter(1), INTEGER, key="count"),
    ]
    table = Table(
        "明细",
        columns,
        iter([(date(2026, 11, 1), 3), (date(2026, 11, 2), 4)]),  # read once, for the page as for a sheet
        footer=["合计", "", 7],
        totals=[["退回", "", -1]],
        sections=[("以前月份", [(date(2026, 10, 30), 1)])],
        notes=["", "说明一句"],
    )
    page = _page(app, table)
    assert '<table class="ledger extra">' in page
    assert '<th class="num">序号</th><th>日期</th><th class="num wrap">件数</th></tr>' in page
    assert "备用" not in page  # the column the page leaves out
    first = '<tr class="odd"><td class="num">1</td><td class="wrap"><a href="/day/2026-11-01">2026-11-01</a>'
    assert first in page
    assert '<td class="num">3</td>' in page and '<td class="num total">4</td>' in page  # a class by the value
    assert '<tr><td class="num">2</td>' in page  # an even count: no class
    assert '<th colspan="3">以前月份</th>' in page and "2026-10-30" in page
    # a total's label spans 序号 and the blank under 日期
    assert '<th colspan="2" class="wrap">合计</th>' in page and '<td class="num total">7</td>' in page
    assert '<th colspan="2" class="wrap">退回</th>' in page and '<td class="num">-1</td>' in page
    assert '<p class="sheet-note">说明一句</p>' in page and page.count("sheet-note") == 1


def test_a_page_table_without_rows_says_so_and_without_additions_prints_plain(app):
    plain = """{% from "_table.html" import data_table with context %}{{ data_table(table, id='t') }}"""
    table = Table("明细", COLUMNS, [], empty="没有记录。")
    with app.test_request_context():
        page = app.jinja_env.from_string(plain).render(table=table)
    assert '<table class="ledger" id="t">' in page
    assert '<td colspan="2" class="muted">没有记录。</td>' in page and "<tfoot>" not in page
    assert '<th>日期</th><th class="num">件数</th>' in page


def test_a_page_may_leave_out_columns_its_sheet_keeps():
    columns = [*COLUMNS, Column("备注", 10, itemgetter(2), key="note")]
    table = Table("明细", columns, iter([(date(2026, 11, 1), 3, "x")]), footer=["合计", 3, "-"])
    page = table.without("note")
    assert page.header == ["日期", "件数"] and page.footer == ["合计", 3]
    assert [[v for _c, v in cells] for _row, cells in page.lines()] == [[date(2026, 11, 1), 3]]
    assert table.header == ["日期", "件数", "备注"] and table.footer == ["合计", 3, "-"]
    sheet = _sheet(table)  # the sheet still has the column and the row (read once, by both)
    assert sheet["C2"].value == "备注" and sheet["C3"].value == "x" and sheet["B3"].value == 3


def test_a_heading_may_have_a_class_of_its_own_and_the_footer_follows_without(app):
    from flask import render_template_string

    columns = [
        Column("日期", 12, itemgetter(0), DAY),
        Column("件数", 8, itemgetter(1), INTEGER, key="n"),
        Column("备注", 8, itemgetter(0), key="note"),
    ]
    table = Table("明细", columns, [(date(2026, 11, 1), 3)], totals=[["合计", 3, "-"]]).without("note")
    source = (
        '{% from "_table.html" import data_table with context %}{{ data_table(table, heads={"n": "wrap"}) }}'
    )
    with app.test_request_context():
        html = render_template_string(source, table=table)
    assert '<th class="num wrap">件数</th>' in html and "<th>日期</th>" in html and "备注" not in html
    assert '<td class="num">3</td></tr></tfoot>' in html.replace("\n", "")
