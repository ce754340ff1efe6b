"""Every whole-number field of every form reads digits the one way (:class:`pointsmart.forms.IntegerField`).

Before: ``int()`` read whatever was posted — "1_2" as 12, "١٢" (Arabic-Indic) as 12 — and a number of
309 digits or more went on to NumberRange, whose ``math.isnan`` turned it into a float: OverflowError,
a 500 (``POST /settings/points-rule`` with 309 nines; the backup days; the county's thresholds). Now a
number too long for any field is refused by the field's range, anything but digits (ASCII or full-width)
with an optional leading minus is refused as no number, each in one message naming the field.
"""

import html
import re

import pytest
import sqlalchemy as sa
import wtforms

from pointsmart import forms as project_forms
from pointsmart.county import anomalies
from pointsmart.errors import Invalid
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.ledger.models import Transfer
from pointsmart.scoring import criteria
from pointsmart.scoring.models import Category
from pointsmart.settings.models import PointsRule
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, StockMove

from .conftest import committing
from .test_county_dashboard import county_user, login
from .test_settings import _banners, _marked, settings_form

HUGE = "9" * 400
#: what Python's int() reads and a person did not type as a number
NOT_NUMBERS = ["1_2", "\u0661\u0662", "1.5", "1e3", "+7", "1 2", "0x1f", "--1"]


@pytest.fixture
def village_things(app, village_id, make_household):
    """A household, a category with one criterion, a goods item: the pages whose forms hold numbers."""
    household = make_household()
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        criterion = criteria.save_criterion(
            session, category, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None
        )
        goods = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 30}, None)
        return {"household": household, "category": category.id, "criterion": criterion.id, "goods": goods.id}


HOUSEHOLD = {"household_no": "09-900", "head_name": "王五", "group": "一社", "members": "3"}
CRITERION = {
    "name": "庭院整洁",
    "description": "",
    "points": "5",
    "cadence": "monthly",
    "max_per_period": "1",
}
GOODS = {"name": "毛巾", "spec": "条", "price": "10", "low_stock": "0", "position": "0", "active": "y"}

#: (url, the form's other fields, the field, its label) — one row per whole-number field of a village form
VILLAGE_FIELDS = [
    # PostgreSQL's settings page has no backup days (it says to use pg_dump)
    pytest.param(
        "/settings/", settings_form(), "backup_keep_days", "备份保留天数", marks=pytest.mark.sqlite_only
    ),
    ("/settings/points-rule", {"rule": "months"}, "months", "有效月数"),
    ("/households/new", HOUSEHOLD, "members", "家庭人口"),
    ("/households/{household}/edit", HOUSEHOLD, "members", "家庭人口"),
    ("/households/{household}/adjust", {"reason": "测试"}, "points", "积分（扣分填负数）"),
    ("/scoring/rulebook/categories", {"name": "新类别"}, "position", "排序"),
    ("/scoring/rulebook/categories/{category}", {"name": "美丽庭院"}, "position", "排序"),
    ("/scoring/rulebook/categories/{category}/criteria/new", CRITERION, "points", "分值（扣分填负数）"),
    ("/scoring/rulebook/criteria/{criterion}", CRITERION, "max_per_period", "每期最多次数"),
    ("/scoring/rulebook/criteria/{criterion}", CRITERION | {"position": "0"}, "position", "排序"),
    ("/scoring/settings", {"approvals_required": "1", "notice_days": "7"}, "approvals_required",
     "每次评定需要的审核人数"),
    ("/scoring/settings", {"approvals_required": "1", "notice_days": "7"}, "notice_days", "公示天数"),
    ("/shop/goods/new", GOODS, "price", "所需积分"),
    ("/shop/goods/{goods}/edit", GOODS, "low_stock", "库存低于此数时提醒"),
    ("/shop/goods/new", GOODS, "position", "排序"),
    ("/shop/goods/{goods}", {"action": "in", "in-kind": "donation", "in-donor": "张三"}, "in-qty", "数量"),
    ("/shop/goods/{goods}", {"action": "loss", "loss-note": "破损"}, "loss-qty", "数量"),
]  # fmt: skip


