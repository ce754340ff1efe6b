"""Saving the .xlsx files every page exports."""

import io


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
