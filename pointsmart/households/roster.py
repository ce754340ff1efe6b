"""Import the household roster from the spreadsheet a village already keeps, and export it back.

Import is two steps: :func:`plan_import` reads the file and says what would be added and changed,
and lists every bad row with its row number; :func:`apply_import` writes the plan, all or nothing.
Re-importing the same file finds nothing to change.
"""

import csv
import io
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from ..errors import Invalid
from ..exports import INTEGER, Column, Table, workbook
from ..i18n import LANGUAGES, join_names
from ..sheets import SheetRefused, read_first_sheet, too_big
from ..xlsx import Book, workbook_bytes
from .models import Household
from .services import (
    clean_fields,
    field_labels,
    household_by_no,
    households_by_no,
    register_clean,
    update_household,
)

#: header → field; Chinese headers as villages write them, English ones too
HEADERS = {
    "household_no": ("户号", "户编号", "household_no", "household no", "household"),
    "head_name": ("户主姓名", "户主", "姓名", "head_name", "head name", "head"),
    "group": ("村民小组", "小组", "组别", "网格", "group"),
    "phone": ("联系电话", "电话", "手机", "手机号", "phone"),
    "members": ("家庭人口", "人口", "人数", "members"),
    "address": ("住址", "地址", "家庭住址", "address"),
    "tags": ("标签", "tags"),
}
REQUIRED = ("household_no", "head_name")
MAX_ROWS = 5000
#: how far into a sheet the import reads: the rows above plus room for titles and blank lines; a cell
#: beyond these refuses the file while it is read (a hostile file can claim a cell at XFD1048576)
MAX_SHEET_ROWS = MAX_ROWS + 100
MAX_SHEET_COLUMNS = 50


class ImportError_(Invalid):
    code = "bad_import_file"


@dataclass
class RowProblem:
    """One bad row, with every problem found on it (a row with two problems is one bad row)."""

    row: int
    messages: list[str]

    @property
    def message(self) -> str:
        return _("；").join(self.messages)

    def __str__(self) -> str:
        return _("第 %(row)s 行：%(msg)s", row=self.row, msg=self.message)


@dataclass
class HeadChange:
    """A row that gives a household holding points or an active card a new 户主: the chair must see it
    and accept it (a typo in 户号 would hand one family's points and card to another)."""

    row: int
    household_no: str
    old_name: str
    new_name: str
    balance: int
    has_card: bool


@dataclass
class ImportPlan:
    added: list[dict] = field(default_factory=list)
    #: (household_no, {"old": …, "new": …})
    changed: list[tuple[str, dict]] = field(default_factory=list)
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    #: changed rows that need the chair's explicit acceptance
    head_changes: list[HeadChange] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


#: the card table, named here without importing :mod:`pointsmart.cards` (which builds on households):
#: the import only asks whether a household holds an active card
_card = sa.table("card", sa.column("household_id"), sa.column("status"))


def _holds_card(session: Session, household_id: int) -> bool:
    return (
        session.scalar(
            sa.select(sa.literal(1)).where(_card.c.household_id == household_id, _card.c.status == "active")
        )
        is not None
    )


def _header_names() -> dict[str, set[str]]:
    """Every header a field is known by: the aliases above and its label in each UI language, so a
    sheet exported from the English pages imports again."""
    names = {key: set(aliases) for key, aliases in HEADERS.items()}
    for locale in LANGUAGES:
        with force_locale(locale):
            for key, label in field_labels().items():
                names[key].add(label.lower())
    return names


def _header_key(text, names: dict[str, set[str]]) -> str | None:
    name = str(text or "").strip().lower().replace("*", "")
    return next((key for key, known in names.items() if name in known), None)


