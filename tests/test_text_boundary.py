"""One rule for text at every entry (issue 9), and text stored before the rule still flowing.

Each class of bad character — NUL, a C0 control (``\\x01``, ``\\x0b``), a C1 control (``\\x85``), a lone
surrogate, a value too long — goes through each entry point: the household form, an adjustment reason
by form and by API, the roster as CSV and as .xlsx, a query parameter, a sync record at the county. Each
is refused with a message naming the field (a form error, ``422 invalid_text``, a roster row error).

Then rows written the way an older version could have (straight into the database) must still export,
print and sync: the county stores NUL in its documented form and reads it back unchanged.
"""

import io
import json
import re
import zipfile
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart import text
from pointsmart.extensions import db
from pointsmart.households import roster
from pointsmart.households.models import Household
from pointsmart.scoring import criteria as scoring_criteria
from pointsmart.shop import services as shop
from pointsmart.sync import wire

from .conftest import PASSWORD, VILLAGE_CODE
from .sync_support import batch_bodies, county_totals, post, push_all, register, village_totals, workload

#: each class of character the rule refuses in a single-line field, put inside ordinary text
BAD = {
    "nul": "王\x00兰",
    "c0": "王\x01兰",
    "vertical_tab": "王\x0b兰",
    "c1": "王\x85兰",
    "line_break": "王\n兰",
}
SURROGATE = "王\ud800兰"


# --- the rule itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*BAD.values(), SURROGATE, "a\ufffe", "\x7f"])
def test_the_rule_refuses_each_class_in_a_single_line_field(value):
    assert text.problem(value) is not None


def test_a_multi_line_field_allows_tab_and_line_breaks_and_nothing_else():
    assert text.problem("第一条\r\n第二条\t完", multiline=True) is None
    for bad in ("\x00", "\x01", "\x0b", "\x0c", "\x85", "\ud800"):
        assert text.problem(f"a{bad}b", multiline=True) is not None


def test_length_is_refused_with_the_field_named_never_cut():
    with pytest.raises(text.BadText) as caught:
        text.checked("字" * 41, "head_name", "户主姓名", max_length=40)
    assert caught.value.extra == {"field": "head_name"} and "户主姓名" in caught.value.message
    assert "40" in caught.value.message


def test_visible_escapes_show_stored_control_characters():
    assert text.visible("王\x0b兰\x00\x85") == "王\\x0b兰\\x00\\x85"
    assert text.visible("一行\n二行\t") == "一行\n二行\t"


@pytest.mark.parametrize(
    "value", ["", "plain", "a\x00b", "\x00", "\uffff", "\ufffe", "\x00\uffff\ufffe\x00", "\ufffe0\uffff0"]
)
def test_the_county_stored_form_holds_no_nul_and_reads_back_unchanged(value):
    stored = text.to_stored(value)
    assert "\x00" not in stored and text.from_stored(stored) == value
    if "\x00" not in value and "\ufffe" not in value and "\uffff" not in value:
        assert stored == value


def test_every_form_in_the_package_carries_the_rule(app):
    """No form can be declared without the rule: every FlaskForm subclass derives from ours."""
    import flask_wtf

    from pointsmart.forms import FlaskForm

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(flask_wtf.FlaskForm) if c.__module__.startswith("pointsmart.")]
    assert len(ours) > 15
    assert all(issubclass(c, FlaskForm) for c in ours), [c for c in ours if not issubclass(c, FlaskForm)]


# --- forms ---------------------------------------------------------------------------------------------


def _household_form(**fields) -> dict:
    return {"household_no": "01-001", "head_name": "王秀兰", "group": "一社"} | fields


