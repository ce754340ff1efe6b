"""What a hostile tester found after the text rule and the bounded ids landed: each is a 4xx or a form
error now, never a 500, and nothing is stored that could later stop the village's sync."""

import gzip
import io

import pytest
import sqlalchemy as sa

from pointsmart import text
from pointsmart.cli.serve import server_options
from pointsmart.extensions import db
from pointsmart.scoring import criteria
from pointsmart.scoring.models import Objection, PanelMember, ScoringRound

from .conftest import committing
from .test_routes import sample  # noqa: F401  (a fixture)

HUGE = "99999999999999999999999"


@pytest.fixture
def monthly_rules(app, village_id):
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        criteria.save_criterion(
            session, category, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None
        )


def _rounds(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ScoringRound.scope)))


@pytest.mark.parametrize("scope", ["a\x00b", "a\x01b", "x" * 5000, "x" * 41])
def test_a_round_scope_meets_the_text_rule_and_the_countys_length(
    app, login_as, make_household, monthly_rules, scope
):
    make_household(group="一社")
    chair = login_as("chair")
    data = {"period_type": "monthly", "period_key": "2026-12", "scope": scope}
    page = chair.post("/scoring/rounds", data=data, follow_redirects=True)
    assert page.status_code == 422
    assert "范围：" in page.get_data(as_text=True)
    assert _rounds(app) == []  # nothing stored, nothing in the change log to stop a push
    chair.post("/scoring/rounds", data=data | {"scope": "一社"})
    assert _rounds(app) == ["一社"]


@pytest.mark.parametrize("groups", [["a\x00b"], ["一社", "x" * 41], ["一社\x0b"]])
def test_a_panel_members_groups_meet_the_text_rule(app, login_as, make_user, make_household, groups):
    make_household(group="一社")
    member_id, _name = make_user("panel")
    chair = login_as("chair")
    page = chair.post("/scoring/panel", data={"user_id": member_id, "label": "", "groups": groups})
    assert page.status_code in (200, 302)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PanelMember.id))) == 0
    chair.post("/scoring/panel", data={"user_id": member_id, "label": "", "groups": ["一社"]})
    with app.app_context():
        assert db.session.scalar(sa.select(PanelMember.groups)) == "一社"


@pytest.mark.parametrize("user_id", [HUGE, "-1", "0", "1e3", "１"])
def test_a_panel_form_with_an_impossible_user_is_a_form_error(app, login_as, user_id):
    chair = login_as("chair")
    page = chair.post("/scoring/panel", data={"user_id": user_id, "label": "", "groups": []})
    assert page.status_code in (200, 302)  # a form error on the panel page; the 5xx guard fails a 500
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PanelMember.id))) == 0


def test_an_objection_for_an_impossible_household_is_a_form_error(
    app, login_as, make_household, monthly_rules
):
    make_household(group="一社")
    chair = login_as("chair")
    chair.post("/scoring/rounds", data={"period_type": "monthly", "period_key": "2026-12", "scope": ""})
    with app.app_context():
        round_id = db.session.scalar(sa.select(ScoringRound.id))
    data = {"household": HUGE, "objector": "张三", "content": "有异议"}
    page = chair.post(f"/scoring/rounds/{round_id}/objections", data=data)
    assert page.status_code in (200, 302, 409, 422)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Objection.id))) == 0


@pytest.mark.parametrize("token", ["a" * 300, "a" * 5000, "../../etc/passwd", "一二三", ""])
def test_an_import_confirmation_for_a_preview_this_page_never_made_is_400(login_as, token):
    chair = login_as("chair")
    for suffix in (".csv", ".xlsx"):
        assert (
            chair.post("/households/import/confirm", data={"token": token, "suffix": suffix}).status_code
            == 400
        )


@pytest.mark.parametrize("code", ["\u0000", "62012310529\u0000", "6201231052991", "abc", ""])
def test_a_bundle_whose_village_code_is_not_a_code_is_refused_before_the_database(county_app, code):
    from pointsmart.county.bundles import import_bundle
    from pointsmart.sync.bundle import MAGIC, BundleError, wire

    header = wire.canonical(
        {"village_code": code, "from_seq": 1, "to_seq": 1, "records": 1, "created_at": "x"}
    )
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb") as gz:
        gz.write(MAGIC + header + b"\n" + b'{"signature":"00"}\n')
    with county_app.app_context(), pytest.raises(BundleError) as caught:
        import_bundle(db.session, raw)
    assert caught.value.code == "bundle_invalid"


