"""The photos ledger of a month's book (积分公示影视资料台账, issue 13): the score photos the panel attached
are listed there — the same lines, in the same columns, as the county's rebuilt book — and the photos
of the families' claims the panel accepted (家庭申领照片（已采纳）), which stay in the village: the
county's book has no such lines and the month's figures (账目校验码) never depend on them. A closed
month's score photos are part of its kept book: they can no longer be deleted or made public, and the
book rebuilt from the records is byte for byte the file kept at the close. On SQLite and PostgreSQL, as
the suite's database is."""

import hashlib
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from PIL import Image

from pointsmart import book, periods
from pointsmart.claims.models import Claim, ClaimPhoto
from pointsmart.closing.figures import digest, month_figures
from pointsmart.county.month_book import county_book
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.months.guard import close_of
from pointsmart.org.models import Village
from pointsmart.org.services import home_village
from pointsmart.periods import Period, read_period, today
from pointsmart.scoring import notice_photos, score_photos
from pointsmart.scoring.models import ScorePhoto, ScoringRound
from pointsmart.scoring.score_photos import LedgerLine

from .conftest import VILLAGE_CODE, committing
from .sync_support import push_all, register
from .test_bylaws_photos import scored as scored  # a draft round of 2026-11 with a 美丽庭院 criterion
from .test_claims import _accept_a_claim_with_a_photo, claim
from .test_claims import village as village  # this month's round open, a claimable criterion, two cards
from .test_month_close import MONTH, close
from .test_month_close import worked as worked  # November's work, a fixture
from .test_score_photo_sync import _photographed


def _sheet(data: bytes, title: str) -> list[tuple]:
    return [tuple(row) for row in openpyxl.load_workbook(io.BytesIO(data))[title].iter_rows(values_only=True)]


def _as_cells(line: LedgerLine) -> tuple:
    """A line as the workbook's cells read back (a day is a datetime there, an empty text no value)."""
    values = [c.value(line) for c in LedgerLine.columns()]
    return tuple(
        datetime.combine(v, datetime.min.time()) if isinstance(v, date) else (None if v == "" else v)
        for v in values
    )


def _village_book(app, month: str) -> book.MonthBook:
    with app.test_request_context(), app.app_context():
        return book.month_book(db.session, home_village(db.session).id, read_period(month))


def _png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


# --- the score photos: the village's book lists the county's lines ----------------------------------


def test_the_village_book_lists_the_same_score_photo_lines_as_the_countys_rebuilt_book(
    app, county_app, scored
):
    _photographed(app, scored)  # three photos (one public), a fourth deleted
    push_all(app, county_app.test_client(), register(county_app))
    village_lines = _village_book(app, "2026-11").score_photos
    with county_app.app_context():
        county_village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        county_lines = county_book(db.session, county_village.id, "2026-11").photos
    assert len(village_lines) == 3 and village_lines == county_lines

    page = scored.chair.get("/ledgers/book/2026-11").get_data(as_text=True)
    ledger = page[page.index('id="book-photos"') : page.index('id="book-redemptions"')]
    assert "打分佐证照片" in ledger and "庭院整洁" in ledger and "整改前" in ledger and "整改后" in ledger
    for line in village_lines:
        assert line.sha256 in ledger
    toc = page[page.index('id="book-toc-title"') : page.index('id="book-stocktakes"')]
    assert "3 张照片" in toc  # the contents count them

    rows = _sheet(scored.chair.get("/ledgers/book/2026-11.xlsx").data, "积分公示影视资料台账")
    header = tuple(str(c.label) for c in LedgerLine.columns())
    at = [row[: len(header)] for row in rows].index(header)
    assert [row[: len(header)] for row in rows[at + 1 : at + 4]] == [_as_cells(line) for line in county_lines]


def test_a_closed_months_score_photos_are_in_its_kept_book_and_can_no_longer_change(
    app, county_app, worked, login_as
):
    """A photo attached to November's round is a line of November's kept book (and of the county's
    rebuilt one); after the close it can be neither deleted nor made public, so the book rebuilt from
    the records is still the kept file, byte for byte, and the figures' hashes agree."""
    data = _png((10, 120, 10))
    with committing(app) as session:
        found = session.scalar(sa.select(ScoringRound).where(ScoringRound.period_key == MONTH))
        household = session.scalar(sa.select(Household).order_by(Household.id))
        folder = score_photos.folder_of(app.instance_path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "kept-evidence.png").write_bytes(data)
        photo = ScorePhoto(round_id=found.id, household_id=household.id, stored_name="kept-evidence.png",
                           content_type="image/png", width=40, height=30, size=len(data),
                           sha256=hashlib.sha256(data).hexdigest())  # fmt: skip
        session.add(photo)
        session.flush()
        photo_id = photo.id
    chair = login_as("chair")
    assert close(chair).status_code == 302
    with app.app_context():
        done = close_of(db.session, home_village(db.session).id, MONTH)
    kept = Path(app.instance_path) / "books" / VILLAGE_CODE / f"{MONTH}.xlsx"
    rows = _sheet(kept.read_bytes(), "积分公示影视资料台账")
    assert [row for row in rows if hashlib.sha256(data).hexdigest() in row]  # the line is in the kept book

    for refused in (
        chair.post(f"/ledgers/score-photos/{photo_id}/public", data={"public": "1"}),
        chair.post(f"/ledgers/score-photos/{photo_id}/delete"),
    ):
        assert refused.status_code == 409
    with app.app_context():
        left = db.session.get(ScorePhoto, photo_id)
        assert left is not None and left.public is False
    with app.test_request_context(), app.app_context():
        village = home_village(db.session)
        again = book.book_xlsx(
            book.month_book(db.session, village.id, periods.read_period(MONTH)),
            village,
            notice_photos.folder(),
            book.closing_of(db.session, done),
        )
    assert (
        hashlib.sha256(again).hexdigest() == done.book_sha256 == hashlib.sha256(kept.read_bytes()).hexdigest()
    )

    push_all(app, county_app.test_client(), register(county_app))
    with county_app.app_context():
        county_village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        rebuilt = county_book(db.session, county_village.id, MONTH)
    assert rebuilt.photos == _village_book(app, MONTH).score_photos and len(rebuilt.photos) == 1
    assert rebuilt.close.agrees is True


