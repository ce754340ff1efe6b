"""One book per month (台账汇编): the seven ledgers a county inspects, for one month, in one document.

物资盘点台账, 分值对应表台账, 积分登记台账, 打分表台账, 积分评定会议记录台账, 积分公示影视资料台账 and
积分兑换(领取)台账 each have their own page and workbook; this module gathers the data those build
from, cut to the month, so the book prints them one after another (``templates/ledgers/book.html``)
and writes one workbook with a sheet per ledger (:func:`book_xlsx`). A scoring round belongs to the
month its period ends in (2026-Q4 to 2026-12). The price list is the one in force at the month's end.

The workbook's bytes depend on the data alone (no time of saving is in them), so the same month gives
the same file and its sha256 can be kept when the month is closed. Its first sheet, 封面, names the
village and the month, who closed it and when with the figures' hash (账目校验码), and lists the sheets
(:func:`add_cover`; the county's rebuilt month has the same cover).

Nothing here writes; every function is a plain function of a session and explicit arguments.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from ..auth.services import user_names
from ..claims import services as claims
from ..claims.services import ClaimLine
from ..exports import Table, stacked
from ..months.models import MonthClose, RoundCarry
from ..org.models import Village
from ..periods import Period, local_text, read_period, utc_window
from ..scoring import meeting_minutes, notice_photos, points_register, score_photos, score_sheets
from ..scoring.models import STATUS_LABELS, MeetingMinutes, NoticePhoto, ScoringRound
from ..scoring.periods import round_period
from ..scoring.points_register import Register
from ..scoring.reports import period_label
from ..scoring.score_photos import LedgerLine
from ..scoring.score_sheets import ScoreSheet
from ..shop import registers, workbooks
from ..shop.registers import PriceRow, RedemptionRegister, StocktakeSheet
from ..xlsx import Book, fixed_bytes, ledger_sheet, workbook_bytes

#: the seven ledgers, in the order the county's list names them (the book's order and its sheets')
LEDGERS = ("stocktakes", "prices", "register", "scores", "minutes", "photos", "redemptions")


def ledger_titles() -> dict[str, str]:
    """Each ledger's title, in the reader's language."""
    return {
        "stocktakes": _("物资盘点台账"),
        "prices": _("分值对应表台账"),
        "register": _("积分登记台账"),
        "scores": _("打分表台账"),
        "minutes": _("积分评定会议记录台账"),
        "photos": _("积分公示影视资料台账"),
        "redemptions": _("积分兑换（领取）台账"),
    }


@dataclass
class RoundMinutes:
    round: ScoringRound
    #: None: the round has no minutes yet
    minutes: MeetingMinutes | None
    present: list[str]
    recorder: str


@dataclass
class RoundPhotos:
    round: ScoringRound
    photos: list[NoticePhoto]
    #: uploader id → name
    names: dict[int, str]


@dataclass
class MonthBook:
    month: Period
    #: every round whose period ends in the month, whatever its state, in period order
    rounds: list[ScoringRound]
    stocktakes: list[StocktakeSheet]
    #: the price list at the month's end
    prices: list[PriceRow]
    #: each goods item's prices that took effect in the month (its steps cut to them)
    price_changes: list[PriceRow]
    register: Register
    score_sheets: list[ScoreSheet]
    minutes: list[RoundMinutes]
    photos: list[RoundPhotos]
    redemptions: RedemptionRegister
    #: the score photos of the month's rounds: the lines the county's rebuilt book lists too
    score_photos: list[LedgerLine]
    #: the photos of the month's rounds' accepted claims: the village's alone (never synced)
    claim_photos: list[ClaimLine]

    def counts(self) -> dict[str, str]:
        """A line for each ledger in the table of contents: how much of it there is."""
        return {
            "stocktakes": _("%(n)s 次盘点", n=len(self.stocktakes)),
            "prices": _("%(n)s 种商品，本月调整 %(m)s 次", n=len(self.prices), m=self.changes_count),
            "register": _("%(n)s 户", n=len(self.register.entries)),
            "scores": _("%(n)s 次评定", n=len(self.score_sheets)),
            "minutes": _("%(n)s 份会议记录", n=sum(1 for m in self.minutes if m.minutes)),
            "photos": _("%(n)s 张照片", n=self.photos_count),
            "redemptions": _("%(n)s 笔兑换", n=len(self.redemptions.redemptions)),
        }

    @property
    def changes_count(self) -> int:
        return sum(len(row.steps) for row in self.price_changes)

    @property
    def photos_count(self) -> int:
        """The photos ledger's photos: the notice photos, the score photos and the accepted claims'."""
        return sum(len(p.photos) for p in self.photos) + len(self.score_photos) + len(self.claim_photos)

    def score_photos_table(self) -> Table:
        """打分佐证照片: a line per photo, the columns the county's rebuilt book lists them in."""
        return Table(
            _("打分佐证照片"),
            LedgerLine.columns(),
            self.score_photos,
            empty=_("本月的评定没有打分佐证照片。"),
            notes=[_("每张照片的信息和文件的 SHA-256 同步到县里，县里重建的台账列出同样的行。")],
        )

    def claim_photos_table(self) -> Table:
        """家庭申领照片（已采纳）: the photos of accepted claims, a line each; the village's alone."""
        return Table(
            _("家庭申领照片（已采纳）"),
            ClaimLine.columns(),
            self.claim_photos,
            empty=_("本月没有采纳带照片的家庭申领。"),
            notes=[claim_photos_note()],
        )


