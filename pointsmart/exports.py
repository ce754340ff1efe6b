"""The one export model: a report's table declared once, written to ``.xlsx`` and shown as HTML.

A :class:`Table` is a title, its :class:`Column` s — each a label, a width, a format and how to get
its value from a row — and the rows themselves (any objects). The same declaration gives

- the spreadsheet: :func:`workbook` puts each table on its own A4 sheet (:func:`pointsmart.xlsx.ledger_sheet`)
  with the headings, the widths and the number formats;
- the page: ``templates/_table.html``'s ``data_table`` macro prints the same headings and values, numbers
  right-aligned and formatted alike, so a heading is never written twice or a column forgotten in one.
  What only the page has — a link in a cell, a second line, a class, a column it shows elsewhere — the
  page adds by the column's ``key`` (see the macro), never by writing the headings again; a page that
  shows fewer columns than its sheet leaves them out with :meth:`Table.without` (or the macro's ``skip``).

A sheet may need a little more than a grid: its own first line (``heading``), several bold total rows
(``footer`` and ``totals``), further groups of the same columns under a bold caption (``sections``),
and lines of text under it (``notes``). A layout that is not a grid (a form, a sheet of photos) is
written with :func:`pointsmart.xlsx.ledger_sheet` directly.

Values are plain: ``int``, ``float``, ``str``, ``date``, ``datetime`` (stored UTC; shown in the
villages' zone), or None. A column's ``format`` says how both sides show it.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .periods import local_naive, local_text
from .xlsx import Book, ledger_sheet, workbook_bytes

#: formats a column can have: how its values print on the page and in the spreadsheet
TEXT, INTEGER, POINTS, MONEY, PERCENT, DAY, WHEN = "text", "int", "points", "money", "percent", "day", "when"
#: a number with one decimal (months of stock left)
DECIMAL = "decimal"
_NUMBER_FORMATS = {
    INTEGER: "0",
    DECIMAL: "0.0",
    POINTS: "+0;-0;0",
    MONEY: "#,##0.00",
    PERCENT: "0.0%",
    DAY: "yyyy-mm-dd",
    WHEN: "yyyy-mm-dd hh:mm",
}
NUMERIC = {INTEGER, DECIMAL, POINTS, MONEY, PERCENT}


@dataclass(frozen=True)
class Column:
    """One column: its heading, its width in the spreadsheet (characters), its format, its value."""

    label: str
    width: int
    value: Callable[[Any], Any]
    format: str = TEXT
    #: a name the page may refer to the column by (a class for its cells, a cell of its own, leaving it
    #: out); never shown
    key: str = ""
    #: the spreadsheet wraps the column's text in its width (sentences: a finding, a note), top-aligned
    #: so a row's cells start level; the page wraps its cells by its own CSS
    wrap: bool = False

    @property
    def numeric(self) -> bool:
        return self.format in NUMERIC


@dataclass(frozen=True)
class Figure:
    """A value with its own format, in a column of mixed figures (a summary's counts and its yuan)."""

    value: Any
    format: str


@dataclass
class Table:
    """A table of a report: a sheet of the workbook, a ``<table>`` on the page."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Any] = ()
    #: a last row of plain values (a total), laid out like the columns; shown in bold
    footer: Sequence[Any] | None = None
    #: print the sheet sideways; by default when it has more than eight columns
    landscape: bool | None = None
    #: what the page shows when there are no rows
    empty: str = ""
    #: the sheet's first line; by default ``workbook``'s heading and the title
    heading: str | None = None
    #: False: no heading line, the column headings are the first row (a file read back in, the roster)
    heading_line: bool = True
    #: more bold rows after ``footer`` (e.g. a month's redemptions, returns and net)
    totals: Sequence[Sequence[Any]] = ()
    #: further groups of rows in the same columns, each under a bold caption
    sections: Sequence[tuple[str, Iterable[Any]]] = ()
    #: lines of text under the table; an empty one leaves a blank line
    notes: Sequence[str] = ()
    _cached: list | None = field(default=None, init=False, repr=False)

    @property
    def header(self) -> list[str]:
        return [str(c.label) for c in self.columns]

    @property
    def widths(self) -> list[int]:
        return [c.width for c in self.columns]

    def values(self) -> list[list]:
        """Each row's values, column by column (computed once)."""
        if self._cached is None:
            self.rows = list(self.rows)  # an iterator is read once, for the sheet and the page alike
            self._cached = [[c.value(row) for c in self.columns] for row in self.rows]
        return self._cached

    def cells(self) -> list[list[tuple[Column, Any]]]:
        """Each row as ``(column, value)`` pairs, for the page."""
        return [list(zip(self.columns, values, strict=True)) for values in self.values()]

    def lines(self) -> list[tuple[Any, list[tuple[Column, Any]]]]:
        """Each row with its ``(column, value)`` pairs, for a page that shows more of a row than its
        values (a link, a second line)."""
        cells = self.cells()  # first: it makes ``rows`` a list
        return list(zip(self.rows, cells, strict=True))

    def without(self, *keys: str) -> "Table":
        """The same table without the columns named ``keys`` (a page showing less than its sheet)."""
        self.rows = list(self.rows)  # read by both tables
        kept = [i for i, c in enumerate(self.columns) if c.key not in keys]

        def kept_of(values):
            return [values[i] for i in kept if i < len(values)]

        footer = None if self.footer is None else kept_of(self.footer)
        totals = [kept_of(values) for values in self.totals]
        return replace(self, columns=[self.columns[i] for i in kept], footer=footer, totals=totals)

    def foot(self) -> list[tuple[int, list[tuple[Column, Any]]]]:
        """The footer and the totals for the page: each row as the number of columns its first cell
        (the label) spans — itself and the blank cells after it — and its ``(column, value)`` pairs
        from there on."""
        rows = []
        for values in ([self.footer] if self.footer is not None else []) + list(self.totals):
            cells = [(c, values[i] if i < len(values) else "") for i, c in enumerate(self.columns)]
            span = 1
            while span < len(cells) and cells[span][1] in ("", None):
                span += 1
            rows.append((span, cells[:1] + cells[span:]))
        return rows

    def section_lines(self) -> list[tuple[str, list[tuple[Any, list[tuple[Column, Any]]]]]]:
        """Each section's caption and its rows, as :meth:`lines` gives the table's own."""
        return [
            (caption, [(row, [(c, c.value(row)) for c in self.columns]) for row in rows])
            for caption, rows in self.sections
        ]

    def add_to(self, book: Book, heading: str = "") -> Worksheet:
        """Write this table as a new sheet of ``book``, headed ``heading · title`` (or its own heading);
        the sheet is returned."""
        if self.heading is not None:
            heading = self.heading
        elif heading:
            heading = f"{heading} · {self.title}"
        else:
            heading = self.title
        sheet = ledger_sheet(
            book.create_sheet(),
            self.title,
            heading if self.heading_line else None,
            self.header,
            self.widths,
            landscape=len(self.columns) > 8 if self.landscape is None else self.landscape,
        )
        for values in self.values():
            self._append(sheet, values)
        for totals in ([self.footer] if self.footer is not None else []) + list(self.totals):
            self._append(sheet, totals)  # a total may stop before the last columns
            _bold(sheet)
        for caption, rows in self.sections:
            sheet.append([])
            sheet.append([caption])
            _bold(sheet)
            for row in rows:
                self._append(sheet, [c.value(row) for c in self.columns])
        for note in self.notes:
            sheet.append([note] if note else [])
        return sheet

    def add_block(self, sheet: Worksheet, caption: str) -> None:
        """Write this table under what ``sheet`` already holds: a bold caption, its own bold column
        headings, the rows, the footer and totals, the notes (see :func:`stacked`)."""
        if sheet.max_row > 1:
            sheet.append([])
        sheet.append([caption])
        _bold(sheet)
        if self.columns:
            sheet.append(self.header)
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
                cell.alignment = Alignment(wrap_text=True, vertical="center")
        for values in self.values():
            self._append(sheet, values)
        if not self.rows and self.empty:
            sheet.append([self.empty])
        for totals in ([self.footer] if self.footer is not None else []) + list(self.totals):
            self._append(sheet, totals)
            _bold(sheet)
        for note in self.notes:
            sheet.append([note] if note else [])

    def _append(self, sheet, values) -> None:
        """A row of values, each cell with its column's number format (or its own, for a Figure)."""
        sheet.append([_cell(c, v) for c, v in zip(self.columns, values, strict=False)])
        for index, (column, value) in enumerate(zip(self.columns, values, strict=False), start=1):
            number_format = _NUMBER_FORMATS.get(value.format if isinstance(value, Figure) else column.format)
            if number_format:
                sheet.cell(sheet.max_row, index).number_format = number_format
            if column.wrap:
                sheet.cell(sheet.max_row, index).alignment = _WRAP


_WRAP = Alignment(wrap_text=True, vertical="top")


def _bold(sheet) -> None:
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _cell(column: Column, value):
    """A value as a spreadsheet cell holds it: times in the villages' zone, money in yuan."""
    if isinstance(value, Figure):
        return _cell(Column(column.label, column.width, column.value, value.format), value.value)
    if isinstance(value, datetime):
        return local_naive(value)
    if column.format == MONEY and isinstance(value, int):
        return value / 100  # stored in fen
    return value


def stacked(
    book: Book, title: str, heading: str, blocks: Sequence[tuple[str, Table]], empty: str
) -> Worksheet:
    """Several tables on one new sheet of ``book``, one under the other, each under its caption with its
    own column headings: a month's score sheets, whose rounds each have their own criteria. The sheet
    prints on A4 sideways, fitted to the width; each column is as wide as its widest table needs.
    Without blocks the sheet says ``empty`` under its heading."""
    sheet = ledger_sheet(book.create_sheet(), title, heading, [], [], landscape=True)
    sheet.freeze_panes = None
    sheet.print_title_rows = "1:1"
    widths: dict[int, int] = {}
    for caption, table in blocks:
        table.add_block(sheet, caption)
        for index, width in enumerate(table.widths, start=1):
            widths[index] = max(widths.get(index, 0), width)
    if not blocks and empty:
        sheet.append([empty])
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = width
    return sheet


def workbook(heading: str, tables: Iterable[Table]) -> bytes:
    """The tables as one workbook, a sheet each, headed like the printed page."""
    book = Book()
    book.remove(book.active)
    for table in tables:
        table.add_to(book, heading)
    return workbook_bytes(book)


def shown(column: Column, value) -> str:
    """A value as the page prints it (the same rules as the spreadsheet's formats)."""
    if isinstance(value, Figure):
        return shown(Column(column.label, column.width, column.value, value.format), value.value)
    if value is None or value == "":
        return ""
    if column.format == PERCENT:
        return f"{value:.1%}"
    if column.format == DECIMAL and isinstance(value, int | float):
        return f"{value:.1f}"
    if column.format == MONEY:
        return f"{value / 100:,.2f}" if isinstance(value, int) else f"{value:,.2f}"
    if column.format == POINTS and isinstance(value, int):
        return f"{value:+d}" if value else "0"
    if isinstance(value, datetime):
        return local_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