@pytest.mark.parametrize("kind", BAD)
def test_the_household_form_refuses_bad_text_naming_the_field(app, login_as, kind):
    chair = login_as("chair")
    page = chair.post("/households/new", data=_household_form(head_name=BAD[kind]))
    assert page.status_code == 422  # the form, refused, its field marked
    body = page.get_data(as_text=True)
    assert "户主姓名" in body and ("控制字符" in body or "只能填一行" in body)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_the_household_form_refuses_a_name_too_long(app, login_as):
    page = login_as("chair").post("/households/new", data=_household_form(head_name="字" * 41))
    assert "40" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_a_text_area_keeps_its_line_breaks(app):
    """Multi-line fields (a criterion's description is a text area) take line breaks and tabs."""
    from pointsmart.scoring.forms import CriterionForm

    with app.test_request_context(
        method="POST", data={"name": "门前三包", "description": "一、清扫\r\n二、\t摆放", "points": "3",
                             "cadence": "monthly", "max_per_period": "1"}
    ):  # fmt: skip
        form = CriterionForm()
        assert form.validate(), form.errors
    with app.test_request_context(method="POST", data={"name": "门前\n三包", "description": "a\x01"}):
        form = CriterionForm()
        form.validate()
        assert "name" in form.errors and "description" in form.errors


@pytest.mark.parametrize("kind", BAD)
def test_an_adjustment_reason_by_form_is_refused_naming_the_field(app, login_as, make_household, kind):
    hid = make_household()
    chair = login_as("chair")
    page = chair.post(
        f"/households/{hid}/adjust",
        data={"points": "5", "reason": BAD[kind], "key": "k1"},
        follow_redirects=True,
    )
    assert page.status_code == 200 and "原因" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Household, hid).balance == 0


def test_the_service_refuses_what_a_form_let_through(ctx, make_household):
    """A reason that reaches the service another way (a CLI, a raw form field) meets the same rule."""
    from pointsmart.households.services import adjust_points

    household = db.session.get(Household, make_household())
    with pytest.raises(text.BadText) as caught:
        adjust_points(ctx, household, 5, "a\x00b", None)
    assert caught.value.extra["field"] == "reason"
    with pytest.raises(text.BadText):
        adjust_points(ctx, household, 5, "字" * 501, None)


def _long_category_name(session, village_id, goods):
    scoring_criteria.save_category(session, village_id, {"name": "类" * 61}, None)


def _goods_spec_with_a_control(session, village_id, goods):
    shop.save_goods(session, village_id, {"name": "毛巾", "spec": "条\x01", "price": 5}, None)


def _long_loss_note(session, village_id, goods):
    shop.record_loss(session, goods, 1, "破" * 201, None)


def _stocktake_counter_with_nul(session, village_id, goods):
    shop.record_stocktake(session, village_id, date(2026, 11, 30), "王\x00", {goods.id: 1}, None)


#: service calls that once cut with a silent ``.strip()[:N]``, and the field each must name
CUT_SHORT = {
    "category_name_too_long": (_long_category_name, "name"),
    "goods_spec_control": (_goods_spec_with_a_control, "spec"),
    "loss_note_too_long": (_long_loss_note, "note"),
    "stocktake_counter_nul": (_stocktake_counter_with_nul, "counted_by"),
}


@pytest.mark.parametrize("case", CUT_SHORT)
def test_services_refuse_what_they_used_to_cut_short(ctx, village_id, case):
    """The services' old ``.strip()[:N]`` silently cut a long value; now it is refused, naming the field."""
    call, field = CUT_SHORT[case]
    goods = shop.save_goods(ctx, village_id, {"name": "毛巾", "price": 5}, None)
    with pytest.raises(text.BadText) as caught:
        call(ctx, village_id, goods)
    assert caught.value.extra["field"] == field


# --- API -------------------------------------------------------------------------------------------


def _adjust(client, token, uuid, raw_json: str):
    return client.post(
        f"/api/v1/households/{uuid}/adjustments",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=raw_json.encode(),
    )


@pytest.mark.parametrize(
    "reason",
    ["a\\u0000b", "a\\u0001b", "a\\u000bb", "a\\u0085b", "a\\ud800b", "a\\udfffb", "字" * 501],
)
def test_an_adjustment_reason_by_api_is_refused_with_invalid_text(
    app, client, api_token, make_household, reason
):
    hid = make_household()
    with app.app_context():
        uuid = db.session.get(Household, hid).uuid
    response = _adjust(client, api_token("chair"), uuid, f'{{"points": 5, "reason": "{reason}"}}')
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_text" and error["field"] == "reason" and "reason" in error["message"]


