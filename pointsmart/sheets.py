"""Read the first sheet of an uploaded .xlsx as rows of values, bounded while it is read.

An .xlsx is a zip of XML parts. A file of a few KB can claim a cell at ``XFD1048576`` (openpyxl's
read-only mode then pads a million rows of 16,384 cells), hold a million empty rows, or inflate one
part to gigabytes. So this reader never trusts the file's own description of itself:

- the zip's directory is refused if it is large (a few KB of entries can be 100,000 entries);
- each zip part is refused if its declared inflated size is over :data:`MAX_PART_BYTES`, and is read
  through a counter that stops at that size whatever the header says;
- the XML is parsed as a stream (defusedxml: no DTDs, no entities) and every row and cell reference
  is checked against the caller's row and column caps the moment its tag opens, before anything is
  kept — so a hostile file is refused after reading only as far as its first cell beyond a cap;
- shared strings are kept (the sheet points into them), at most ``max_rows × max_cols`` of them.

Only what an import needs is read: values, not styles, formulas or dates (a formula's cached value is
its value; a date stays the number Excel stores).
"""

import io
import logging
import posixpath
import re
import zipfile
import zlib
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse
from flask_babel import gettext as _

from .errors import Invalid

#: the largest inflated size of one part of the workbook (the sheet, its shared strings): a 5,000-row
#: roster is 1–5 MB of XML; one cell's text is held whole, so this also bounds the largest string
MAX_PART_BYTES = 16 * 1024 * 1024
#: the largest zip directory: Python builds an object per entry, and a workbook has a dozen or two
MAX_DIRECTORY_BYTES = 64 * 1024
#: the largest workbook.xml and its relationships (a list of sheet names)
MAX_INDEX_BYTES = 1024 * 1024
CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"


logger = logging.getLogger(__name__)


class SheetRefused(Invalid):
    code = "bad_spreadsheet"


def _unreadable(exc: Exception | str) -> SheetRefused:
    """The file cannot be read as a workbook: said in words the chair can act on (what exactly failed,
    such as "BadZipFile", goes to the log, not to the page)."""
    logger.info("unreadable workbook: %s", exc if isinstance(exc, str) else repr(exc))
    return SheetRefused(
        _(
            "无法读取这个 Excel 文件：它不是 .xlsx 格式，或者已经损坏。"
            "请用 Excel 或 WPS 打开，另存为 .xlsx 后再上传。"
        )
    )


def _local(tag: str) -> str:
    """An element's name without its namespace (transitional and strict OOXML differ only there)."""
    return tag.rsplit("}", 1)[-1]


class _Capped(io.RawIOBase):
    """A zip part's stream that refuses to give more than ``limit`` bytes, whatever its header said."""

    def __init__(self, stream, limit: int):
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise SheetRefused(_("Excel 文件解压后太大，已拒收。"), code="spreadsheet_too_large")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _open_part(book: zipfile.ZipFile, name: str, limit: int = MAX_PART_BYTES):
    info = book.getinfo(name)
    if info.file_size > limit:
        raise SheetRefused(_("Excel 文件解压后太大，已拒收。"), code="spreadsheet_too_large")
    return io.BufferedReader(_Capped(book.open(info), limit), 64 * 1024)


def _check_directory(data: bytes) -> None:
    """Refuse a zip whose central directory is large, before ``zipfile`` makes an object per entry.

    The end-of-directory record sits in the last 64 KB + 22 bytes; its bytes 12–15 give the
    directory's size, which is how far ``zipfile`` reads.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 22:
        raise _unreadable("BadZipFile")
    if int.from_bytes(data[end + 12 : end + 16], "little") > MAX_DIRECTORY_BYTES:
        raise SheetRefused(_("Excel 文件的结构异常（文件条目太多），已拒收。"), code="spreadsheet_too_large")


def _first_sheet_path(book: zipfile.ZipFile) -> str:
    """The zip path of the workbook's first sheet, as workbook.xml and its relationships name it."""
    with _open_part(book, "xl/workbook.xml", MAX_INDEX_BYTES) as part:
        workbook = fromstring(part.read())
    sheet = next((e for e in workbook.iter() if _local(e.tag) == "sheet"), None)
    if sheet is None:
        raise _unreadable("no sheet")
    rel_id = sheet.get(f"{{{REL_NS}}}id") or sheet.get(f"{{{STRICT_REL_NS}}}id")
    with _open_part(book, "xl/_rels/workbook.xml.rels", MAX_INDEX_BYTES) as part:
        rels = fromstring(part.read())
    target = next((e.get("Target", "") for e in rels if e.get("Id") == rel_id), "")
    if not target:
        raise _unreadable("no sheet")
    path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return posixpath.normpath(path)


