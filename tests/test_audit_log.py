"""The audit log reads as sentences, names people and households, and filters by person, household,
kind and date — and every action code the package writes has its sentence."""

import ast
import io
import re
from datetime import timedelta
from functools import cache
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

import pointsmart
from pointsmart import clock
from pointsmart.audit.models import AuditEntry
from pointsmart.audit.sentences import FAMILIES, KINDS, SENTENCES
from pointsmart.audit.services import record
from pointsmart.auth.models import User
from pointsmart.cards.services import issue_card
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.periods import local_day

from .conftest import committing

ROOT = Path(pointsmart.__file__).parent


# --- every code has a sentence ------------------------------------------------------------------------


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


@cache
def _package_trees() -> tuple[ast.Module, ...]:
    return tuple(
        ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations" not in path.parts
    )


def _codes_of(arg: ast.AST, tree: ast.Module, function: ast.FunctionDef | None) -> list[str]:
    """The action codes an argument of ``record(...)`` can hold: a string, either branch of ``a if c
    else b``, an f-string (its literal start, ending in a dot, as a family), or a parameter of the
    enclosing function (the strings its callers anywhere in the package pass for it)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        return _codes_of(arg.body, tree, function) + _codes_of(arg.orelse, tree, function)
    if isinstance(arg, ast.JoinedStr):
        head = arg.values[0]
        assert isinstance(head, ast.Constant), ast.unparse(arg)
        return [head.value + "*"]
    if isinstance(arg, ast.Name) and function is not None:
        params = [a.arg for a in function.args.args]
        assert arg.id in params, f"record() is given {arg.id}, which is not a parameter of {function.name}"
        index = params.index(arg.id)
        found = []
        calls = (node for module in _package_trees() for node in ast.walk(module))
        for call in calls:
            if isinstance(call, ast.Call) and _called(call) == function.name:
                passed = [k.value for k in call.keywords if k.arg == arg.id]
                passed += call.args[index : index + 1]
                for value in passed:
                    found += _codes_of(value, tree, None)
        assert found, f"no caller of {function.name} passes {arg.id}"
        return found
    raise AssertionError(f"an audit action the test cannot read: {ast.unparse(arg)}")


def audit_codes() -> dict[str, str]:
    """Every action code written by ``record(session, action, …)`` in the package → ``file:line``."""
    codes = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for function in [None, *functions]:
            body = tree if function is None else function
            for node in ast.walk(body):
                if not (isinstance(node, ast.Call) and _called(node) == "record") or len(node.args) < 2:
                    continue
                owner = min(
                    (f for f in functions if f.lineno <= node.lineno <= f.end_lineno),
                    key=lambda f: f.end_lineno - f.lineno,
                    default=None,
                )
                if owner is not function:
                    continue
                for code in _codes_of(node.args[1], tree, owner):
                    codes[code] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return codes


def test_the_scan_finds_the_audit_calls():
    codes = audit_codes()
    assert {"ledger.adjustment", "auth.user.disabled", "scoring.score.corrected", "shop.stock.*"} <= set(
        codes
    )
    assert len(codes) > 40


def test_every_audit_code_in_the_package_has_a_sentence():
    missing = []
    for code, place in audit_codes().items():
        if code.endswith("*"):
            if code[:-1] not in FAMILIES:
                missing.append(f"{code} ({place}): no family sentence for codes built at run time")
        elif code not in SENTENCES:
            missing.append(f"{code} ({place})")
    assert not missing, "audit actions without a sentence in pointsmart/audit/sentences.py:\n" + "\n".join(
        missing
    )


def test_every_sentence_belongs_to_a_kind_the_filter_offers():
    homeless = [code for code in SENTENCES if not any(k.holds(code) for k in KINDS)]
    assert not homeless


# --- the page ------------------------------------------------------------------------------------------


def _user(app, user_id, display_name):
    with committing(app) as session:
        session.get(User, user_id).display_name = display_name


def test_an_adjustment_reads_as_a_sentence_with_names_and_no_codes(app, login_as, make_household):
    chair = login_as("chair")
    _user(app, chair.user_id, "王秀兰")
    household_id = make_household(household_no="06-001", head_name="陈玉兰")
    with committing(app) as session:
        adjust_points(session, session.get(Household, household_id), 20, "义务打扫村道", chair.user_id)
    page = chair.get("/audit/").get_data(as_text=True)
    assert "王秀兰 给 06-001 陈玉兰 加 20 分（义务打扫村道）" in page
    assert "ledger.adjustment" not in page and "balance_after" not in page
    assert not re.search(r"\b[a-z]+\.[a-z_]+\.[a-z_]+\b", _text(page)), "a dotted code on the page"
    assert "{" not in _text(page), "JSON on the page"


def _text(page: str) -> str:
    """The page's visible text (no tags, no attributes)."""
    body = page.split("<main", 1)[1]
    return re.sub(r"<[^>]+>", " ", body)