def test_an_api_reason_may_span_lines(app, client, api_token, make_household):
    hid = make_household()
    with app.app_context():
        uuid = db.session.get(Household, hid).uuid
    response = _adjust(client, api_token("chair"), uuid, '{"points": 5, "reason": "一行\\n二行"}')
    assert response.status_code == 201, response.get_json()


def test_a_lone_surrogate_anywhere_in_a_json_body_is_a_4xx(app, client, api_token):
    response = client.post(
        "/api/v1/redemptions",
        headers={"Authorization": f"Bearer {api_token('shopkeeper')}", "Content-Type": "application/json"},
        data=b'{"card": "\\ud800", "lines": [{"goods_id": 1, "qty": 1}]}',
    )
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "card"


# --- roster files ----------------------------------------------------------------------------------


HEADER = ["户号", "户主姓名", "村民小组"]


def _csv(rows) -> bytes:
    return ("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n").encode("utf-8")


def _xlsx(rows, raw: dict[str, str] | None = None) -> bytes:
    """An .xlsx file; ``raw`` puts characters openpyxl will not write straight into the sheet's XML."""
    book = openpyxl.Workbook()
    for row in [HEADER, *rows]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    if not raw:
        return out.getvalue()
    edited = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            for placeholder, value in raw.items():
                data = data.replace(placeholder.encode(), value.encode("utf-8", "surrogatepass"))
            dst.writestr(item, data)
    return edited.getvalue()


def _problems(ctx, village_id, name, data) -> list[str]:
    plan = roster.plan_import(ctx, village_id, name, data)
    return [str(p) for p in plan.problems]


@pytest.mark.parametrize("kind", ["nul", "c0", "vertical_tab", "c1"])
def test_a_roster_csv_row_with_bad_text_is_a_row_error_naming_row_and_column(ctx, village_id, kind):
    problems = _problems(
        ctx, village_id, "名册.csv", _csv([["01-001", "李四", "一社"], ["01-002", BAD[kind], "一社"]])
    )
    assert len(problems) == 1 and "第 3 行" in problems[0] and "户主姓名" in problems[0]


def test_a_roster_csv_value_too_long_is_a_row_error(ctx, village_id):
    problems = _problems(ctx, village_id, "名册.csv", _csv([["01-001", "李四", "组" * 41]]))
    assert len(problems) == 1 and "第 2 行" in problems[0] and "村民小组" in problems[0]


