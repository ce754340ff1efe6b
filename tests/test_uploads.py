"""Uploads are bounded while they are read (issue 9).

Spreadsheets are refused at their first row or cell beyond the caps, bundles at the first line or
megabyte beyond theirs, and a body larger than the route allows is refused from its ``Content-Length``
before any of it is read; stored photos carry no EXIF. The time and memory bounds here are generous
guards against a reader that holds the whole thing (which took a minute and gigabytes); the figures
themselves are printed by ``python -m bench hostile_uploads``.
"""

import io
import time
import tracemalloc
import zipfile

import pytest
from PIL import Image

from pointsmart.county.bundles import import_bundle
from pointsmart.extensions import db
from pointsmart.households import roster
from pointsmart.sheets import SheetRefused, read_first_sheet
from pointsmart.sync import bundle

from .hostile_files import empty_rows_xlsx, far_cell_xlsx, inflating_bundle
from .test_county_dashboard import county_user, login

BOUND_SECONDS = 5  # measured well under a second (bench/hostile_uploads.py); generous for a busy CI
BOUND_BYTES = 100 * 1024 * 1024


def bounded(fn, *args):
    """Run ``fn`` and return (the error it raised, seconds, peak bytes Python allocated)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001  the caller asserts which
        error = exc
    else:
        error = None
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, seconds, peak


# --- spreadsheets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [far_cell_xlsx, empty_rows_xlsx], ids=["XFD1048576", "1048576-empty-rows"])
def test_a_hostile_roster_spreadsheet_is_refused_while_it_is_read(ctx, village_id, make):
    data = make()
    error, seconds, peak = bounded(roster.plan_import, ctx, village_id, "名册.xlsx", data)
    assert isinstance(error, roster.ImportError_) and error.code == "spreadsheet_too_large"
    assert seconds < BOUND_SECONDS and peak < BOUND_BYTES


def test_rows_past_the_cap_are_refused_as_they_stream(ctx, village_id):
    """200,000 empty rows: small enough to pass the size check, so the row cap is what stops it."""
    error, seconds, peak = bounded(roster.plan_import, ctx, village_id, "名册.xlsx", empty_rows_xlsx(200_000))
    assert isinstance(error, roster.ImportError_) and error.code == "spreadsheet_too_large"
    assert f"第 {roster.MAX_SHEET_ROWS + 1} 行" in error.message and "最多读取" in error.message
    assert seconds < BOUND_SECONDS and peak < BOUND_BYTES


def test_a_hostile_spreadsheet_upload_gets_a_clear_answer_on_the_import_page(login_as):
    page = login_as("chair").post(
        "/households/import",
        data={"file": (io.BytesIO(far_cell_xlsx()), "名册.xlsx")},
        content_type="multipart/form-data",
    )
    assert page.status_code in (400, 422) and "第 1048576 行" in page.get_data(as_text=True)


def test_a_workbook_of_thousands_of_entries_is_refused_before_they_are_listed():
    from .hostile_files import _sheet, _xlsx

    out = io.BytesIO(_xlsx(_sheet("")))
    with zipfile.ZipFile(out, "a") as book:
        for n in range(5000):
            book.writestr(f"x/{n}", b"")
    error, seconds, peak = bounded(read_first_sheet, out.getvalue(), 10, 10)
    assert isinstance(error, SheetRefused) and error.code == "spreadsheet_too_large"
    assert peak < 10 * 1024 * 1024


def test_a_sheet_part_that_inflates_past_its_cap_is_refused_unread():
    from .hostile_files import _sheet, _xlsx

    cell = '<row r="1"><c r="A1" t="inlineStr"><is><t>' + "a" * (17 * 1024 * 1024) + "</t></is></c></row>"
    data = _xlsx(_sheet(cell))
    assert len(data) < 100_000
    error, seconds, peak = bounded(read_first_sheet, data, 10, 10)
    assert isinstance(error, SheetRefused) and error.code == "spreadsheet_too_large"
    assert peak < 10 * 1024 * 1024


def test_a_csv_cell_past_the_field_limit_is_refused_naming_its_line(ctx, village_id):
    data = ("户号,户主姓名\n1,王秀兰\n2," + "长" * 200_000 + "\n").encode()
    with pytest.raises(roster.ImportError_) as refused:
        roster.plan_import(ctx, village_id, "名册.csv", data)
    assert refused.value.code == "field_too_long" and "第 3 行" in refused.value.message


def test_a_csv_of_millions_of_empty_lines_is_refused_at_the_row_cap(ctx, village_id):
    data = "户号,户主姓名\n".encode() + b"\n" * (8 * 1024 * 1024 - 20)
    error, seconds, peak = bounded(roster.plan_import, ctx, village_id, "名册.csv", data)
    assert isinstance(error, roster.ImportError_) and error.code == "spreadsheet_too_large"
    assert seconds < BOUND_SECONDS and peak < BOUND_BYTES


def test_the_sheet_reader_reads_values_where_they_sit():
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet["A1"], sheet["C1"] = "户号", "姓名"
    sheet["A3"], sheet["B3"], sheet["C3"] = 7, 2.5, "王秀兰"
    out = io.BytesIO()
    book.save(out)
    assert read_first_sheet(out.getvalue(), 10, 5) == [["户号", None, "姓名"], [], [7, 2.5, "王秀兰"]]
    with pytest.raises(SheetRefused) as refused:
        read_first_sheet(out.getvalue(), 2, 5)
    assert refused.value.code == "spreadsheet_too_large"
    with pytest.raises(SheetRefused):
        read_first_sheet(out.getvalue(), 10, 2)


def test_a_sheet_with_a_dtd_is_refused_unread():
    """defusedxml: no entity expansion (a "billion laughs" file) ever starts."""
    from .hostile_files import _sheet, _xlsx

    laughs = _sheet("").replace(
        b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><worksheet', 1
    )
    with pytest.raises(SheetRefused):
        read_first_sheet(_xlsx(laughs), 10, 10)


# --- bundles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("newlines", [False, True], ids=["one-endless-line", "millions-of-lines"])
def test_a_bundle_that_inflates_to_a_gibibyte_is_refused_while_it_is_read(county_app, newlines):
    data = inflating_bundle(newlines=newlines)
    assert len(data) < 1.1 * 1024 * 1024
    with county_app.app_context():
        error, seconds, peak = bounded(import_bundle, db.session, io.BytesIO(data))
        db.session.rollback()
    assert isinstance(error, bundle.BundleError) and error.code == "bundle_too_large"
    assert seconds < BOUND_SECONDS and peak < BOUND_BYTES


def test_the_county_admin_gets_a_clear_refusal_for_an_inflating_bundle(county_app):
    admin = login(county_app, county_user(county_app, "county_admin"))
    response = admin.post(
        "/county/bundles",
        data={"file": (io.BytesIO(inflating_bundle()), "bomb.pmb")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert "解压后过大" in admin.get("/county/bundles").get_data(as_text=True)


# --- request bodies --------------------------------------------------------------------------------


class UnreadBody(io.RawIOBase):
    """A request body that says how much of it anyone read."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        size = min(len(buffer), 64 * 1024)
        buffer[:size] = b"\0" * size
        self.read_bytes += size
        return size


