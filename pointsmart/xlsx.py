"""Saving the .xlsx files every page exports.

Every export starts its workbook as :class:`Book`, whose sheets pass each text value through
:func:`pointsmart.text.visible`: a control character stored before the text rule existed (a name with
``\x0b`` in it) is written as the visible escape ``\x0b`` — openpyxl would refuse the raw character
and the whole export would fail for everyone.
"""

import io
import re
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .text import visible


def cell_value(value):
    """A value a cell can hold: text with unprintable characters made visible, anything else as it is."""
    return visible(value) if isinstance(value, str) else value


class Sheet(Worksheet):
    """A worksheet whose ways of writing a value (``append``, ``cell``, ``sheet["A1"] = …``) go through
    :func:`cell_value`."""

    def append(self, iterable):
        if isinstance(iterable, dict):
            return super().append({key: cell_value(value) for key, value in iterable.items()})
        return super().append([cell_value(value) for value in iterable])

    def cell(self, row, column, value=None):
        return super().cell(row, column, cell_value(value))

    def __setitem__(self, key, value):
        super().__setitem__(key, cell_value(value))


class Book(Workbook):
    """The workbook every export writes: its sheets are :class:`Sheet` s."""

    def __init__(self):
        super().__init__()
        self._sheets = []
        self._sheets.append(Sheet(self))

    def create_sheet(self, title=None, index=None):
        sheet = Sheet(parent=self, title=title)
        self._add_sheet(sheet=sheet, index=index)
        return sheet


def ledger_sheet(
    sheet, title: str, heading: str | None, header: list[str], widths: list[int], landscape=False
):
    """Set a sheet up as a ledger: a title line, a bold header on row 2 frozen above the rows, and A4
    print set-up (fit to the page's width, the two top rows repeated on every page). Without a heading
    (None) the header is the first row: a file made to be read back in (the roster) starts with it."""
    # a sheet's name may not hold these characters or be longer than 31; this is the system's own title
    sheet.title = re.sub(r"[\x00-\x1f\x7f-\x9f\\/?*\[\]:]", "", title)[:31] or "Sheet"
    if heading is not None:
        sheet.append([heading])
        sheet["A1"].font = Font(bold=True, size=14)
    if header:  # none: the caller writes its own headings further down (exports.stacked)
        sheet.append(header)
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
    top = sheet.max_row
    for i, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(i + 1)].width = width
    sheet.freeze_panes = f"A{top + 1}"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"1:{top}"
    return sheet


def workbook_bytes(book) -> bytes:
    """The workbook's bytes. Text typed by people (a name, a donor, a note) that starts with ``=`` stays
    text: openpyxl would store it as a formula, and a spreadsheet would run it (formula injection).
    No export of ours writes formulas on purpose."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def fixed_bytes(data: bytes, when: datetime) -> bytes:
    """The same workbook with nothing in it that depends on when it was saved: the document's created and
    modified times, and each zip entry's time, are ``when``. The same data gives the same bytes (a
    month's book is kept by its sha256)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(data))
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    lambda m: m.group(1) + stamp.encode() + m.group(3),
                    content,
                )
            info = zipfile.ZipInfo(entry.filename, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            target.writestr(info, content)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def send_workbook(data: bytes, name: str):
    """Send a workbook as a download; control characters typed into a name (a group, a donor) are dropped."""
    from flask import send_file

    return send_file(
        io.BytesIO(data),
        as_attachment=True,
        download_name=re.sub(r"[\x00-\x1f\x7f]", "", name),
        mimetype=XLSX,
    )