def test_a_csv_field_past_the_csv_modules_limit_is_a_row_error_not_a_500(app, login_as):
    data = _csv([["01-001", "李四", "一社"], ["01-002", '"' + "x" * 140_000 + '"', "一社"]])
    response = login_as("chair").post(
        "/households/import",
        data={"file": (io.BytesIO(data), "名册.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "第 3 行" in response.get_data(as_text=True)


@pytest.mark.parametrize("kind", ["c1", "line_break"])
def test_a_roster_xlsx_cell_with_bad_text_is_a_row_error_naming_row_and_column(ctx, village_id, kind):
    problems = _problems(ctx, village_id, "名册.xlsx", _xlsx([["01-001", "李四", BAD[kind]]]))
    assert len(problems) == 1 and "第 2 行" in problems[0] and "村民小组" in problems[0]


@pytest.mark.parametrize("raw", ["a\x01b", "a\x00b", "a\ud800b"])
def test_a_roster_xlsx_with_characters_xml_cannot_hold_is_refused_not_a_500(app, login_as, raw):
    data = _xlsx([["01-001", "PLACEHOLDER", "一社"]], raw={"PLACEHOLDER": raw})
    response = login_as("chair").post(
        "/households/import",
        data={"file": (io.BytesIO(data), "名册.xlsx")},
        content_type="multipart/form-data",
    )
    assert 400 <= response.status_code < 500
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


# --- query parameters and paths --------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["%00", "a%01b", "%0B", "%C2%85", "x" * 1001])
def test_a_bad_query_parameter_is_refused_naming_it(login_as, raw):
    chair = login_as("chair")
    page = chair.get(f"/households/?q={raw}")
    assert page.status_code == 422 and "查找：" in page.get_data(
        as_text=True
    )  # the field, as the page names it
    api = chair.get(f"/households/?group={raw}", headers={"Accept": "application/json"})
    assert api.status_code == 422


def test_a_bad_query_parameter_in_the_api_is_invalid_text(client, api_token):
    response = client.get("/api/v1/households?q=%00", headers={"Authorization": f"Bearer {api_token()}"})
    assert response.status_code == 422
    assert response.get_json()["error"] == response.get_json()["error"] | {
        "code": "invalid_text",
        "field": "q",
    }


def test_surrogate_bytes_in_a_query_are_decoded_harmlessly(login_as):
    assert login_as("chair").get("/households/?q=%ED%A0%80").status_code == 200


def test_a_nul_in_a_county_path_is_a_404(county_app):
    from pointsmart.auth.services import create_user

    with county_app.app_context():
        create_user(db.session, "reviewer", "county_admin", PASSWORD, "县管理员")
        db.session.commit()
    client = county_app.test_client()
    client.post("/login", data={"username": "reviewer", "password": PASSWORD})
    assert client.get("/county/villages/%00").status_code == 404
    assert client.get("/county/villages/%01/export/households.xlsx").status_code == 404
    assert client.get("/county/?q=%00").status_code == 422


# --- sync records at the county --------------------------------------------------------------------


def _batch(records: list[dict]) -> bytes:
    digest = ""
    for record in records:
        digest = wire.chain(digest, wire.canonical(record))
    body = {
        "village_code": VILLAGE_CODE,
        "from_seq": 1,
        "to_seq": len(records),
        "records": records,
        "totals": {"balance_sum": 0, "transfer_count": 0, "digest": digest},
    }
    return json.dumps(body).encode()


def _household_record(seq: int, uuid: str, head_name: str) -> dict:
    payload = {"household_no": f"01-{seq:03d}", "head_name": head_name, "group": "一社", "members": None,
               "active": True, "created_at": "2026-11-01T08:00:00"}  # fmt: skip
    return {"seq": seq, "kind": "household", "uuid": uuid, "payload": payload}


UUID = "5b0f4d7e-3c1b-4f7e-9a3e-1f2d3c4b5a69"


@pytest.mark.parametrize("bad_uuid", ["a\x00b", "a\x01b", "\x85"])
def test_a_sync_record_whose_identifier_breaks_the_rule_is_refused(county_app, bad_uuid):
    key = register(county_app)
    response = post(county_app.test_client(), key, _batch([_household_record(1, bad_uuid, "王兰")]))
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_record"


def test_a_sync_record_too_long_is_refused(county_app):
    key = register(county_app)
    response = post(county_app.test_client(), key, _batch([_household_record(1, UUID, "字" * 41)]))
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_record"
    assert "head_name" in response.get_json()["error"]["message"]


def test_a_lone_surrogate_in_a_sync_record_is_refused(county_app):
    key = register(county_app)
    body = _batch([_household_record(1, UUID, "PLACEHOLDER")]).replace(b"PLACEHOLDER", b"\\ud800")
    response = post(county_app.test_client(), key, body)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_batch"


@pytest.mark.parametrize("name", ["王\x00兰", "王\x0b兰\x01", "\x00\ufffe\uffff", "王\x85兰"])
def test_a_sync_record_holding_old_control_text_is_stored_faithfully(county_app, name):
    """Text an older village accepted is the village's history: the county takes it as sent."""
    from pointsmart.county.models import SyncedHousehold

    key = register(county_app)
    response = post(county_app.test_client(), key, _batch([_household_record(1, UUID, name)]))
    assert response.status_code == 200, response.get_json()
    with county_app.app_context():
        assert db.session.scalar(sa.select(SyncedHousehold.head_name)) == name
        raw = db.session.execute(sa.text("SELECT head_name FROM synced_household")).scalar()
        assert "\x00" not in raw and text.from_stored(raw) == name


@pytest.mark.parametrize("reason", ["旧\x00原因", "\ufffe\uffff0", "王\x85\x0b"])
def test_a_transfer_reason_holding_old_text_is_copied_faithfully(county_app, reason):
    """Transfers go by ``COPY`` on PostgreSQL, past the column types: the stored form applies there too."""
    from pointsmart.county.models import SyncedTransfer

    key = register(county_app)
    payload = {"from": "issuance", "to": f"household:{UUID}", "amount": 5, "kind": "adjustment",
               "reason": reason, "reverses": None, "category": None,
               "created_at": "2026-11-02T08:00:00"}  # fmt: skip
    transfer = {"seq": 2, "kind": "transfer", "uuid": UUID[:-1] + "0", "payload": payload}
    records = [_household_record(1, UUID, "王兰"), transfer]
    body = json.loads(_batch(records))
    body["totals"] |= {"balance_sum": 5, "transfer_count": 1}
    response = post(county_app.test_client(), key, json.dumps(body).encode())
    assert response.status_code == 200, response.get_json()
    with county_app.app_context():
        assert db.session.scalar(sa.select(SyncedTransfer.reason)) == reason
        raw = db.session.execute(sa.text("SELECT reason FROM synced_transfer")).scalar()
        assert "\x00" not in raw and text.from_stored(raw) == reason


# --- data stored before the rule still flows --------------------------------------------------------

OLD_NAME = "王\x0b秀\x01兰"
LOG_NAME = "李\x00秀\x0b英"


def _old_village_rows(app, make_user, make_household) -> dict:
    """A village month, then text only an older version could have written, straight into the tables."""
    ids = workload(app, make_user, make_household)
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE household SET head_name = :n, address = :a WHERE uuid = :u"),
            {"n": OLD_NAME, "a": "一社\x0c12号", "u": ids["households"][0]},
        )
        db.session.commit()
    return ids


def _cells(data: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row]


def test_exports_of_stored_control_characters_show_them_as_escapes(app, make_user, make_household, login_as):
    _old_village_rows(app, make_user, make_household)
    chair = login_as("chair")
    exports = {
        "households": chair.get("/households/export.xlsx"),
        "register": chair.get("/ledgers/register.xlsx?year=2026"),
    }
    with app.app_context():
        from pointsmart.scoring.models import ScoringRound

        round_id = db.session.scalar(sa.select(ScoringRound.id))
    exports["scores"] = chair.get(f"/ledgers/rounds/{round_id}/scores.xlsx")
    exports["results"] = chair.get(f"/ledgers/rounds/{round_id}/results.xlsx")
    for name, response in exports.items():
        assert response.status_code == 200, name
        assert "王\\x0b秀\\x01兰" in _cells(response.data), name


def test_pages_and_prints_of_stored_control_characters_answer(app, make_user, make_household, login_as):
    _old_village_rows(app, make_user, make_household)
    chair = login_as("chair")
    with app.app_context():
        from pointsmart.scoring.models import ScoringRound

        round_id = db.session.scalar(sa.select(ScoringRound.id))
        hid = db.session.scalar(sa.select(Household.id).where(Household.head_name == OLD_NAME))
    for url in (
        "/households/",
        f"/households/{hid}",
        "/ledgers/register?year=2026",
        f"/ledgers/rounds/{round_id}/scores",
        "/cards",
        "/cards/sheet",
    ):
        response = chair.get(url)
        assert response.status_code == 200, url
    page = chair.get(f"/households/{hid}").get_data(as_text=True)
    assert "王\\x0b秀\\x01兰" in page and OLD_NAME not in page  # shown, as in the exports


# --- a village whose change log already holds NUL ---------------------------------------------------


@pytest.fixture
def old_village(database, app, make_user, make_household, tmp_path, monkeypatch):
    """A SQLite village (the only kind that can hold NUL) with a month of work and an adjustment whose
    reason holds NUL, posted straight to the ledger the way the version before the rule did."""
    from pointsmart import create_app
    from pointsmart.households.services import get_household
    from pointsmart.ledger import services as ledger
    from pointsmart.ledger.models import AccountKind, TransferKind

    from .conftest import _migrate

    village = app
    if database[0] != "sqlite":
        url = f"sqlite:///{tmp_path / 'old-village.sqlite3'}"
        _migrate(url, str(tmp_path / "old-instance"))
        monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "old-instance"))
        village = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "WTF_CSRF_ENABLED": False})
        with village.app_context():
            from pointsmart.org.services import ensure_village

            ensure_village(db.session, VILLAGE_CODE, "测试村", township_name="测试镇", county_name="测试县")
            db.session.commit()
    with village.app_context():
        if village is app:
            _old_village_rows(app, make_user, make_household)
            household = db.session.scalar(sa.select(Household).where(Household.head_name == OLD_NAME))
        else:  # a small village of its own: the shared factories write to the PostgreSQL one
            from pointsmart.households.services import create_household
            from pointsmart.org.services import home_village

            data = {"household_no": "01-001", "head_name": "王兰", "group": "一社"}
            household = create_household(db.session, home_village(db.session).id, data, None)
            db.session.execute(sa.text("UPDATE household SET head_name = :n"), {"n": OLD_NAME})
            db.session.commit()
        household = get_household(db.session, household.id)
        household.head_name = LOG_NAME  # through the ORM, past the rule: the change log records it
        db.session.flush()
        issuance = ledger.system_account(db.session, AccountKind.ISSUANCE)
        ledger.post(db.session, issuance, household.account, 7, TransferKind.ADJUSTMENT, "旧\x00原因\x01")
        db.session.commit()
    yield village
    if village is not app:
        with village.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_log_holding_nul_pushes_to_the_end_with_equal_totals(old_village, county_app):
    key = register(county_app)
    acked = push_all(old_village, county_app.test_client(), key, size=7)
    totals = village_totals(old_village)
    assert acked == totals["seq"] and county_totals(county_app) == totals
    with county_app.app_context():
        from pointsmart.county.models import SyncedHousehold, SyncedTransfer

        assert (
            db.session.scalar(sa.select(SyncedTransfer.reason).where(SyncedTransfer.amount == 7))
            == "旧\x00原因\x01"
        )
        assert LOG_NAME in db.session.scalars(sa.select(SyncedHousehold.head_name)).all()