def parse_book_month(text: str) -> Period | None:
    """The month of a book's address, written ``2026-11`` exactly; None for anything else."""
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        return None
    found = read_period(text)
    return found if found is not None and found.kind == "month" and found.key == text else None


def month_rounds(session: Session, village_id: int, month: Period) -> list[ScoringRound]:
    """The village's rounds of ``month``'s book, in period order (then by id): those whose period ends
    in it — unless a month's close carried them on, to the book of the month after the last carry.

    A carry counts only for a round not finalised by the time its month closed (an open month: not
    finalised yet): one carried and then finalised before the close is the month's it was finished in.
    That is what the county can see of a carry (:func:`pointsmart.county.month_figures.book_rounds`,
    from the rounds' finalised times and the months' closes), so both books hold the same rounds.
    """
    closes = dict(
        session.execute(
            sa.select(MonthClose.month, MonthClose.closed_at).where(MonthClose.village_id == village_id)
        ).all()
    )
    carries: dict[int, set[str]] = {}
    for round_id, carried_from in session.execute(
        sa.select(RoundCarry.round_id, RoundCarry.month)
        .join(ScoringRound, ScoringRound.id == RoundCarry.round_id)
        .where(ScoringRound.village_id == village_id)
    ):
        carries.setdefault(round_id, set()).add(carried_from)
    candidates = session.scalars(
        sa.select(ScoringRound).where(
            ScoringRound.village_id == village_id,
            sa.or_(ScoringRound.period_key.like(f"{month.year:04d}%"), ScoringRound.id.in_(list(carries))),
        )
    )
    found = [r for r in candidates if _book_month(r, carries.get(r.id, set()), closes) == month.key]
    return sorted(found, key=lambda r: (round_period(r.period_type, r.period_key).start, r.scope, r.id))


def _book_month(scoring_round: ScoringRound, carried: set[str], closes: dict[str, datetime]) -> str:
    """The month whose book holds ``scoring_round``, carried out of the months ``carried``."""
    book = round_period(scoring_round.period_type, scoring_round.period_key).last_month
    finalised_at = scoring_round.finalised_at
    while book in carried:
        closed_at = closes.get(book)
        if finalised_at is not None and (closed_at is None or finalised_at <= closed_at):
            break  # finished before its month closed: the carry did not take it on
        book = read_period(book).next.key
    return book


def month_book(session: Session, village_id: int, month: Period) -> MonthBook:
    """Everything the seven ledgers of ``month`` show."""
    rounds = month_rounds(session, village_id, month)
    start, end = utc_window(month.start, month.end)
    prices = registers.prices_until(registers.price_list(session, village_id), end)
    changes = [PriceRow(row.goods, [s for s in row.steps if s.since >= start]) for row in prices]
    minutes = []
    for scoring_round in rounds:
        found = meeting_minutes.minutes_of(session, scoring_round)
        present = meeting_minutes.present_ids(found)
        names = user_names(session, present + [found.updated_by if found else None])
        minutes.append(
            RoundMinutes(
                scoring_round,
                found,
                [names.get(u, "?") for u in present],
                names.get(found.updated_by, "") if found else "",
            )
        )
    photos = []
    for scoring_round in rounds:
        found = notice_photos.photos_of(session, scoring_round)
        photos.append(RoundPhotos(scoring_round, found, user_names(session, [p.uploaded_by for p in found])))
    return MonthBook(
        month=month,
        rounds=rounds,
        stocktakes=registers.stocktakes(session, village_id, month),
        prices=prices,
        price_changes=[row for row in changes if row.steps],
        register=points_register.month_register(session, village_id, month),
        score_sheets=[score_sheets.score_sheet(session, r) for r in rounds],
        minutes=minutes,
        photos=photos,
        redemptions=registers.redemption_register(session, village_id, month),
        score_photos=score_photos.ledger_lines(session, rounds),
        claim_photos=claims.ledger_lines(session, rounds),
    )