def _refusal(client, url: str, data: dict) -> tuple[int, str]:
    """The status of the post and the page that shows the refusal (a redirect's next page)."""
    response = client.post(url, data=data)
    status = response.status_code
    if status in (302, 303):
        response = client.get(response.headers["Location"])
    return status, html.unescape(response.get_data(as_text=True))


def _stored(app) -> tuple:
    with app.app_context():
        return tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (Household, Transfer, PointsRule, Goods, StockMove, Category)
        )


@pytest.mark.parametrize("typed", [HUGE, "-" + HUGE, "1_2"])
@pytest.mark.parametrize(("url", "data", "name", "label"), VILLAGE_FIELDS)
def test_every_whole_number_field_refuses_a_huge_number_or_no_number_naming_the_field(
    app, login_as, village_things, url, data, name, label, typed
):
    client = login_as("chair")
    before = _stored(app)
    status, page = _refusal(client, url.format(**village_things), data | {name: typed})
    assert status in (302, 303) or 400 <= status < 500, status
    # named once as the field that is wrong: marked under the field, or in the banner of a redirect
    assert re.search(rf"{re.escape(label)}：[^<；]+<", page), (url, name, status)
    assert "不是有效的整数" not in page and "Not a valid integer" not in page
    assert _stored(app) == before


def test_a_form_declared_with_wtforms_integerfield_gets_the_project_field(app):
    """One field for all: every whole-number field the package declares reads as ours, and has a range
    with both ends (what refuses a negative where none makes sense, and a number too long)."""
    from pointsmart.forms import FlaskForm

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = 0
    with app.test_request_context():
        for form_class in subclasses(FlaskForm):
            if not form_class.__module__.startswith("pointsmart."):
                continue
            form = form_class(formdata=None)
            for field in form:
                if isinstance(field, wtforms.IntegerField):
                    found += 1
                    assert type(field) is project_forms.IntegerField, (form_class, field.name)
                    ranges = [v for v in field.validators if isinstance(v, wtforms.validators.NumberRange)]
                    assert ranges and ranges[0].min is not None and ranges[0].max is not None, field.name
    assert found >= 16


@pytest.mark.parametrize(
    ("typed", "read"),
    [("12", 12), ("１２", 12), ("-5", -5), ("－５", -5), (" 7 ", 7), ("007", 7), ("", None), ("\u30003", 3)],
)
def test_digits_a_person_types_are_read(app, typed, read):
    class One(project_forms.FlaskForm):
        n = wtforms.IntegerField("数", validators=[wtforms.validators.Optional(),
                                                   wtforms.validators.NumberRange(-100, 100)])  # fmt: skip

    with app.test_request_context(method="POST", data={"n": typed}):
        form = One(meta={"csrf": False})
        assert form.validate(), form.errors
        assert form.n.data == read


@pytest.mark.parametrize("typed", [*NOT_NUMBERS, HUGE, "9" * 19, "-" + HUGE, "9" * 5000])
def test_anything_else_is_one_message(app, typed):
    class One(project_forms.FlaskForm):
        n = wtforms.IntegerField("数", validators=[wtforms.validators.InputRequired(),
                                                   wtforms.validators.NumberRange(-100, 100)])  # fmt: skip

    with app.test_request_context(method="POST", data={"n": typed}):
        form = One(meta={"csrf": False})
        assert not form.validate()
        assert len(form.n.errors) == 1, form.n.errors


def test_a_field_without_a_range_still_refuses_a_number_past_every_bound(app):
    class One(project_forms.FlaskForm):
        n = wtforms.IntegerField("数")

    with app.test_request_context(method="POST", data={"n": HUGE}):
        form = One(meta={"csrf": False})
        assert not form.validate() and len(form.n.errors) == 1


# --- the county's thresholds -----------------------------------------------------------------------


def _thresholds(values: dict) -> dict:
    return {rule.key: str(values.get(rule.key, rule.default)) for rule in anomalies.SETTABLE}