# --- the accepted claims' photos: in the village's photos ledger, never at the county -----------------


def _this_month() -> str:
    return Period.of(today()).key


def test_an_accepted_claims_photo_is_a_line_of_the_photos_ledger_page_workbook_and_book(
    app, client, village, login_as
):
    panel, photo_id, size, _village_id = _accept_a_claim_with_a_photo(app, client, village, login_as)
    month = _this_month()
    lines = _village_book(app, month).claim_photos
    assert [(line.photo_id, line.household_no, line.criterion, line.added, line.size) for line in lines] == [
        (photo_id, lines[0].household_no, "参加技能培训", 1, size)
    ]
    page = panel.get(f"/ledgers/book/{month}").get_data(as_text=True)
    ledger = page[page.index('id="book-photos"') : page.index('id="book-redemptions"')]
    assert "家庭申领照片（已采纳）" in ledger and "参加技能培训" in ledger and "王秀兰" in ledger
    assert "这几行只在村里的台账里" in ledger and "账目校验码也不含它们" in ledger
    assert "1 张照片" in page[page.index('id="book-toc-title"') :]
    # the book's workbook: the line under its title, with the note
    rows = _sheet(panel.get(f"/ledgers/book/{month}.xlsx").data, "积分公示影视资料台账")
    at = rows.index(("家庭申领照片（已采纳）",) + (None,) * (len(rows[0]) - 1))
    assert rows[at + 2][:4] == (lines[0].round, lines[0].household_no, "王秀兰", "参加技能培训")
    assert any(row[0] and "县里重建的台账没有这几行" in row[0] for row in rows[at:])
    # the round's photos page and its workbook: a sheet with the line and the photo itself
    round_page = panel.get(f"/ledgers/rounds/{village['round']}/photos").get_data(as_text=True)
    assert "家庭申领照片（已采纳）" in round_page and f"/scoring/claims/photos/{photo_id}" in round_page
    assert f"/ledgers/rounds/{village['round']}/photos.xlsx" in round_page  # offered with no other photo
    workbook = openpyxl.load_workbook(
        io.BytesIO(panel.get(f"/ledgers/rounds/{village['round']}/photos.xlsx").data)
    )
    sheet = workbook["家庭申领照片（已采纳）"]
    cells = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[2][1:4] == (lines[0].household_no, "王秀兰", "参加技能培训") and len(sheet._images) == 1
    # its thumbnail is served to the village's staff alone
    assert panel.get(f"/scoring/claims/photos/{photo_id}").status_code == 200
    assert app.test_client().get(f"/scoring/claims/photos/{photo_id}").status_code in (302, 401, 403, 404)


def test_declined_and_waiting_claims_photos_are_in_no_ledger(app, client, village, login_as):
    panel, photo_id, _size, _village_id = _accept_a_claim_with_a_photo(
        app, client, village, login_as, answer="decline"
    )
    sent = claim(client, village["token_b"], village["training"], photos=[(_png((200, 0, 0)), "b.png")])
    assert sent.status_code == 302  # B's claim waits for an answer
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ClaimPhoto.id))) == 2
    month = _this_month()
    assert _village_book(app, month).claim_photos == []
    page = panel.get(f"/ledgers/book/{month}").get_data(as_text=True)
    ledger = page[page.index('id="book-photos"') : page.index('id="book-redemptions"')]
    assert "本月没有采纳带照片的家庭申领。" in ledger and "参加技能培训" not in ledger
    rows = _sheet(panel.get(f"/ledgers/book/{month}.xlsx").data, "积分公示影视资料台账")
    assert ("本月没有采纳带照片的家庭申领。",) in [row[:1] for row in rows]
    workbook = openpyxl.load_workbook(
        io.BytesIO(panel.get(f"/ledgers/rounds/{village['round']}/photos.xlsx").data)
    )
    assert "家庭申领照片（已采纳）" not in workbook.sheetnames


def test_the_months_figures_never_depend_on_claim_photos(app, client, village, login_as):
    """The figures the close hashes (账目校验码) are the same with the accepted claim's photo and without
    it: the county, which never receives it, rebuilds the same hash."""
    _accept_a_claim_with_a_photo(app, client, village, login_as)
    month = _this_month()
    with app.app_context():
        village_id = home_village(db.session).id
        with_photo = month_figures(db.session, village_id, month)
        accepted = db.session.scalars(sa.select(Claim)).one()
        assert accepted.status == "accepted" and accepted.photos
        names = [p.stored_name for p in accepted.photos]
    assert not [name for name in names if name in str(with_photo)]
    with committing(app) as session:
        session.execute(sa.delete(ClaimPhoto))
    with app.app_context():
        without = month_figures(db.session, village_id, month)
    assert digest(without) == digest(with_photo)
    assert _village_book(app, month).claim_photos == []  # while the book's lines did depend on it