def claim_photos_note() -> str:
    """Why the claims' photo lines are in the village's book alone (the book's page and its sheet)."""
    return _(
        "这几行只在村里的台账里：家庭申领的照片只给本村妇联主席和评比小组看，不上公示，不报县里；"
        "县里重建的台账没有这几行，账目校验码也不含它们。"
    )


# --- the workbook --------------------------------------------------------------------------------


@dataclass
class Closing:
    """A month's close as the book's cover prints it."""

    #: stored (naive UTC)
    closed_at: datetime
    #: the name of who closed it ("" for a close made without a user)
    closed_by: str
    #: the figures' sha256 (账目校验码)
    sha256: str
    #: the sha256 of the workbook kept at the close (台账文件校验码); None while it is being made
    book_sha256: str | None = None


def closing_of(session: Session, close) -> Closing | None:
    """A :class:`pointsmart.months.models.MonthClose` (or None) as the cover prints it: the user who
    closed it by name."""
    if close is None:
        return None
    by = close.closed_by
    if isinstance(by, int):
        by = user_names(session, [by]).get(by, "?")
    return Closing(close.closed_at, by or "", close.sha256, close.book_sha256)


#: the cover's columns: a label (or a number), a value wide enough for a sha256 on one line, a count
COVER_WIDTHS = (22, 70, 24)


def add_cover(
    out: Book, heading: str, facts: list[tuple[str, str]], contents: list[tuple[str, str]]
) -> Worksheet:
    """The first sheet of ``out``, 封面: the heading, a line per fact (label, value) and the contents (a
    line per sheet that follows: its name and what it holds). Plain text only: the same facts give the
    same cells."""
    sheet = ledger_sheet(out.create_sheet(index=0), _("封面"), heading, [], list(COVER_WIDTHS))
    sheet.freeze_panes = None
    sheet.append([])
    for label, value in facts:
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    if contents:
        sheet.append([])
        sheet.append([_("目录")])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
        sheet.append([_("序号"), _("工作表"), _("内容")])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for number, (name, what) in enumerate(contents, start=1):
            sheet.append([number, name, what])
            sheet.cell(sheet.max_row, 1).alignment = Alignment(horizontal="left")
    return sheet


def book_cover_facts(village: Village, month: Period, closing: Closing | None) -> list[tuple[str, str]]:
    """The village book's cover lines: the village, the month, and the close (or that there is none)."""
    facts = [(_("村"), village.label), (_("月份"), month.label())]
    if closing is None:
        return facts + [(_("月结"), _("未月结：台账按生成时的数据，月结以前还可能变化"))]
    return facts + [
        (_("月结"), _("已月结")),
        (_("月结人"), closing.closed_by),
        (_("月结时间"), local_text(closing.closed_at)),
        (_("账目校验码"), closing.sha256),
    ]


