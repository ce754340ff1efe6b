"""Saving the .xlsx files every page exports."""

import io
import re

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter


def ledger_sheet(sheet, title: str, heading: str, header: list[str], widths: list[int], landscape=False):
    """Set a sheet up as a ledger: a title line, a bold header on row 2 frozen above the rows, and A4
    print set-up (fit to the page's width, the two top rows repeated on every page)."""
    sheet.title = title[:31]
    sheet.append([heading])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for i, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(i + 1)].width = width
    sheet.freeze_panes = "A3"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:2"
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