def _cell(value) -> str:
    """Spreadsheet cell → text; Excel turns 户号 3 into 3.0 and phones into big numbers."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_csv(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK by default
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportError_(_("无法识别 CSV 文件的编码，请另存为 UTF-8 或 .xlsx。"))
    return _csv_rows(csv.reader(io.StringIO(text)))


def _csv_rows(reader) -> list[list[str]]:
    """The rows, capped like a sheet's as they are read; a cell past the csv module's field limit
    (131,072 characters) or a broken quote refuses the file naming its line, never a 500."""
    table = []
    try:
        for row in reader:
            if len(table) >= MAX_SHEET_ROWS or len(row) > MAX_SHEET_COLUMNS:
                where = _("第 %(n)s 行", n=reader.line_num)
                raise too_big(MAX_SHEET_ROWS, MAX_SHEET_COLUMNS, where)
            table.append(row)
    except csv.Error as exc:
        too_long = "field larger than field limit" in str(exc)
        problem = _("有一格内容太长（超过 %(n)s 个字符）", n=csv.field_size_limit()) if too_long else str(exc)
        raise ImportError_(
            str(RowProblem(reader.line_num, [problem])), code="field_too_long" if too_long else None
        ) from exc
    except SheetRefused as err:
        raise ImportError_(err.message, code=err.code) from err
    return table


def _read_xlsx(data: bytes) -> list[list[str]]:
    """The first sheet, read as a stream with its rows and columns capped as they are read."""
    try:
        table = read_first_sheet(data, MAX_SHEET_ROWS, MAX_SHEET_COLUMNS)
    except SheetRefused as err:
        raise ImportError_(err.message, code=err.code if err.code != SheetRefused.code else None) from err
    return [[_cell(v) for v in row] for row in table]


def read_rows(filename: str, data: bytes) -> tuple[list[str], list[tuple[int, dict]]]:
    """Read a roster file into ``(columns, [(row_number, {field: text})])``.

    :raises ImportError_: unreadable file, unknown type, missing required columns, too many rows.
    """
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".csv":
        table = _read_csv(data)
    elif suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(data)
    else:
        raise ImportError_(_("只支持 .xlsx 和 .csv 文件（收到的是 %(name)s）。", name=filename or "?"))

    header_index = next((i for i, row in enumerate(table) if any(_cell(c) for c in row)), None)
    if header_index is None:
        raise ImportError_(_("文件是空的。"))
    columns: dict[int, str] = {}
    names = _header_names()
    for position, text in enumerate(table[header_index]):
        key = _header_key(text, names)
        if key and key not in columns.values():
            columns[position] = key
    labels = field_labels()
    missing = [labels[k] for k in REQUIRED if k not in columns.values()]
    if missing:
        raise ImportError_(
            _(
                "缺少必填列：%(cols)s（第 %(row)s 行应为表头）。",
                cols=join_names(missing),
                row=header_index + 1,
            )
        )
    rows = []
    for index in range(header_index + 1, len(table)):
        raw = table[index]
        values = {key: _cell(raw[pos]) if pos < len(raw) else "" for pos, key in columns.items()}
        if any(values.values()):
            rows.append((index + 1, values))
    if len(rows) > MAX_ROWS:
        raise ImportError_(_("一次最多导入 %(n)s 户。", n=MAX_ROWS))
    return list(columns.values()), rows


def plan_import(session: Session, village_id: int, filename: str, data: bytes) -> ImportPlan:
    """Read a roster file and work out what it would add and change. Writes nothing."""
    columns, rows = read_rows(filename, data)
    plan = ImportPlan(columns=columns)
    seen: dict[str, int] = {}
    stored = households_by_no(session, village_id)
    for number, values in rows:
        clean, problems = clean_fields(values)
        no = clean.get("household_no")
        if no and no in seen:
            problems.append(_("户号 %(no)s 重复（与第 %(row)s 行相同）", no=no, row=seen[no]))
        if problems:
            plan.problems.append(RowProblem(number, problems))
            continue
        seen[no] = number
        existing = stored.get(no)
        if existing is None:
            plan.added.append(clean)
            continue
        # a blank optional cell keeps what the household has: clearing a field is done on its page
        clean = {k: v for k, v in clean.items() if k in REQUIRED or values.get(k, "").strip()}
        old = existing.snapshot()
        diff_keys = [k for k in clean if old.get(k) != clean[k]]
        if diff_keys:
            plan.changed.append(
                (no, {"old": {k: old[k] for k in diff_keys}, "new": {k: clean[k] for k in diff_keys}})
            )
            if "head_name" in diff_keys:
                has_card = _holds_card(session, existing.id)
                if existing.balance > 0 or has_card:
                    plan.head_changes.append(
                        HeadChange(
                            number, no, old["head_name"], clean["head_name"], existing.balance, has_card
                        )
                    )
        else:
            plan.unchanged += 1
    return plan


def apply_import(
    session: Session,
    village_id: int,
    plan: ImportPlan,
    actor_id: int | None,
    *,
    accept_head_changes: bool = False,
) -> None:
    """Write an import plan, all or nothing.

    :raises ImportError_: the plan has bad rows, or changes the 户主 of a household that holds points
        or a card and the chair has not accepted that (code ``head_change_unaccepted``); nothing is
        written.
    """
    if not plan.ok:
        raise ImportError_(_("文件中有 %(n)s 行有错误，没有导入任何数据。", n=len(plan.problems)))
    if plan.head_changes and not accept_head_changes:
        raise ImportError_(
            _(
                "有 %(n)s 户要更换户主，而这些户有积分或积分卡：请在预览中核对并勾选确认后再导入。",
                n=len(plan.head_changes),
            ),
            code="head_change_unaccepted",
        )
    for clean in plan.added:
        full = {k: clean.get(k, "" if k != "members" else None) for k in Household.EDITABLE}
        register_clean(session, village_id, full, actor_id)
    for no, diff in plan.changed:
        update_household(session, household_by_no(session, village_id, no), diff["new"], actor_id)


#: the roster's columns' widths in the spreadsheet (characters); 20 for the others
_WIDTHS = {"household_no": 10, "head_name": 12, "group": 12, "phone": 15, "members": 10, "address": 30}


def export_xlsx(households: list[Household]) -> bytes:
    """The roster as an .xlsx workbook, with the same headers the import reads (on the first row, so
    the file can be read back in)."""
    labels = field_labels()
    columns = [Column(labels[k], _WIDTHS.get(k, 20), attrgetter(k)) for k in Household.EDITABLE]
    columns += [
        Column(_("积分余额"), 10, attrgetter("balance"), INTEGER),
        Column(_("状态"), 8, lambda h: _("正常") if h.active else _("已停用")),
    ]
    return workbook("", [Table(_("农户名册"), columns, households, landscape=False, heading_line=False)])


def template_xlsx() -> bytes:
    """An empty roster to fill in: the headers the import reads, in its order, on the first sheet (the
    one the import reads); 户号 and 电话 columns kept as text, so Excel does not turn 01-001 into a
    date or a phone into 1.39E+10; how to fill it on a second sheet. A blank form with its notes, not a
    table of rows, so it is written cell by cell rather than as an :class:`~pointsmart.exports.Table`."""
    labels = field_labels()
    book = Book()
    sheet = book.active
    sheet.title = _("农户名册")
    sheet.append([labels[k] for k in Household.EDITABLE])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for i, key in enumerate(Household.EDITABLE):
        column = sheet.column_dimensions[get_column_letter(i + 1)]
        column.width = _WIDTHS.get(key, 20)
        if key in ("household_no", "phone"):
            column.number_format = "@"
    sheet.freeze_panes = "A2"
    notes = book.create_sheet(_("填写说明"))
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 70
    notes.append([_("列"), _("怎么填")])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for key, how in (
        ("household_no", _("必填。数字、字母和连字符，最多 20 位，如 03-017；全村不能重复")),
        ("head_name", _("必填")),
        ("group", _("可空，如 一社")),
        ("phone", _("可空。手机号 11 位，如 13912345678；座机带区号，如 0931-8123456")),
        ("members", _("可空，1–50 的整数")),
        ("address", _("可空")),
        ("tags", _("可空，多个标签用逗号分开，如 脱贫户,最美家庭")),
    ):
        notes.append([labels[key], how])
    notes.append([])
    notes.append(
        [
            _("说明"),
            _(
                "只导入第一个工作表；从第 2 行起一户一行。已有的户号按新值修改，新的户号新增。"
                "已有的户号某格留空，表示保留原来的内容（不会清空）；要清空某项，请在该户的编辑页修改。"
                "户号不分大小写：a-01 和 A-01 是同一户。"
            ),
        ]
    )
    return workbook_bytes(book)