def test_waitress_reads_no_body_larger_than_the_instance_takes(app, county_app):
    """8 MB on both tiers: a county's large bundles come in parts, each one a small body."""
    assert server_options(app)["max_request_body_size"] == app.config["MAX_CONTENT_LENGTH"] == 8 * 1024 * 1024
    assert server_options(county_app)["max_request_body_size"] == county_app.config["MAX_CONTENT_LENGTH"]
    assert county_app.config["POINTSMART_BUNDLE_PART_BYTES"] < county_app.config["MAX_CONTENT_LENGTH"]


@pytest.mark.parametrize("value", ["卡片\x85", "\x1f卡片", "王\u202e英", "\u2066王秀英\u2069"])
def test_invisible_characters_at_the_ends_are_refused_not_trimmed(value):
    with pytest.raises(text.BadText):
        text.checked(value, "reason")
    assert text.checked("\u3000 卡片损坏 \u00a0", "reason") == "卡片损坏"


def test_a_page_past_the_end_says_so_and_links_to_the_last(login_as, make_household):
    make_household()
    chair = login_as("chair")
    page = chair.get("/households/?page=999").get_data(as_text=True)
    assert "没有第 999 页：共 1 页，1 条" in page and "page=1" in page
    assert "第 999 / 1 页" not in page


# --- a file where a form takes text --------------------------------------------------------------------


def _our_forms() -> list[type]:
    import importlib
    import pkgutil

    import flask_wtf

    import pointsmart

    for module in pkgutil.walk_packages(pointsmart.__path__, "pointsmart."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return [c for c in subclasses(flask_wtf.FlaskForm) if c.__module__.startswith("pointsmart.")]


def _text_fields(form_class) -> list[str]:
    import wtforms

    return [
        name
        for name, unbound in vars(form_class).items()
        if isinstance(unbound, wtforms.fields.core.UnboundField)
        and not issubclass(unbound.field_class, wtforms.FileField)
    ] + [name for base in form_class.__bases__ if base.__module__.startswith("pointsmart.")
         for name in _text_fields(base)]  # fmt: skip


def test_every_forms_text_field_refuses_a_file_naming_the_field(app):
    """Every field of every form that takes text (a note, a reason, a name, a date, a number, a choice)
    refuses a file part posted under its name: one 422 naming the field, before any validator reads it."""
    from pointsmart.errors import Invalid

    checked = 0
    for form_class in _our_forms():
        for name in _text_fields(form_class):
            data = {name: (io.BytesIO(b"\x89PNG not text"), "x.png")}
            with app.test_request_context("/", method="POST", data=data), pytest.raises(Invalid) as refused:
                form_class()
            assert refused.value.status == 422 and refused.value.code == "file_in_text_field"
            assert refused.value.extra["field"] == name, (form_class, name)
            checked += 1
    assert checked > 40


def _every_text_field_as_a_file() -> dict:
    names = {name for form_class in _our_forms() for name in _text_fields(form_class)}
    return {name: (io.BytesIO(b"not text"), "note.txt") for name in names}


def test_a_file_in_a_text_field_is_a_422_on_every_post_route(app, login_as, sample):  # noqa: F811
    """The tester's three (the claim form's note, the chair's decline reason, the log-in's user name)
    and every other POST route: a file where the form takes text is a 422 naming the field, never a 500
    (the 5xx guard fails the test on one)."""
    from .test_routes import _rules, _url

    login = app.test_client().post("/login", data={"username": (io.BytesIO(b"x"), "u.txt"), "password": "x"})
    assert login.status_code == 422 and "用户名" in login.get_data(as_text=True)
    claim = app.test_client().post(
        f"/c/{sample['token']}/claims/new",
        data={"criterion_id": str(sample["criterion_id"]), "happened_on": "2026-11-02",
              "note": (io.BytesIO(b"x"), "n.txt")},
    )  # fmt: skip
    assert claim.status_code == 422 and "“说明”要填写文字" in claim.get_data(as_text=True)
    chair = login_as("chair")
    decline = chair.post(
        f"/scoring/claims/{sample['claim_id']}/decline", data={"reason": (io.BytesIO(b"x"), "r.txt")}
    )
    assert decline.status_code == 422 and "不采纳的原因" in decline.get_data(as_text=True)
    posts = [r for r in _rules(app) if "POST" in r.methods and not r.rule.startswith("/api/")]
    assert len(posts) > 30
    answered = {}
    for rule in posts:
        response = chair.post(_url(rule, sample), data=_every_text_field_as_a_file())
        answered[rule.rule] = response.status_code
        assert response.status_code < 500, rule.rule
    refused = [rule for rule, status in answered.items() if status == 422]
    assert len(refused) > 20, answered