def test_a_deduction_and_a_disabled_user_read_as_sentences(app, login_as, make_user, make_household):
    chair = login_as("chair")
    _user(app, chair.user_id, "王秀兰")
    household_id = make_household(household_no="02-007", head_name="李桂英", points=50)
    other_id, _name = make_user("panel")
    _user(app, other_id, "赵敏")
    with committing(app) as session:
        adjust_points(session, session.get(Household, household_id), -10, "乱倒垃圾", chair.user_id)
    chair.post(f"/users/{other_id}/active")
    page = chair.get("/audit/").get_data(as_text=True)
    assert "王秀兰 给 02-007 李桂英 扣 10 分（乱倒垃圾）" in page
    assert "王秀兰 停用了用户 赵敏" in page


def test_a_code_without_a_sentence_still_reads_as_words(app, login_as):
    chair = login_as("chair")
    with committing(app) as session:
        record(session, "settings.something_new", chair.user_id, None, secret_field="x")
    text = _text(chair.get("/audit/").get_data(as_text=True))
    assert "settings.something_new" not in text and "secret_field" not in text
    assert "做了一项操作（设置、备份与同步）" in text


def test_every_sentence_renders_for_the_data_its_code_writes(app, login_as, make_household):
    """A page of entries of every code, with the data the code's call writes, renders without a 500."""
    chair = login_as("chair")
    make_household(household_no="06-001", head_name="陈玉兰")
    with committing(app) as session:
        for code in SENTENCES:
            record(
                session,
                code,
                chair.user_id,
                None,
                household="06-001",
                points=5,
                reason="测试",
                old={"name": "甲"},
                new={"name": "乙"},
            )
    for page_no in (1, 2):
        response = chair.get(f"/audit/?page={page_no}")
        assert response.status_code == 200
        assert "%(" not in response.get_data(as_text=True)


# --- filters -------------------------------------------------------------------------------------------


def _some_history(app, chair_id, other_id, households):
    with committing(app) as session:
        first, second = (session.get(Household, h) for h in households)
        adjust_points(session, first, 5, "门前三包", chair_id)
        adjust_points(session, second, 7, "孝老爱亲", other_id)
        record(session, "cards.card.revoked", other_id, None, number="000009", reason="丢了")


def test_the_filters_narrow_by_person_household_and_kind(app, login_as, make_user, make_household):
    chair = login_as("chair")
    other_id, _name = make_user("chair")
    _user(app, other_id, "赵敏")
    households = [
        make_household(household_no="01-001", head_name="张三"),
        make_household(household_no="01-002", head_name="李四"),
    ]
    _some_history(app, chair.user_id, other_id, households)

    by_person = _text(chair.get(f"/audit/?person={other_id}").get_data(as_text=True))
    assert "孝老爱亲" in by_person and "门前三包" not in by_person and "丢了" in by_person

    by_household = _text(chair.get("/audit/?household=李").get_data(as_text=True))  # part of the name
    assert "孝老爱亲" in by_household and "门前三包" not in by_household
    by_number = _text(chair.get("/audit/?household=01-001").get_data(as_text=True))
    assert "门前三包" in by_number and "孝老爱亲" not in by_number

    by_kind = _text(chair.get("/audit/?kind=cards").get_data(as_text=True))
    assert "丢了" in by_kind and "门前三包" not in by_kind
    page = chair.get("/audit/").get_data(as_text=True)
    assert '<option value="cards"' in page and "积分卡</option>" in page  # a human name, not a code


