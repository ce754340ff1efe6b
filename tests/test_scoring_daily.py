"""Issue 11 for scoring, without a browser: the submitter may not approve; the round page shows the
real approval state and asks before finalising with the real count; a cell confirmed empty counts
as entered; the objection form's household is searchable; a month is read as villages write it."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.errors import DomainError
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import parse_month, parse_period
from pointsmart.scoring import criteria, panels, services
from pointsmart.scoring.models import Objection, RoundApproval, RoundStatus
from pointsmart.scoring.periods import check_period

from .conftest import PASSWORD, committing


@pytest.fixture
def scene(app, village_id, make_user, make_household):
    """A monthly rulebook (a yes/no award, a counted award, a deduction), three households, and a
    panel of two members and the chair; returns ids and user names."""
    members = [make_user("panel"), make_user("panel"), make_user("chair")]
    homes = [make_household(points=p) for p in (0, 0, 20)]
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        for data in (
            {"name": "庭院整洁", "points": 5, "cadence": "monthly"},
            {"name": "志愿服务", "points": 3, "cadence": "monthly", "max_per_period": 4},
            {"name": "乱堆乱放", "points": -10, "cadence": "monthly"},
        ):
            criteria.save_criterion(session, category, data, None)
        for user_id, _name in members:
            panels.set_panel_member(session, session.get(User, user_id), "执委", [], None)
        found = services.create_round(session, home_village(session), "monthly", "2026-11", "", None)
        round_id = found.id
        tidy, volunteer, mess = (c.id for c in found.criteria)
        scorer = session.get(User, members[0][0])
        for home, cid, times in [(homes[0], tidy, 1), (homes[0], volunteer, 2), (homes[2], mess, 1)]:
            services.set_score(session, found, home, cid, times, scorer)
    return {"round": round_id, "members": members, "homes": homes, "criteria": (tidy, volunteer, mess)}


def _users(session, scene):
    return [session.get(User, user_id) for user_id, _name in scene["members"]]


def _login(app, name):
    client = app.test_client()
    assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302
    return client


def test_the_member_who_submitted_a_round_cannot_approve_it(app, scene):
    with committing(app) as session:
        member, other, chair = _users(session, scene)
        found = services.get_round(session, home_village(session).id, scene["round"])
        services.submit_round(session, found, member)
        with pytest.raises(DomainError) as info:
            services.approve_round(session, found, member)
        assert info.value.code == "submitter_cannot_approve"
        assert services.approve_round(session, found, other) == 1
        assert found.status == RoundStatus.SUBMITTED
        assert services.approve_round(session, found, chair) == 2
        assert found.status == RoundStatus.APPROVED
        # 2 of 2: nobody approves any more (the chair no longer sees 审核通过)
        assert services.approval_refusal(session, found, chair).code == "approvals_complete"


def test_an_approval_the_submitter_gave_before_the_rule_does_not_count(app, scene):
    with committing(app) as session:
        member, other, chair = _users(session, scene)
        found = services.get_round(session, home_village(session).id, scene["round"])
        services.submit_round(session, found, member)
        services.approve_round(session, found, other)
        # as an older version allowed: the submitter's own approval, and the round marked approved
        session.add(RoundApproval(round_id=found.id, user_id=member.id, at=clock.utcnow()))
        found.status = RoundStatus.APPROVED
        session.flush()
        session.refresh(found, ["approvals"])
        assert services.approvals_missing(found) == 1
        with pytest.raises(DomainError) as info:
            services.publish_round(session, found, chair.id)
        assert info.value.code == "approvals_missing"
        assert services.approval_refusal(session, found, chair) is None
        services.approve_round(session, found, chair)
        services.publish_round(session, found, chair.id)
        assert found.status == RoundStatus.NOTICE


def test_round_page_shows_the_real_approval_state(app, scene):
    member, other, chair = (name for _id, name in scene["members"])
    url = f"/scoring/rounds/{scene['round']}"
    submitter = _login(app, member)
    assert submitter.post(f"{url}/submit").status_code == 302

    page = submitter.get(url).get_data(as_text=True)
    assert "审核（0 / 2）" in page and "还差 2 人审核" in page
    assert f'action="{url}/approve"' not in page  # no button for the submitter
    assert "需由评比小组的其他成员审核" in page
    refused = submitter.post(f"{url}/approve", follow_redirects=True).get_data(as_text=True)
    assert "不能自己审核" in refused and "审核（0 / 2）" in refused

    first = _login(app, other)
    done = first.post(f"{url}/approve", follow_redirects=True).get_data(as_text=True)
    assert "已记录您的审核（1 / 2），还需 1 人审核。" in done
    assert "审核通过。" not in done
    assert 'class="status status-submitted">待审核' in done

    the_chair = _login(app, chair)
    done = the_chair.post(f"{url}/approve", follow_redirects=True).get_data(as_text=True)
    assert "审核完成（2 / 2），可以开始公示。" in done
    assert 'class="status status-approved">已审核' in done
    assert f'action="{url}/approve"' not in done  # 2 of 2: no 审核通过 button left
    assert f'action="{url}/publish"' in done


def test_finalising_asks_first_naming_the_households_and_points(app, scene):
    member, other, chair = (name for _id, name in scene["members"])
    url = f"/scoring/rounds/{scene['round']}"
    _login(app, chair).post(f"{url}/submit")
    _login(app, member).post(f"{url}/approve")
    _login(app, other).post(f"{url}/approve")
    the_chair = _login(app, chair)
    page = the_chair.get(url).get_data(as_text=True)
    assert re.search(r'action="[^"]*/publish" data-confirm="公示 5 天', page)
    the_chair.post(f"{url}/publish")
    clock.advance(timedelta(days=6))
    page = the_chair.get(url).get_data(as_text=True)
    # two households hold points: +11 for one, −10 for the other
    assert re.search(
        r'action="[^"]*/finalise" '
        r'data-confirm="2 户将记入积分（加 11 分，扣 10 分），记入后不能撤回。确定吗？"',
        page,
    ), page


def test_a_cell_confirmed_empty_is_entered_and_completes_the_household(app, scene):
    with committing(app) as session:
        found = services.get_round(session, home_village(session).id, scene["round"])
        member = _users(session, scene)[0]
        home = scene["homes"][1]
        assert home not in services.done_households(session, found)
        for cid in scene["criteria"]:
            services.set_score(session, found, home, cid, 0, member)
        assert home in services.done_households(session, found)
        assert scene["homes"][0] not in services.done_households(session, found)  # one cell missing
        assert services.scores_of(session, found).get((home, scene["criteria"][0])) is None


@pytest.mark.parametrize(
    "text", ["2026年11月", "2026-11", "2026/11", "2026.11", "２０２６年１１月", "2026年11月份"]
)
def test_a_month_is_read_however_the_village_writes_it(app, text):
    with app.test_request_context():
        assert parse_month(text).key == "2026-11"
        assert parse_period(text).key == "2026-11"
        assert check_period("monthly", text)[1] == "2026-11"


def test_a_round_for_2026_11_can_be_opened_as_2026年11月_on_the_page(app, scene, login_as):
    chair = login_as("chair")
    page = chair.post(
        "/scoring/rounds",
        data={"period_type": "monthly", "period_key": "2026年12月", "scope": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "已新建 2026-12 的评定。" in page
    page = chair.post(
        "/scoring/rounds",
        data={"period_type": "monthly", "period_key": "2026/13", "scope": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "格式不对" in page


def test_the_objection_form_finds_the_household_by_number_or_name(app, scene, make_household):
    member, other, chair = (name for _id, name in scene["members"])
    url = f"/scoring/rounds/{scene['round']}"
    _login(app, chair).post(f"{url}/submit")
    _login(app, member).post(f"{url}/approve")
    _login(app, other).post(f"{url}/approve")
    the_chair = _login(app, chair)
    the_chair.post(f"{url}/publish")
    with committing(app) as session:
        homes = [session.get(Household, i) for i in scene["homes"]]
        labels = [(h.household_no, h.head_name) for h in homes]
    page = the_chair.get(url).get_data(as_text=True)
    assert 'list="objection-households"' in page
    for no, name in labels:
        assert f'<option value="{no} {name}">' in page

    def record(text):
        data = {"household": text, "objector": "赵大姐", "content": "记错了"}
        return the_chair.post(f"{url}/objections", data=data, follow_redirects=True).get_data(as_text=True)

    assert "已记录异议。" in record(labels[0][0])  # by 户号
    assert "已记录异议。" in record(labels[1][1])  # by the head's name
    assert "已记录异议。" in record(f"{labels[2][0]} {labels[2][1]}")  # the label the list offers
    assert "没有户号或户主为“99-999”的农户" in record("99-999")
    assert "农户（输入户号或户主姓名）：" in record("")  # names the field, no 500
    with committing(app) as session:
        recorded = session.scalars(sa.select(Objection.household_id).order_by(Objection.id)).all()
    assert recorded == scene["homes"]


def test_removing_a_member_and_reopening_a_round_ask_first(app, scene):
    member, other, chair = (name for _id, name in scene["members"])
    the_chair = _login(app, chair)
    page = the_chair.get("/scoring/panel").get_data(as_text=True)
    confirm = "将移出评比小组，之后不能再打分和审核。确定吗？"
    assert re.search(rf'/remove" class="inline" data-confirm="[^"]+ {confirm}"', page)
    url = f"/scoring/rounds/{scene['round']}"
    _login(app, member).post(f"{url}/submit")
    _login(app, other).post(f"{url}/approve")
    page = the_chair.get(url).get_data(as_text=True)
    assert 'data-confirm="退回后这次评定回到评分中，已有的 1 人审核作废，要重新提交和审核。确定吗？"' in page


def test_the_checklist_refuses_a_search_too_long_instead_of_cutting_it(app, scene):
    client = _login(app, scene["members"][0][1])
    url = f"/scoring/rounds/{scene['round']}/households"
    assert client.get(url, query_string={"q": "一" * 40}).status_code == 200
    refused = client.get(url, query_string={"q": "一" * 41})
    assert refused.status_code == 400
    assert "查找农户（户号或户主姓名）：最多 40 个字，现在是 41 个" in refused.get_data(as_text=True)