def test_a_log_holding_nul_imports_as_a_bundle_with_equal_totals(old_village, county_app):
    from pointsmart.county.bundles import import_bundle
    from pointsmart.org.services import home_village
    from pointsmart.sync.bundle import export_bundle

    key = register(county_app)
    out = io.BytesIO()
    with old_village.app_context():
        export_bundle(db.session, home_village(db.session).code, key, out)
        db.session.rollback()
    with county_app.app_context():
        report = import_bundle(db.session, io.BytesIO(out.getvalue()))
        db.session.commit()
    totals = village_totals(old_village)
    assert report.applied == totals["seq"] and county_totals(county_app) == totals


def test_a_batch_the_county_cannot_store_is_a_4xx_the_chair_is_shown(old_village, county_app, monkeypatch):
    """Should a value still not fit (here: a column made too narrow), the county answers 422 with a
    code, the push stops with the county's message, and the 同步 page shows it — no 500, no retry loop."""
    from pointsmart.county.projection import BatchWriter
    from pointsmart.sync.client import PushError, push

    key = register(county_app)

    def refuse(*args, **kwargs):
        raise sa.exc.DataError("INSERT", {}, Exception("value too long for type character varying(40)"))

    monkeypatch.setattr(BatchWriter, "things", refuse)
    body = batch_bodies(old_village, 1, size=50)[0]
    response = post(county_app.test_client(), key, body)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "record_not_stored"

    class CountyTransport:
        def __init__(self):
            self.client = county_app.test_client()

        def post(self, url, content, headers):
            import httpx

            answer = self.client.post("/api/v1/sync/batches", data=content, headers=headers)
            return httpx.Response(
                answer.status_code, content=answer.data, headers={"Content-Type": "application/json"}
            )

        def close(self):
            pass

    with old_village.app_context():
        with pytest.raises(PushError) as caught:
            push(db.session, "http://county.test", key, client=CountyTransport(), sleep=lambda s: None)
        assert "存不下" in caught.value.message
    from pointsmart.auth.services import create_user
    from pointsmart.org.services import home_village

    with old_village.app_context():
        create_user(db.session, "chairx", "chair", PASSWORD, "主席", village_id=home_village(db.session).id)
        db.session.commit()
    chair = old_village.test_client()
    chair.post("/login", data={"username": "chairx", "password": PASSWORD})
    assert "存不下" in chair.get("/sync/").get_data(as_text=True)