def _text_of(element) -> str:
    """The text of a shared or inline string: its ``t`` and rich-text runs, not the phonetic guide."""
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def _shared_strings(book: zipfile.ZipFile, limit: int) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings: list[str] = []
    with _open_part(book, "xl/sharedStrings.xml") as part:
        for _event, element in iterparse(part, events=("end",), forbid_dtd=True):
            if _local(element.tag) == "si":
                if len(strings) >= limit:
                    raise SheetRefused(_("Excel 文件中的文字太多，已拒收。"), code="spreadsheet_too_large")
                strings.append(_text_of(element))
                element.clear()
    return strings


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _value(cell, strings: list[str]):
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = next((c for c in cell if _local(c.tag) == "is"), None)
        return _text_of(inline) if inline is not None else None
    raw = next((c.text for c in cell if _local(c.tag) == "v"), None)
    if raw is None:
        return None
    if kind == "s":
        index = int(raw) if raw.strip().isdecimal() else -1
        if not 0 <= index < len(strings):
            raise _unreadable("shared string")
        return strings[index]
    if kind == "b":
        return raw.strip() == "1"
    if kind in ("str", "e"):
        return raw
    return _number(raw.strip())


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def too_big(max_rows: int, max_cols: int, where: str) -> SheetRefused:
    """The refusal of a table (an .xlsx sheet, a CSV file) that reaches past its caps at ``where``."""
    return SheetRefused(
        _(
            "表格超出范围（%(where)s）：最多读取 %(rows)s 行、%(cols)s 列。请删去多余的行和列后再上传。",
            where=where,
            rows=max_rows,
            cols=max_cols,
        ),
        code="spreadsheet_too_large",
    )


def _rows(part, strings: list[str], max_rows: int, max_cols: int) -> list[list]:
    """Stream the sheet's XML; check each row and cell position as its tag opens."""
    table: list[list] = []
    row_number, column, cells = 0, 0, []
    for event, element in iterparse(part, events=("start", "end"), forbid_dtd=True):
        name = _local(element.tag)
        if event == "start" and name == "row":
            given = element.get("r")
            row_number = int(given) if given and given.isdecimal() else row_number + 1
            if row_number > max_rows:
                raise too_big(max_rows, max_cols, _("第 %(n)s 行", n=row_number))
            column, cells = 0, []
        elif event == "start" and name == "c":
            ref = CELL_REF.fullmatch(element.get("r") or "")
            column = _column_number(ref.group(1)) if ref else column + 1
            if column > max_cols or (ref and int(ref.group(2)) > max_rows):
                raise too_big(max_rows, max_cols, element.get("r") or _("第 %(n)s 列", n=column))
            cells.extend([None] * (column - len(cells)))
        elif event == "end" and name == "c":
            if column:
                cells[column - 1] = _value(element, strings)
            element.clear()
        elif event == "end" and name == "row":
            table.extend([] for _gap in range(row_number - 1 - len(table)))
            table.append(cells)
            element.clear()
    return table


def read_first_sheet(data: bytes, max_rows: int, max_cols: int) -> list[list]:
    """The first sheet's rows (row ``n`` at index ``n - 1``), each a list of values by column.

    Values are ``str``, ``int``, ``float``, ``bool`` or ``None`` (an empty cell).

    :raises SheetRefused: not an .xlsx, damaged, or a row or cell beyond ``max_rows`` × ``max_cols``
        (code ``spreadsheet_too_large``) — found while reading, before the rest is read.
    """
    _check_directory(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            sheet_path = _first_sheet_path(book)
            strings = _shared_strings(book, max_rows * max_cols)
            with _open_part(book, sheet_path) as part:
                return _rows(part, strings, max_rows, max_cols)
    except SheetRefused:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        KeyError,
        ParseError,
        DefusedXmlException,
        EOFError,
        zlib.error,
        NotImplementedError,
        RuntimeError,
        ValueError,
        OSError,
    ) as exc:
        raise _unreadable(exc) from exc