@pytest.mark.parametrize("typed", [HUGE, "1_2", "1.5", "abc", "-1", "１２３４５６"])
@pytest.mark.parametrize("key", [rule.key for rule in anomalies.SETTABLE])
def test_a_threshold_is_refused_with_one_banner_and_one_message_under_it(county_app, key, typed):
    admin = login(county_app, county_user(county_app, "county_admin"))
    response = admin.post("/county/anomalies/thresholds", data=_thresholds({key: typed}))
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    label = str(anomalies.RULE_BY_KEY[key].threshold_label)
    assert _banners(page) == [f"请修改标出的项目：{label}。"]
    marked = _marked(page, key)
    assert len(marked) == 1 and marked[0].startswith(label + "："), marked
    assert "；" not in marked[0]  # before: "不是有效的整数。；必须在 1 到 30 之间"
    assert page.count('class="field has-error"') == 1
    assert 'aria-invalid="true"' in page


def test_all_thresholds_wrong_is_one_banner_naming_each(county_app):
    admin = login(county_app, county_user(county_app, "county_admin"))
    response = admin.post(
        "/county/anomalies/thresholds", data=_thresholds({r.key: "1.5" for r in anomalies.SETTABLE})
    )
    page = html.unescape(response.get_data(as_text=True))
    assert len(_banners(page)) == 1
    for rule in anomalies.SETTABLE:
        assert str(rule.threshold_label) in _banners(page)[0]
        assert _marked(page, rule.key) == [f"{rule.threshold_label}：请填写一个整数"]


@pytest.mark.parametrize(
    ("change", "label"),
    [({"subject": "x" * 10_001}, "核查对象"), ({"village": ""}, "村（社区）"), ({"rule": ""}, "检查项")],
)
def test_a_tampered_hidden_field_of_the_check_form_is_named_in_chinese(county_app, change, label):
    reviewer = login(county_app, county_user(county_app))
    mark = {"rule": "silent", "village": "620123001001", "subject": "", "note": "看过"} | change
    response = reviewer.post(
        "/county/anomalies/check?type=month&key=2026-11", data=mark, follow_redirects=True
    )
    page = html.unescape(response.get_data(as_text=True))
    banners = _banners(page)
    assert any(b.startswith(label + "：") for b in banners), banners
    assert not any(re.match(r"(Subject|Village|Rule)：", b) for b in banners), banners


# --- the year-end rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["keep", "year_end"])
@pytest.mark.parametrize("months", ["1.5", HUGE, "0", "abc"])
def test_the_months_are_ignored_unless_the_rule_is_n_months(app, login_as, rule, months):
    """After "1.5" was refused, choosing 每年年底清零 or 一直有效 saves: the field still holds the junk."""
    chair = login_as("chair")
    refused = chair.post("/settings/points-rule", data={"rule": "months", "months": months})
    assert refused.status_code == 422
    saved = chair.post("/settings/points-rule", data={"rule": rule, "months": months})
    assert saved.status_code == 302, _banners(saved.get_data(as_text=True))
    with app.app_context():
        kinds = db.session.scalars(sa.select(PointsRule.rule)).all()
        months_kept = db.session.scalars(sa.select(PointsRule.months)).all()
    if rule == "year_end":
        assert kinds[-1] == "year_end"
    assert "months" not in kinds
    assert all(m is None for m in months_kept)


def test_the_months_message_is_the_same_from_the_form_and_the_service(app, login_as):
    from pointsmart.settings import expiry
    from pointsmart.settings.models import MAX_RULE_MONTHS

    chair = login_as("chair")
    page = html.unescape(
        chair.post("/settings/points-rule", data={"rule": "months", "months": "0"}).get_data(as_text=True)
    )
    with app.test_request_context(), pytest.raises(Invalid) as service:
        expiry.clean_rule("months", 0)
    assert _marked(page, "months") == [service.value.message]
    assert service.value.message == f"有效月数：请填 1 到 {MAX_RULE_MONTHS} 之间的月数。"