def test_an_idempotency_key_with_a_control_character_is_refused(app, client, api_token, make_household):
    hid = make_household()
    with app.app_context():
        uuid = db.session.get(Household, hid).uuid
    response = client.post(
        f"/api/v1/households/{uuid}/adjustments",
        headers={"Authorization": f"Bearer {api_token('chair')}", "Idempotency-Key": "k\x01"},
        json={"points": 5, "reason": "好"},
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_text"


def test_a_photo_whose_file_name_holds_control_characters_is_kept_printable(
    app, make_user, make_household, login_as
):
    from PIL import Image

    from pointsmart.scoring.models import NoticePhoto, ScoringRound

    workload(app, make_user, make_household)
    with app.app_context():
        round_id = db.session.scalar(sa.select(ScoringRound.id))
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(png, "PNG")
    response = login_as("chair").post(
        f"/ledgers/rounds/{round_id}/photos",
        data={"photo": (io.BytesIO(png.getvalue()), "公示\x00栏\x01.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(NoticePhoto.original_name)) == "公示\\x00栏\\x01.png"


def test_a_user_display_name_meets_the_rule_from_any_caller(ctx, village_id):
    """The user form has the rule; the CLI reaches the same service, which holds it too."""
    from pointsmart.auth.services import create_user

    with pytest.raises(text.BadText) as caught:
        create_user(ctx, "wang", "chair", PASSWORD, "王\x00兰", village_id=village_id)
    assert caught.value.extra["field"] == "display_name"


def test_a_village_registered_at_the_county_meets_the_rule(county_app):
    from pointsmart.county.services import add_village

    village, township = "620123999001", "620123999000"  # a township no other test registers
    with county_app.app_context():
        with pytest.raises(text.BadText) as caught:
            add_village(db.session, village, "测试\x00村", township, township_name="测试镇")
        assert caught.value.extra["field"] == "name"
        with pytest.raises(text.BadText) as caught:
            add_village(db.session, village, "测试村", township, township_name="镇\x85区")
        assert caught.value.extra["field"] == "township_name"


# --- invisible format characters ------------------------------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200e", "\u200f", "\u00ad", "\u2060", "\u2063", "\ufeff"]


@pytest.mark.parametrize("char", [*INVISIBLE, "\u200d"])
def test_an_invisible_format_character_is_refused_in_a_single_line_field_naming_it(char):
    with pytest.raises(text.BadText) as caught:
        text.checked(f"毛{char}巾", "name", "商品名称")
    assert "商品名称" in caught.value.message and text.codepoint(char) in caught.value.message


@pytest.mark.parametrize("char", INVISIBLE)
def test_an_invisible_format_character_is_refused_in_a_multi_line_field(char):
    assert text.problem(f"第一条\r\n第{char}二条", multiline=True) is not None


def test_a_multi_line_field_keeps_an_emoji_sequence_joined_by_zwj():
    assert text.problem("全家福 \U0001f468\u200d\U0001f469\u200d\U0001f467", multiline=True) is None


def test_the_api_patterns_refuse_the_invisible_characters_too():
    for char in INVISIBLE:
        assert not re.match(text.SINGLE_LINE_PATTERN, f"a{char}b")
        assert not re.match(text.MULTI_LINE_PATTERN, f"a{char}b")
    assert not re.match(text.SINGLE_LINE_PATTERN, "a\u200db")
    assert re.match(text.MULTI_LINE_PATTERN, "a\u200db")


def test_visible_escapes_bidi_controls_and_invisible_characters_stored_before_the_rule():
    assert text.visible("王\u202e兰\u2066") == "王\\u202e兰\\u2066"
    assert text.visible("毛\u200b巾\u00ad\ufeff") == "毛\\u200b巾\\xad\\ufeff"
    assert text.visible("\U0001f468\u200d\U0001f469") == "\U0001f468\u200d\U0001f469"


def test_a_twin_goods_name_with_a_zero_width_space_is_refused_by_the_household_form(app, login_as):
    chair = login_as("chair")
    page = chair.post("/households/new", data=_household_form(head_name="张\u200b三"))
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert "户主姓名" in body and "U+200B" in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_the_visible_filter_escapes_a_stored_bidi_override(app):
    with app.test_request_context():
        rendered = app.jinja_env.from_string("{{ name|visible }}").render(name="王\u202e兰")
    assert rendered == "王\\u202e兰"