def book_xlsx(book: MonthBook, village: Village, photo_folder: Path, closing: Closing | None = None) -> bytes:
    """The book as one workbook: the cover (封面, with the close when ``closing`` is given), then a sheet
    per ledger in the book's order, each headed with the village, the month and the ledger. The same
    data gives the same bytes."""
    titles = ledger_titles()
    month = book.month.label()

    def heading(key: str) -> str:
        return _("%(village)s %(month)s %(ledger)s", village=village.label, month=month, ledger=titles[key])

    out = Book()
    out.remove(out.active)
    out.properties.title = _("%(village)s %(month)s 台账汇编", village=village.label, month=month)
    out.properties.creator = "PointsMart"
    out.properties.lastModifiedBy = "PointsMart"
    counts = book.counts()
    add_cover(
        out,
        out.properties.title,
        book_cover_facts(village, book.month, closing),
        [(titles[key], counts[key]) for key in LEDGERS],
    )

    def single(key: str, table: Table) -> None:
        table.heading = heading(key)
        sheet = table.add_to(out)
        sheet.title = titles[key]

    single("stocktakes", workbooks.stocktakes_month_table(book.stocktakes, village, book.month))
    stacked(
        out,
        titles["prices"],
        heading("prices"),
        [
            # without the goods' state today (上架 / 已下架): the book holds the month as it was
            (_("月末分值"), workbooks.prices_table(book.prices, village).without("status")),
            (_("本月分值调整"), _changes(book.price_changes)),
        ],
        "",
    )
    single("register", points_register.register_table(book.register, village))
    stacked(
        out,
        titles["scores"],
        heading("scores"),
        [(_round_caption(s.round), score_sheets.score_table(s, village)) for s in book.score_sheets],
        _("本月没有评定。"),
    )
    stacked(
        out,
        titles["minutes"],
        heading("minutes"),
        [(_round_caption(m.round), _minutes(m)) for m in book.minutes],
        _("本月没有评定。"),
    )
    lines = [book.score_photos_table(), book.claim_photos_table()]
    _photos_sheet(out, titles["photos"], heading("photos"), book.photos, photo_folder, lines)
    single("redemptions", workbooks.redemptions_table(book.redemptions, village))
    saved = datetime.combine(book.month.end, time())  # the month's end, never the time of saving
    return fixed_bytes(workbook_bytes(out), saved)


#: the language of a kept book: the one the village's ledgers are inspected in, whoever closes the month
KEPT_LOCALE = "zh_CN"


def kept_books() -> Path:
    """The folder of the books kept at closing, in the instance folder beside the database."""
    return Path(current_app.instance_path) / "books"


def kept_book_path(folder: Path, village: Village, month: str) -> Path:
    """Where the workbook kept at a month's close lies: ``<folder>/<village code>/<month>.xlsx``."""
    return folder / village.code / f"{month}.xlsx"


def keep_book_xlsx(
    session: Session, village: Village, month: str, closing: Closing, photo_folder: Path, folder: Path
) -> str:
    """Build the month's book as a workbook (in Chinese, whoever asks) with ``closing`` on its cover,
    keep it as a file, return its sha256. Written beside and then renamed over, so a reader never sees
    half a file."""
    with force_locale(KEPT_LOCALE):
        data = book_xlsx(month_book(session, village.id, read_period(month)), village, photo_folder, closing)
    path = kept_book_path(folder, village, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return hashlib.sha256(data).hexdigest()


def kept_book(folder: Path, village: Village, month: str, sha256: str) -> bytes | None:
    """The workbook kept at the month's close, if it is there and still what was hashed; else None."""
    path = kept_book_path(folder, village, month)
    if not path.is_file():
        return None
    data = path.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def _round_caption(scoring_round: ScoringRound) -> str:
    return _(
        "%(period)s（%(status)s）",
        period=period_label(scoring_round),
        status=STATUS_LABELS[scoring_round.status],
    )


def _changes(rows: list[PriceRow]) -> Table:
    table = workbooks.price_changes_table(rows)
    table.empty = _("本月没有调整分值。")
    return table


def _minutes(found: RoundMinutes) -> Table:
    if found.minutes is None:
        return Table(_("会议记录"), [], [], empty=_("这次评定还没有会议记录。"))
    return meeting_minutes.minutes_table(found.minutes, found.present, found.recorder)


def _photos_sheet(
    out: Book, title: str, heading: str, rounds: list[RoundPhotos], folder: Path, lines: list[Table]
) -> None:
    """The notice photos of each round under its caption, each photo in its row as the round's own
    workbook shows it; then ``lines`` (the score photos', the accepted claims'), each under its title.
    Each column is as wide as the widest of the two needs."""
    sheet = stacked(out, title, heading, [], "" if rounds else _("本月没有评定。"))
    for found in rounds:
        if sheet.max_row > 1:
            sheet.append([])
        sheet.append([_round_caption(found.round)])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        sheet.append(notice_photos.photo_header())
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        if found.photos:
            notice_photos.add_photo_rows(sheet, found.photos, folder, found.names)
        else:
            sheet.append([_("还没有上传公示照片。")])
    widths = dict(enumerate(notice_photos.PHOTO_WIDTHS, start=1))
    for table in lines:
        table.add_block(sheet, table.title)
        for index, width in enumerate(table.widths, start=1):
            widths[index] = max(widths.get(index, 0), width)
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = width