HUNDRED_MB = 100 * 1024 * 1024


def _post_unread(client, path: str, content_type="multipart/form-data; boundary=x"):
    body = UnreadBody()
    response = client.post(
        path,
        content_type=content_type,
        environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(HUNDRED_MB)},
    )
    return response, body.read_bytes


@pytest.mark.parametrize("path", ["/county/bundles", "/login", "/api/v1/sync/batches", "/no-such-page"])
def test_an_anonymous_100_mb_post_gets_413_without_its_body_being_read(county_app, path):
    response, read = _post_unread(county_app.test_client(), path)
    assert response.status_code == 413 and read == 0


def test_a_large_post_to_a_village_gets_413_unread(client):
    for path in ("/login", "/households/import", "/shop/counter/photo", "/api/v1/redemptions"):
        response, read = _post_unread(client, path)
        assert (response.status_code, read) == (413, 0), path


def test_no_one_may_send_a_body_over_8_mb_not_even_the_county_admin(county_app):
    """A large bundle comes in parts (tests/test_county_dashboard.py); no route reads more than 8 MB."""
    for role in ("county_reviewer", "county_admin"):
        user = login(county_app, county_user(county_app, role))
        for path in ("/county/bundles", "/county/bundles/parts?upload=" + "a" * 32 + "&index=0&count=1"):
            response, read = _post_unread(user, path)
            assert (response.status_code, read) == (413, 0), (role, path)
    admin = login(county_app, county_user(county_app, "county_admin"))
    nine_mb = admin.post(
        "/county/bundles",
        data={"file": (io.BytesIO(b"\1" * 9 * 1024 * 1024), "big.pmb")},
        content_type="multipart/form-data",
    )
    assert nine_mb.status_code == 413


