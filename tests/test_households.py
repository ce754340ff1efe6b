"""Households: register, edit, deactivate, search, adjust, reverse — through the pages."""

import re
import uuid

import sqlalchemy as sa

from pointsmart.audit.models import AuditEntry
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import group_sort_key
from pointsmart.ledger.models import Transfer


def _household(app, household_id) -> Household:
    with app.app_context():
        h = db.session.get(Household, household_id)
        h.balance  # noqa: B018  (load the account before leaving the session)
        db.session.expunge_all()
        return h


def _audit(app, action):
    with app.app_context():
        return db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()


def test_chair_registers_a_household_with_an_empty_account(app, login_as):
    chair = login_as("chair")
    response = chair.post(
        "/households/new",
        data={
            "household_no": "03-017",
            "head_name": "王秀兰",
            "group": "三社",
            "phone": "13912345678",
            "members": "4",
        },
    )
    assert response.status_code == 302
    page = chair.get(response.headers["Location"]).get_data(as_text=True)
    assert "王秀兰" in page and "03-017" in page and "13912345678" in page
    created = _audit(app, "households.household.created")
    assert created[-1].data["new"]["head_name"] == "王秀兰"
    assert created[-1].actor_id == chair.user_id


def test_duplicate_household_no_is_refused_with_a_clear_message(login_as, make_household):
    make_household(household_no="01-001")
    chair = login_as("chair")
    response = chair.post(
        "/households/new", data={"household_no": "01-001", "head_name": "李四"}, follow_redirects=True
    )
    assert "户号 01-001 已经存在" in response.get_data(as_text=True)


def test_malformed_fields_are_named(login_as):
    chair = login_as("chair")
    page = chair.post(
        "/households/new", data={"household_no": "01 001!", "head_name": "李四", "phone": "call me"}
    ).get_data(as_text=True)
    assert "户号 01 001! 格式不对" in page and "联系电话 call me 格式不对" in page


def test_edit_is_audited_with_old_and_new_values(app, login_as, make_household):
    hid = make_household(head_name="张三", group="一社")
    chair = login_as("chair")
    response = chair.post(
        f"/households/{hid}/edit", data={"household_no": "09-001", "head_name": "张三丰", "group": "二社"}
    )
    assert response.status_code == 302
    entry = _audit(app, "households.household.updated")[-1]
    assert entry.data["old"] == {"head_name": "张三", "group": "一社"}
    assert entry.data["new"] == {"head_name": "张三丰", "group": "二社"}


def test_deactivated_household_keeps_history_and_leaves_the_default_list(app, login_as, make_household):
    hid = make_household(points=20, head_name="赵六")
    chair = login_as("chair")
    chair.post(f"/households/{hid}/active")
    assert not _household(app, hid).active
    assert "赵六" not in chair.get("/households/").get_data(as_text=True)
    assert "赵六" in chair.get("/households/?inactive=1").get_data(as_text=True)
    page = chair.get(f"/households/{hid}").get_data(as_text=True)
    assert "开户积分" in page and "已停用" in page
    refused = chair.post(
        f"/households/{hid}/adjust",
        data={"points": "5", "reason": "奖励", "key": uuid.uuid4().hex},
        follow_redirects=True,
    )
    assert "该户已停用" in refused.get_data(as_text=True)


def test_search_by_name_or_number_and_filter_by_group(login_as, make_household):
    make_household(household_no="01-001", head_name="王建国", group="一社")
    make_household(household_no="02-001", head_name="王秀兰", group="二社")
    make_household(household_no="02-002", head_name="李春梅", group="二社")
    client = login_as("shopkeeper")
    by_name = client.get("/households/?q=王").get_data(as_text=True)
    assert "王建国" in by_name and "王秀兰" in by_name and "李春梅" not in by_name
    by_group = client.get("/households/?q=王&group=二社").get_data(as_text=True)
    assert "王秀兰" in by_group and "王建国" not in by_group
    by_no = client.get("/households/?q=02-002").get_data(as_text=True)
    assert "李春梅" in by_no and "王秀兰" not in by_no


def test_list_is_paginated(app, login_as, make_household):
    for n in range(25):
        make_household(household_no=f"05-{n:03d}", head_name=f"户{n:02d}")
    client = login_as("panel")
    first = client.get("/households/").get_data(as_text=True)
    second = client.get("/households/?page=2").get_data(as_text=True)
    assert "户00" in first and "户19" in first and "户20" not in first
    assert "户20" in second and "户24" in second and "第 2 / 2 页" in second


def test_chair_adjustment_shows_in_balance_and_history(app, login_as, make_household):
    hid = make_household(points=10)
    chair = login_as("chair")
    chair.post(
        f"/households/{hid}/adjust",
        data={"points": "25", "reason": "志愿服务临时奖励", "key": uuid.uuid4().hex},
    )
    chair.post(
        f"/households/{hid}/adjust", data={"points": "-5", "reason": "乱堆乱放", "key": uuid.uuid4().hex}
    )
    assert _household(app, hid).balance == 30
    page = chair.get(f"/households/{hid}").get_data(as_text=True)
    assert "志愿服务临时奖励" in page and "+25" in page and "乱堆乱放" in page and "-5" in page
    audited = _audit(app, "ledger.adjustment")
    assert [e.data["points"] for e in audited][-2:] == [25, -5]
    assert audited[-1].data["balance_after"] == 30


def test_deduction_beyond_balance_is_refused_and_nothing_is_written(app, login_as, make_household):
    hid = make_household(points=10)
    chair = login_as("chair")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(Transfer.id)))
    page = chair.post(
        f"/households/{hid}/adjust",
        data={"points": "-11", "reason": "扣分", "key": uuid.uuid4().hex},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "扣分后余额不能为负：现有 10 分，扣 11 分。" in page and "积分不足" not in page
    assert _household(app, hid).balance == 10
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Transfer.id))) == before


