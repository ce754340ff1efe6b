"""Importing the household roster from .xlsx and .csv, and exporting it back."""

import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart.cards import services as cards
from pointsmart.extensions import db
from pointsmart.households import roster
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points

HEADER = ["户号", "户主姓名", "村民小组", "联系电话", "家庭人口", "住址", "标签"]
ROWS = [
    ["01-001", "王建国", "一社", "13912345678", 4, "一社12号", "脱贫户"],
    ["01-002", "李秀兰", "一社", "", 3, "一社15号", ""],
    ["02-001", "张玉芳", "二社", 13800001111, 5.0, "二社3号", "最美家庭，美丽庭院"],
]


def xlsx(rows, header=HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count(Household.id)))


def test_xlsx_import_adds_households_with_accounts(ctx, village_id):
    plan = roster.plan_import(ctx, village_id, "名册.xlsx", xlsx(ROWS))
    assert (len(plan.added), len(plan.changed), plan.unchanged, plan.problems) == (3, 0, 0, [])
    roster.apply_import(ctx, village_id, plan, actor_id=None)
    ctx.commit()
    zhang = ctx.scalar(sa.select(Household).where(Household.household_no == "02-001"))
    assert (zhang.head_name, zhang.phone, zhang.members, zhang.tags) == (
        "张玉芳",
        "13800001111",
        5,
        "最美家庭,美丽庭院",
    )
    assert zhang.balance == 0 and zhang.account.code == f"household:{zhang.uuid}"


def test_reimporting_the_same_file_changes_nothing(ctx, village_id):
    data = xlsx(ROWS)
    roster.apply_import(ctx, village_id, roster.plan_import(ctx, village_id, "a.xlsx", data), None)
    ctx.commit()
    again = roster.plan_import(ctx, village_id, "a.xlsx", data)
    assert (again.added, again.changed, again.unchanged) == ([], [], 3)


def test_changed_rows_are_previewed_field_by_field(ctx, village_id):
    roster.apply_import(ctx, village_id, roster.plan_import(ctx, village_id, "a.xlsx", xlsx(ROWS)), None)
    ctx.commit()
    edited = [list(r) for r in ROWS]
    edited[1][2] = "三社"
    edited.append(["03-001", "刘德福", "三社", "", "", "", ""])
    plan = roster.plan_import(ctx, village_id, "b.xlsx", xlsx(edited))
    assert [h["household_no"] for h in plan.added] == ["03-001"]
    assert plan.changed == [("01-002", {"old": {"group": "一社"}, "new": {"group": "三社"}})]
    roster.apply_import(ctx, village_id, plan, None)
    ctx.commit()
    assert _count(ctx) == 4


def test_bad_rows_are_listed_by_row_number_and_nothing_is_written(ctx, village_id):
    rows = [list(r) for r in ROWS] + [
        ["01-001", "重复户", "一社", "", "", "", ""],  # row 5: duplicates row 2
        ["", "无户号", "一社", "", "", "", ""],  # row 6
        ["03-017", "", "三社", "", "abc", "", ""],  # row 7
    ]
    plan = roster.plan_import(ctx, village_id, "bad.xlsx", xlsx(rows))
    messages = [str(p) for p in plan.problems]
    assert "第 5 行：户号 01-001 重复（与第 2 行相同）" in messages
    assert "第 6 行：户号不能为空" in messages
    # one bad row with two problems is one bad row, both problems named on it
    assert "第 7 行：户主姓名不能为空；家庭人口 abc 应为 1–50 的整数" in messages
    assert [p.row for p in plan.problems] == [5, 6, 7]
    with pytest.raises(roster.ImportError_):
        roster.apply_import(ctx, village_id, plan, None)
    ctx.rollback()
    assert _count(ctx) == 0


def test_missing_required_column_is_named(ctx, village_id):
    with pytest.raises(roster.ImportError_, match="缺少必填列：户主姓名"):
        roster.plan_import(ctx, village_id, "x.xlsx", xlsx(ROWS, header=["户号", "姓 名", "组"]))