# --- photos ----------------------------------------------------------------------------------------


def phone_photo(kind: str = "JPEG", orientation: int = 1) -> bytes:
    """A photo as a phone saves it: EXIF with the camera and a GPS position, and XMP."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (36.0, 3.0, 21.5)
    out = io.BytesIO()
    Image.new("RGB", (64, 32), "red").save(out, kind, exif=exif, xmp=b"<x:xmpmeta>GPSLatitude</x:xmpmeta>")
    data = out.getvalue()
    assert 0x8825 in Image.open(io.BytesIO(data)).getexif()
    return data


def assert_no_exif(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert not image.getexif() and "xmp" not in image.info and "exif" not in image.info
    assert b"PhoneMaker" not in data and b"GPS" not in data


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_a_stored_goods_photo_has_no_exif_and_is_served_without_it(app, login_as, kind):
    from pathlib import Path

    import sqlalchemy as sa

    from pointsmart.shop.models import Goods

    response = login_as("chair").post(
        "/shop/goods/new",
        data={
            "name": f"肥皂{kind}",
            "price": "5",
            "active": "y",
            "photo": (io.BytesIO(phone_photo(kind, orientation=6)), "soap.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        goods = db.session.scalar(sa.select(Goods).where(Goods.name == f"肥皂{kind}"))
        goods_id, stored = goods.id, goods.photo
    on_disk = (Path(app.instance_path) / "uploads" / "goods" / stored).read_bytes()
    assert_no_exif(on_disk)
    assert Image.open(io.BytesIO(on_disk)).size == (32, 64)  # turned upright as the EXIF said
    served = app.test_client().get(f"/shop/goods/{goods_id}/photo")  # public: no log-in
    assert served.status_code == 200 and served.data == on_disk


def test_photos_stored_before_uploads_were_cleaned_are_stripped_by_a_command(app, village_id):
    from pathlib import Path

    from pointsmart.shop import services as shop

    folder = Path(app.instance_path) / "uploads" / "goods"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old.jpg").write_bytes(phone_photo("JPEG"))
    clean = io.BytesIO()
    Image.new("RGB", (8, 8)).save(clean, "PNG")
    (folder / "clean.png").write_bytes(clean.getvalue())
    with app.app_context():
        goods = shop.save_goods(db.session, village_id, {"name": "旧照片的肥皂", "price": 5}, None)
        goods.photo = "old.jpg"
        db.session.commit()
        goods_id = goods.id
    result = app.test_cli_runner().invoke(args=["photos", "strip-metadata"])
    assert "checked 2 photos, removed metadata from 1" in result.output, result.output
    assert (folder / "clean.png").read_bytes() == clean.getvalue()  # nothing to remove: left alone
    served = app.test_client().get(f"/shop/goods/{goods_id}/photo")
    assert served.status_code == 200
    assert_no_exif(served.data)
    again = app.test_cli_runner().invoke(args=["photos", "strip-metadata"])
    assert "removed metadata from 0" in again.output


@pytest.mark.parametrize("fit", [None, 1600])
def test_a_photo_turned_upright_records_its_size_after_the_turn(fit):
    """An 800×600 JPEG a phone marked with orientation 6 (turn a quarter) is stored 600×800 and says so:
    the size recorded is the stored file's, never the size before the turn."""
    from pointsmart import images

    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    Image.new("RGB", (800, 600), "green").save(out, "JPEG", exif=exif)
    cleaned = images.clean_photo(out.getvalue(), fit=fit)
    assert Image.open(io.BytesIO(cleaned.data)).size == (600, 800)
    assert (cleaned.info.width, cleaned.info.height) == (600, 800)
