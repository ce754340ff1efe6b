"""Small files that cost a careless reader a lot: used by the upload tests and by ``bench/hostile_uploads``.

- :func:`far_cell_xlsx`: a valid .xlsx of about 1.6 KB whose one cell sits at ``XFD1048576``;
- :func:`empty_rows_xlsx`: a valid .xlsx of about 5 MB holding 1,048,576 empty rows;
- :func:`inflating_bundle`: a gzip file of about 1 MB that inflates to 1 GiB (one line, or short lines).
- photos: :func:`pixel_bomb_png` (a 2.5-gigapixel header), :func:`truncated_jpeg`, :func:`html_named_jpeg`,
  :func:`svg_with_script`, :func:`oversized_jpeg` (one byte past 5 MB).
"""

import gzip
import io
import zipfile
import zlib

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1"
 Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="{MAIN}" xmlns:r="{RELS}">
<sheets><sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1"
 Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"""


def _xlsx(sheet_xml: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def _sheet(rows: str, dimension: str = "A1") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/>'
        f"<sheetData>{rows}</sheetData></worksheet>"
    ).encode()


def far_cell_xlsx() -> bytes:
    """A header row a roster import accepts, and one more cell at XFD1048576, the last cell Excel has."""
    header = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>户号</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>户主姓名</t></is></c></row>'
    )
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return _xlsx(_sheet(header + far, "A1:XFD1048576"))


def empty_rows_xlsx(rows: int = 1_048_576) -> bytes:
    """Every row Excel has, each present and empty (a 5 MB file)."""
    body = "".join(f'<row r="{n}" spans="1:2"/>' for n in range(1, rows + 1))
    return _xlsx(_sheet(body, f"A1:A{rows}"))


def inflating_bundle(inflated: int = 1 << 30, newlines: bool = False) -> bytes:
    """A gzip file that starts like a bundle and then inflates to ``inflated`` bytes: zeros (one
    endless line) or newlines (millions of empty lines). Built from repeated gzip members of 1 MiB each,
    which gzip readers join, so making it costs milliseconds."""
    chunk = 1 << 20
    member = gzip.compress((b"\n" if newlines else b"\0") * chunk, compresslevel=9, mtime=0)
    head = gzip.compress(b"PointsMart-Bundle/1\n", mtime=0)
    return head + member * (inflated // chunk)


# --- photos (a family's claim, a notice photo, goods) ----------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb_png(side: int = 50_000) -> bytes:
    """A PNG of a few hundred bytes whose header says ``side`` × ``side`` pixels (2.5 gigapixels), its
    pixel data a short stream of zeros: decoding it would take gigabytes."""
    import struct

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\0" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    """A real JPEG cut off half way (a dropped upload)."""
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(out, "JPEG", quality=95)
    data = out.getvalue()
    return data[: len(data) // 2]


def html_named_jpeg() -> bytes:
    """A page with a script, to be uploaded under a photo's name and type."""
    return b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def svg_with_script() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def oversized_jpeg(size: int = 5 * 1024 * 1024 + 1) -> bytes:
    """A valid small JPEG padded past the 5 MB limit (bytes after the end marker)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, "JPEG")
    data = out.getvalue()
    return data + b"\0" * (size - len(data))


def svg_photo() -> bytes:
    """An SVG (a picture that carries script) where a photo is expected."""
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
    )


def jpeg_with_appended_html() -> bytes:
    """A real, small JPEG with a script page appended after its end marker (a polyglot): stored as it
    came, it would carry the page; re-saved, only the pixels remain."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 40)).save(out, "JPEG")
    return out.getvalue() + html_named_jpeg()