def test_english_headers_and_gbk_csv_are_accepted(ctx, village_id):
    header = ["household_no", "head_name", "group", "phone", "members", "address", "tags"]
    plan = roster.plan_import(ctx, village_id, "r.csv", csv_bytes(ROWS, header=header, encoding="gb18030"))
    assert [h["head_name"] for h in plan.added] == ["王建国", "李秀兰", "张玉芳"]


def test_a_file_that_is_not_a_spreadsheet_gets_a_clear_error(ctx, village_id):
    with pytest.raises(roster.ImportError_, match="无法读取这个 Excel 文件"):
        roster.plan_import(ctx, village_id, "x.xlsx", b"not a zip file")
    with pytest.raises(roster.ImportError_, match="只支持 .xlsx 和 .csv"):
        roster.plan_import(ctx, village_id, "x.pdf", b"%PDF")


def test_export_then_import_round_trips_without_changes(ctx, village_id):
    roster.apply_import(ctx, village_id, roster.plan_import(ctx, village_id, "a.xlsx", xlsx(ROWS)), None)
    ctx.commit()
    households = ctx.scalars(sa.select(Household).order_by(Household.household_no)).all()
    exported = roster.export_xlsx(households)
    sheet = openpyxl.load_workbook(io.BytesIO(exported)).active
    assert [c.value for c in sheet[1]][:7] == HEADER
    assert sheet["A2"].value == "01-001" and sheet["B4"].value == "张玉芳"
    plan = roster.plan_import(ctx, village_id, "export.xlsx", exported)
    assert (plan.added, plan.changed, plan.unchanged) == ([], [], 3)


def test_import_page_previews_then_commits(app, login_as):
    chair = login_as("chair")
    preview = chair.post(
        "/households/import",
        data={"file": (io.BytesIO(xlsx(ROWS)), "名册.xlsx")},
        content_type="multipart/form-data",
    )
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "新增 3 户" in page and "王建国" in page
    with app.app_context():
        assert _count(db.session) == 0  # nothing until confirmed
    token = page.split('name="token" value="')[1].split('"')[0]
    done = chair.post(
        "/households/import/confirm", data={"token": token, "suffix": ".xlsx"}, follow_redirects=True
    )
    assert "导入完成：新增 3 户" in done.get_data(as_text=True)
    with app.app_context():
        assert _count(db.session) == 3