def test_adjustment_needs_a_reason(app, login_as, make_household):
    hid = make_household()
    chair = login_as("chair")
    page = chair.post(
        f"/households/{hid}/adjust",
        data={"points": "5", "reason": "", "key": uuid.uuid4().hex},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "请填写原因" in page
    assert _household(app, hid).balance == 0


def test_chair_reverses_a_transfer_once_with_a_reason(app, login_as, make_household):
    hid = make_household(points=15)
    chair = login_as("chair")
    with app.app_context():
        transfer_id = db.session.scalar(sa.select(Transfer.id).order_by(Transfer.id.desc()))
    chair.post(f"/households/{hid}/transfers/{transfer_id}/reverse", data={"reason": "录错了"})
    assert _household(app, hid).balance == 0
    again = chair.post(
        f"/households/{hid}/transfers/{transfer_id}/reverse", data={"reason": "again"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "已经撤销过了" in again
    assert _audit(app, "ledger.reversal")[-1].data["reason"] == "录错了"


def test_a_transfer_of_another_household_cannot_be_reversed_through_this_one(app, login_as, make_household):
    a = make_household(points=15)
    b = make_household(points=5)
    chair = login_as("chair")
    with app.app_context():
        a_transfer = db.session.scalar(sa.select(Transfer.id).order_by(Transfer.id))
    response = chair.post(
        f"/households/{b}/transfers/{a_transfer}/reverse", data={"reason": "x"}, follow_redirects=True
    )
    assert "找不到这笔积分记录" in response.get_data(as_text=True)
    assert _household(app, a).balance == 15


def test_household_history_is_paginated(app, login_as, make_household):
    hid = make_household()
    chair = login_as("chair")
    for n in range(1, 23):
        chair.post(
            f"/households/{hid}/adjust",
            data={"points": str(n), "reason": f"第{n}次", "key": uuid.uuid4().hex},
        )
    first = chair.get(f"/households/{hid}").get_data(as_text=True)
    assert "第22次" in first and "第3次" in first and "第2次" not in first
    assert "第2次" in chair.get(f"/households/{hid}?page=2").get_data(as_text=True)


def test_the_same_adjustment_form_posted_twice_counts_once(app, login_as, make_household):
    hid = make_household()
    chair = login_as("chair")
    page = chair.get(f"/households/{hid}").get_data(as_text=True)
    key = page.split('name="key" value="')[1].split('"')[0]
    form = {"points": "20", "reason": "志愿服务", "key": key}
    first = chair.post(f"/households/{hid}/adjust", data=form, follow_redirects=True).get_data(as_text=True)
    second = chair.post(f"/households/{hid}/adjust", data=form, follow_redirects=True).get_data(as_text=True)
    assert "当前余额 20 分" in first and "当前余额 20 分" in second
    assert _household(app, hid).balance == 20


def test_groups_sort_as_people_count_them():
    chinese = ["十一社", "三社", "二社", "十社", "一社", "十二社", "二十社", "九社", "社区", ""]
    assert sorted(chinese, key=group_sort_key) == [
        "一社",
        "二社",
        "三社",
        "九社",
        "十社",
        "十一社",
        "十二社",
        "二十社",
        "社区",
        "",
    ]
    assert sorted(["10组", "2组", "1组", "第11网格", "第3网格"], key=group_sort_key) == [
        "1组",
        "2组",
        "10组",
        "第3网格",
        "第11网格",
    ]
    assert sorted(["一百零五组", "一〇四组", "九十九组"], key=group_sort_key) == [
        "九十九组",
        "一〇四组",
        "一百零五组",
    ]
    assert sorted(["3组", "二社", "1组"], key=group_sort_key) == [
        "1组",
        "二社",
        "3组",
    ]  # by value, however written


def test_group_filters_list_groups_in_counting_order(app, login_as, make_household):
    for name in ("十一社", "三社", "十社", "二社", "一社"):
        make_household(group=name)
    page = login_as("chair").get("/households/").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"', page)
    assert options == ["一社", "二社", "三社", "十社", "十一社"]
    cards_page = login_as("chair").get("/cards").get_data(as_text=True)
    assert re.findall(r'<option value="([^"]+)"', cards_page) == options


def test_a_household_no_differing_only_in_letter_case_or_width_is_a_duplicate(app, login_as, make_household):
    make_household(household_no="a-01", head_name="王兰")
    with app.app_context():
        assert (
            db.session.scalar(sa.select(Household.household_no).where(Household.head_name == "王兰"))
            == "A-01"
        )
    chair = login_as("chair")
    for typed in ("A-01", "a-01", "Ａ－０１"):
        response = chair.post(
            "/households/new", data={"household_no": typed, "head_name": "李四"}, follow_redirects=True
        )
        assert "户号 A-01 已经存在" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 1


def test_a_row_stored_with_a_lower_case_no_is_found_as_the_same_household(app, login_as, make_household):
    household_id = make_household(household_no="b-77", head_name="李梅")
    with app.app_context():  # a row stored before 户号 were normalised
        db.session.get(Household, household_id).household_no = "b-77"
        db.session.commit()
    chair = login_as("chair")
    response = chair.post(
        "/households/new", data={"household_no": "B-77", "head_name": "李四"}, follow_redirects=True
    )
    assert "户号 B-77 已经存在" in response.get_data(as_text=True)
    assert "李梅" in chair.get("/households/?q=B-77").get_data(as_text=True)