def test_the_date_range_is_in_the_villages_days(app, login_as, make_household):
    chair = login_as("chair")
    household_id = make_household()
    clock.advance(timedelta(days=-10))
    try:
        with committing(app) as session:
            adjust_points(session, session.get(Household, household_id), 3, "十天前", chair.user_id)
    finally:
        clock.reset()
    with committing(app) as session:
        adjust_points(session, session.get(Household, household_id), 4, "今天的", chair.user_id)
        today = db.session.scalar(sa.select(sa.func.max(AuditEntry.at)))
    day = local_day(today).isoformat()
    text = _text(chair.get(f"/audit/?start={day}&end={day}").get_data(as_text=True))
    assert "今天的" in text and "十天前" not in text
    before = (local_day(today) - timedelta(days=5)).isoformat()
    text = _text(chair.get(f"/audit/?end={before}").get_data(as_text=True))
    assert "十天前" in text and "今天的" not in text


def test_a_bad_filter_is_a_400_naming_the_field(login_as):
    chair = login_as("chair")
    response = chair.get("/audit/?start=yesterday&kind=ledger.adjustment")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "从：" in text and "类别：没有这一类" in text


@pytest.mark.parametrize("person", ["9223372036854775808", "9" * 30, "²", "１", "-1", "0"])
@pytest.mark.parametrize("path", ["/audit/", "/audit/export"])
def test_a_person_that_is_no_user_id_is_a_400_not_a_crash(login_as, path, person):
    response = login_as("chair").get(path, query_string={"person": person})
    assert response.status_code == 400
    assert "操作人：没有这个用户" in response.get_data(as_text=True)


def test_paging_keeps_the_filters(app, login_as, make_household):
    chair = login_as("chair")
    household_id = make_household(household_no="05-005")
    with committing(app) as session:
        household = session.get(Household, household_id)
        for n in range(app.config["POINTSMART_PAGE_SIZE"] * 2 + 3):
            adjust_points(session, household, 1, f"第{n}次", chair.user_id)
    page = chair.get("/audit/?kind=points&household=05-005").get_data(as_text=True)
    assert "kind=points" in page and "household=05-005" in page and "page=2" in page


def test_only_the_chair_reads_the_log(login_as):
    for role in ("panel", "shopkeeper"):
        assert login_as(role).get("/audit/").status_code in (302, 403)


def test_the_export_keeps_the_raw_detail_the_page_never_shows(app, login_as, make_household):
    chair = login_as("chair")
    _user(app, chair.user_id, "王秀兰")
    household_id = make_household(household_no="06-001", head_name="陈玉兰")
    with committing(app) as session:
        adjust_points(session, session.get(Household, household_id), 20, "义务打扫村道", chair.user_id)
        record(session, "cards.card.revoked", chair.user_id, None, number="000009", reason="丢了\x01")
    response = chair.get("/audit/export?kind=points")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    text = "\n".join(" ".join(str(c) for c in row if c is not None) for row in rows)
    assert "王秀兰 给 06-001 陈玉兰 加 20 分（义务打扫村道）" in text
    assert "ledger.adjustment" in text and '"balance_after"' in text, "the raw code and data are kept here"
    assert "丢了" not in text, "the filter applies to the export"
    # a control character stored before the text rule is shown, not a reason for the export to fail
    everything = openpyxl.load_workbook(io.BytesIO(chair.get("/audit/export").data)).active
    assert any("丢了\\x01" in str(c) for row in everything.iter_rows(values_only=True) for c in row)
    assert chair.get("/audit/export?start=never").status_code == 400


def test_a_refused_redemption_names_the_household_of_the_card(app, login_as, make_household):
    chair = login_as("chair")
    _user(app, chair.user_id, "李春梅")
    household_id = make_household(household_no="01-003", head_name="金兴旺")
    with committing(app) as session:
        card = issue_card(session, session.get(Household, household_id), chair.user_id)
        record(
            session,
            "shop.redemption.refused",
            chair.user_id,
            None,
            code="insufficient_points",
            card=card.number,
        )
        number = card.number
    text = _text(chair.get("/audit/?kind=redemptions").get_data(as_text=True))
    assert f"李春梅 在柜台给 01-003 金兴旺 兑换被拒绝（卡号 {number}）：积分不够" in text