def test_import_page_shows_bad_rows_and_offers_no_confirm(app, login_as):
    chair = login_as("chair")
    rows = ROWS + [["01-001", "重复户", "", "", "", "", ""]]
    page = chair.post(
        "/households/import",
        data={"file": (io.BytesIO(xlsx(rows)), "名册.xlsx")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "第 5 行：户号 01-001 重复" in page and "确认导入" not in page


def test_confirm_with_a_forged_token_is_refused(login_as):
    chair = login_as("chair")
    assert (
        chair.post(
            "/households/import/confirm", data={"token": "../../etc/passwd", "suffix": ".csv"}
        ).status_code
        == 400
    )


def test_export_download_is_an_xlsx_of_every_household(app, login_as, make_household):
    make_household(head_name="王建国")
    make_household(head_name="李秀兰")
    response = login_as("chair").get("/households/export.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sorted(sheet.cell(row=r, column=2).value for r in (2, 3)) == ["李秀兰", "王建国"]


def test_a_row_with_two_problems_counts_as_one_bad_row_on_the_page(app, login_as):
    chair = login_as("chair")
    rows = ROWS + [["", "", "一社", "1234567", "", "", ""]]  # row 5: no 户号, no name, a 7-digit phone
    page = chair.post(
        "/households/import",
        data={"file": (io.BytesIO(xlsx(rows)), "名册.xlsx")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "错误 1 行" in page
    assert page.count("第 5 行") == 1
    for problem in ("户号不能为空", "户主姓名不能为空", "联系电话 1234567 格式不对"):
        assert problem in page


@pytest.mark.parametrize(
    "phone", ["1234567", "8123456", "2345678901", "23912345678", "139123456789", "0931-123"]
)
def test_a_phone_that_is_neither_a_mobile_nor_a_landline_is_refused_naming_row_and_field(
    ctx, village_id, phone
):
    rows = [ROWS[0], ["01-009", "赵六", "一社", phone, "", "", ""]]
    plan = roster.plan_import(ctx, village_id, "p.xlsx", xlsx(rows))
    assert [(p.row, p.message.split("（")[0]) for p in plan.problems] == [(3, f"联系电话 {phone} 格式不对")]
    assert str(plan.problems[0]).startswith("第 3 行：联系电话")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("0931-8123456", "0931-8123456"),
        ("09318123456", "0931-8123456"),
        ("010-12345678", "010-12345678"),
        ("(0931) 8123456", "0931-8123456"),
    ],
)
def test_mobiles_and_landlines_with_area_code_are_accepted_and_kept_in_one_form(ctx, village_id, typed, kept):
    plan = roster.plan_import(
        ctx, village_id, "p.csv", csv_bytes([["01-009", "赵六", "", typed, "", "", ""]])
    )
    assert plan.problems == [] and plan.added[0]["phone"] == kept


def _imported_with_points_and_card(ctx, village_id, points: int, card: bool) -> Household:
    roster.apply_import(ctx, village_id, roster.plan_import(ctx, village_id, "a.xlsx", xlsx(ROWS)), None)
    wang = ctx.scalar(sa.select(Household).where(Household.household_no == "01-001"))
    if points:
        adjust_points(ctx, wang, points, "纸质卡结转", None)
    if card:
        cards.issue_card(ctx, wang, None)
    ctx.commit()
    return wang


@pytest.mark.parametrize(("points", "card"), [(150, True), (150, False), (0, True)])
def test_a_new_head_for_a_household_with_points_or_a_card_is_flagged_and_needs_acceptance(
    ctx, village_id, points, card
):
    _imported_with_points_and_card(ctx, village_id, points, card)
    edited = [list(r) for r in ROWS]
    edited[0][1] = "王小明"  # row 2: 01-001's head changes
    edited[1][2] = "二社"  # row 3: an ordinary change, no flag
    plan = roster.plan_import(ctx, village_id, "b.xlsx", xlsx(edited))
    assert [
        (c.row, c.household_no, c.old_name, c.new_name, c.balance, c.has_card) for c in plan.head_changes
    ] == [(2, "01-001", "王建国", "王小明", points, card)]
    with pytest.raises(roster.ImportError_) as refused:
        roster.apply_import(ctx, village_id, plan, None)
    assert refused.value.code == "head_change_unaccepted"
    ctx.rollback()
    assert ctx.scalar(sa.select(Household.head_name).where(Household.household_no == "01-001")) == "王建国"
    roster.apply_import(ctx, village_id, plan, None, accept_head_changes=True)
    ctx.commit()
    assert ctx.scalar(sa.select(Household.head_name).where(Household.household_no == "01-001")) == "王小明"


def test_a_new_head_for_an_empty_household_is_an_ordinary_change(ctx, village_id):
    _imported_with_points_and_card(ctx, village_id, 0, False)
    edited = [list(r) for r in ROWS]
    edited[0][1] = "王小明"
    plan = roster.plan_import(ctx, village_id, "b.xlsx", xlsx(edited))
    assert plan.head_changes == [] and [no for no, _diff in plan.changed] == ["01-001"]


def _token(page: str) -> str:
    return page.split('name="token" value="')[1].split('"')[0]


def test_the_preview_warns_of_a_head_change_and_confirm_needs_the_tick(app, login_as):
    with app.app_context():
        from pointsmart.org.services import home_village

        _imported_with_points_and_card(db.session, home_village(db.session).id, 150, True)
    chair = login_as("chair")
    edited = [list(r) for r in ROWS]
    edited[0][1] = "王小明"
    page = chair.post(
        "/households/import",
        data={"file": (io.BytesIO(xlsx(edited)), "名册.xlsx")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'id="head-changes"' in page and "王建国" in page and "王小明" in page
    assert re.search(r'<input type="checkbox" name="accept_head_changes" value="1" required>', page)
    token = _token(page)
    refused = chair.post("/households/import/confirm", data={"token": token, "suffix": ".xlsx"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "请在预览中核对并勾选确认" in text and 'id="head-changes"' in text
    with app.app_context():
        assert (
            db.session.scalar(sa.select(Household.head_name).where(Household.household_no == "01-001"))
            == "王建国"
        )
    done = chair.post(
        "/households/import/confirm",
        data={"token": token, "suffix": ".xlsx", "accept_head_changes": "1"},
        follow_redirects=True,
    )
    assert "导入完成：新增 0 户，修改 1 户" in done.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(sa.select(Household.head_name).where(Household.household_no == "01-001"))
            == "王小明"
        )


def test_the_template_has_the_importers_headers_and_imports_cleanly_once_filled(app, login_as):
    chair = login_as("chair")
    assert 'href="/households/import/template.xlsx"' in chair.get("/households/import").get_data(as_text=True)
    response = chair.get("/households/import/template.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER and sheet.max_row == 1
    for row in ROWS:
        sheet.append(row)
    filled = io.BytesIO()
    book.save(filled)
    with app.app_context():
        from pointsmart.org.services import home_village

        plan = roster.plan_import(db.session, home_village(db.session).id, "filled.xlsx", filled.getvalue())
    assert plan.problems == [] and [h["household_no"] for h in plan.added] == ["01-001", "01-002", "02-001"]
    assert login_as("shopkeeper").get("/households/import/template.xlsx").status_code == 403


def test_a_blank_optional_cell_keeps_the_stored_value_of_an_existing_household(ctx, village_id):
    roster.apply_import(ctx, village_id, roster.plan_import(ctx, village_id, "a.xlsx", xlsx(ROWS)), None)
    ctx.commit()
    # the same households, with only 户号 and 户主 filled, and one new group
    sparse = [[row[0], row[1], "", "", None, "", ""] for row in ROWS]
    sparse[0][2] = "三社"
    plan = roster.plan_import(ctx, village_id, "b.xlsx", xlsx(sparse))
    assert plan.changed == [("01-001", {"old": {"group": "一社"}, "new": {"group": "三社"}})]
    assert plan.unchanged == 2
    roster.apply_import(ctx, village_id, plan, None)
    ctx.commit()
    wang = ctx.scalar(sa.select(Household).where(Household.household_no == "01-001"))
    assert (wang.group, wang.phone, wang.members, wang.address, wang.tags) == (
        "三社",
        "13912345678",
        4,
        "一社12号",
        "脱贫户",
    )


def test_a_blank_cell_on_a_new_household_is_simply_empty(ctx, village_id):
    plan = roster.plan_import(ctx, village_id, "a.csv", csv_bytes([["05-001", "赵兰", "", "", "", "", ""]]))
    roster.apply_import(ctx, village_id, plan, None)
    ctx.commit()
    zhao = ctx.scalar(sa.select(Household).where(Household.household_no == "05-001"))
    assert (zhao.group, zhao.members, zhao.tags) == ("", None, "")


def test_household_numbers_differing_only_in_case_or_width_are_the_same_household(ctx, village_id):
    plan = roster.plan_import(ctx, village_id, "a.csv", csv_bytes([["a-01", "王兰", "一社", "", "", "", ""]]))
    roster.apply_import(ctx, village_id, plan, None)
    ctx.commit()
    assert ctx.scalar(sa.select(Household.household_no)) == "A-01"
    again = roster.plan_import(
        ctx, village_id, "b.csv", csv_bytes([["Ａ－01", "王兰", "一社", "", "", "", ""]])
    )
    assert (again.added, again.changed, again.unchanged) == ([], [], 1)
    twice = roster.plan_import(
        ctx,
        village_id,
        "c.csv",
        csv_bytes([["b-77", "李梅", "", "", "", "", ""], ["B-77", "李梅", "", "", "", "", ""]]),
    )
    assert len(twice.problems) == 1 and twice.problems[0].row == 3 and "B-77" in twice.problems[0].messages[0]


def test_the_template_explains_that_a_blank_cell_keeps_the_stored_value(app, login_as):
    data = login_as("chair").get("/households/import/template.xlsx").data
    notes = openpyxl.load_workbook(io.BytesIO(data)).worksheets[1]
    text = " ".join(str(c.value) for row in notes.iter_rows() for c in row if c.value)
    assert "留空" in text and "保留原来的内容" in text


def test_the_import_page_says_a_blank_cell_keeps_the_stored_value(login_as):
    page = login_as("chair").get("/households/import").get_data(as_text=True)
    assert "留空的格子保留原来的内容" in page
