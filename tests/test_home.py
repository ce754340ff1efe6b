"""Each role's home page: every kind of thing that waits for the chair or a panel member is planted and
found as a sentence with its link; the shopkeeper lands on the counter; nothing left says so."""

import re
from datetime import timedelta
from html import unescape

import pytest

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.extensions import db
from pointsmart.org.services import home_village
from pointsmart.periods import local
from pointsmart.scoring import criteria, panels, rounds, score_entry, workflow
from pointsmart.scoring.models import ScoringRound
from pointsmart.settings import backups
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from .conftest import DB, committing


def lines(page: str) -> dict[str, list[str]]:
    """The to-do lines of a home page: kind → [sentence and the link's address, …]."""
    found: dict[str, list[str]] = {}
    for kind, body in re.findall(r'<li class="todo-line[^"]*" data-kind="(\w+)">(.*?)</li>', page, re.S):
        text = unescape(re.sub(r"<[^>]+>", " ", body))
        href = re.search(r'href="([^"]+)"', body).group(1)
        found.setdefault(kind, []).append(" ".join(text.split()) + " → " + unescape(href))
    return found


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def rulebook(app, village_id):
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "美丽庭院"}, None)
        tidy = {"name": "庭院整洁", "points": 5, "cadence": "monthly"}
        criteria.save_criterion(session, category, tidy, None)


@pytest.fixture
def panel(app, make_user):
    """Two panel members (ids) who may score every group, and a third who hands rounds in (the member who
    submits a round may not approve it)."""
    ids = [make_user("panel")[0], make_user("panel")[0], make_user("panel")[0]]
    with committing(app) as session:
        for user_id in ids:
            panels.set_panel_member(session, session.get(User, user_id), "执委", [], actor_id=None)
    return ids


def make_round(app, key: str, to: str, panel_ids, household_id=None):
    """A monthly round for ``key`` taken to status ``to`` (draft, submitted, approved, notice)."""
    with committing(app) as session:
        r = workflow.create_round(session, home_village(session), "monthly", key, "", None)
        member, other, submitter = (session.get(User, i) for i in panel_ids)
        if household_id:
            score_entry.set_score(session, r, household_id, r.criteria[0].id, 1, member)
        if to in ("submitted", "approved", "notice"):
            workflow.submit_round(session, r, submitter)
        if to in ("approved", "notice"):
            workflow.approve_round(session, r, member)
            workflow.approve_round(session, r, other)
        if to == "notice":
            workflow.publish_round(session, r, None)
        return r.id


def test_an_empty_village_tells_the_chair_everything_is_done(login_as):
    page = home(login_as("chair"))
    assert lines(page) == {}
    assert "事情都办完了" in page
    # backup and sync are always shown, each with its button (on PostgreSQL: what to do instead)
    assert ("还没有备份过数据" in page and "现在备份" in page) or (DB == "postgresql" and "pg_dump" in page)
    assert "从未同步" in page and "等待发送" in page
    assert "还没有填写县里的地址和同步密钥" in page and 'href="/settings/"' in page


def test_the_chair_finds_rounds_to_approve_publish_and_finalise(
    app, login_as, rulebook, panel, make_household
):
    hid = make_household()
    draft = make_round(app, "2026-09", "draft", panel)
    submitted = make_round(app, "2026-10", "submitted", panel)
    approved = make_round(app, "2026-11", "approved", panel)
    notice = make_round(app, "2026-12", "notice", panel, hid)
    chair = login_as("chair")
    found = lines(home(chair))
    assert found["submit"] == [f"2026年9月 月评定 正在评分，评完后提交审核。 查看 → /scoring/rounds/{draft}"]
    assert found["waiting"] == [
        f"2026年10月 月评定 已提交，等评比小组审核（已有 0/2 人审核）。 查看 → /scoring/rounds/{submitted}"
    ]
    assert found["publish"] == [
        f"2026年11月 月评定 已审核通过，可以公示了。 去公示 → /scoring/rounds/{approved}"
    ]
    (line,) = found["notice"]
    assert line.startswith("2026年12月 月评定 正在公示，") and "结束（还有 4 天）" in line
    with app.app_context():
        ends = local(db.session.get(ScoringRound, notice).notice_ends_at).strftime("%Y-%m-%d %H:%M")
    assert ends in line  # the notice's end, with the date
    assert "事情都办完了" not in home(chair)

    clock.advance(timedelta(days=6))
    found = lines(home(chair))
    assert "notice" not in found
    assert found["finalise"] == [
        f"2026年12月 月评定 公示已在 {ends} 结束，可以生效、记入积分了。 去生效 → /scoring/rounds/{notice}"
    ]
    assert list(found)[0] == "publish" or list(found)[0] == "finalise"  # the pressing ones first


def test_the_chair_finds_each_open_objection_and_the_round_it_holds_up(
    app, login_as, rulebook, panel, make_household
):
    hid = make_household(head_name="陈玉兰", household_no="06-001")
    round_id = make_round(app, "2026-11", "notice", panel, hid)
    with committing(app) as session:
        r = rounds.get_round(session, home_village(session).id, round_id)
        objection = workflow.record_objection(session, r, hid, "李大娘", "院子其实没扫", None)
        objection_id = objection.id
    chair = login_as("chair")
    found = lines(home(chair))
    assert found["objection"] == [
        "李大娘 对 06-001 陈玉兰 在 2026年11月 月评定 的积分有异议，请处理。 "
        f"处理异议 → /scoring/objections/{objection_id}"
    ]
    clock.advance(timedelta(days=6))
    found = lines(home(chair))
    assert found["finalise"] == [
        "2026年11月 月评定 公示已结束，还有 1 条异议没处理，处理完才能生效。 "
        f"查看 → /scoring/rounds/{round_id}"
    ]


def test_the_chair_finds_goods_out_of_stock_and_low(app, login_as, village_id):
    with committing(app) as session:
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 20}, None)
        oil = shop.save_goods(session, village_id, {"name": "食用油", "price": 50, "low_stock": 5}, None)
        cups = {"name": "保温杯", "spec": "个", "price": 30, "low_stock": 2}
        cup = shop.save_goods(session, village_id, cups, None)
        shop.receive_stock(session, cup, MoveKind.PURCHASE, 1, None)
        rice = shop.save_goods(session, village_id, {"name": "大米", "price": 40, "low_stock": 5}, None)
        shop.receive_stock(session, oil, MoveKind.PURCHASE, 3, None)
        shop.receive_stock(session, rice, MoveKind.PURCHASE, 30, None)
        ids = soap.id, oil.id, cup.id
    found = lines(home(login_as("chair")))
    assert found["out_of_stock"] == [f"洗衣粉 袋 已经没货了。 进货 → /shop/goods/{ids[0]}"]
    assert found["low_stock"] == [
        f"保温杯 只剩 1 个（低于 2 个就该进货）。 进货 → /shop/goods/{ids[2]}",
        f"食用油 只剩 3 件（低于 5 件就该进货）。 进货 → /shop/goods/{ids[1]}",
    ]
    assert "大米" not in str(found)


@pytest.mark.sqlite_only
def test_the_chair_sees_the_last_backup_and_can_take_one_now(app, login_as):
    chair = login_as("chair")
    response = chair.post("/settings/backup", data={"next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = home(chair)
    assert "上次备份：" in page and "（手动）" in page and "还没有备份过数据" not in page
    clock.advance(timedelta(days=3))
    assert "已经 3 天没有备份了" in home(chair)


def test_the_sync_line_offers_a_push_once_the_county_is_set(app, login_as):
    chair = login_as("chair")
    chair.post(
        "/settings/",
        data={"county_url": "http://127.0.0.1:9", "sync_key": "pmk_abcdefgh1234", "backup_keep_days": "14"},
    )
    page = home(chair)
    assert 'action="/sync/push"' in page and "现在同步" in page
    assert "还没有填写县里的地址" not in page


def test_a_panel_member_finds_rounds_to_score_and_to_approve(app, login_as, make_user, rulebook, panel):
    draft = make_round(app, "2026-10", "draft", panel)
    submitted = make_round(app, "2026-11", "submitted", panel)
    member = login_as("panel")
    assert "您还不在评比小组里" in home(member)
    with committing(app) as session:
        panels.set_panel_member(session, session.get(User, member.user_id), "执委", [], actor_id=None)
    found = lines(home(member))
    assert found["score"] == [f"2026年10月 月评定 正在评分，请给农户打分。 去打分 → /scoring/rounds/{draft}"]
    assert found["approve"] == [
        f"2026年11月 月评定 已提交，等您审核（已有 0/2 人审核）。 去审核 → /scoring/rounds/{submitted}"
    ]
    page = home(member)
    assert "现在备份" not in page and "现在同步" not in page  # the chair's, not a panel member's


def test_a_panel_member_with_nothing_to_do_is_told_so(login_as, app, panel):
    member = login_as("panel")
    with committing(app) as session:
        panels.set_panel_member(session, session.get(User, member.user_id), "执委", ["一社"], actor_id=None)
    page = home(member)
    assert lines(page) == {} and "事情都办完了" in page


def test_the_shopkeeper_lands_on_the_counter(login_as):
    response = login_as("shopkeeper").get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/shop/counter"


def test_on_postgresql_the_backup_line_says_what_to_do_instead(app, login_as):
    with app.app_context():
        sqlite = backups.sqlite_file(db.engine) is not None
    page = home(login_as("chair"))
    if sqlite:
        assert "现在备份" in page
    else:
        assert "pg_dump" in page and "现在备份" not in page


def test_a_notice_running_is_not_called_all_done(app, login_as, rulebook, panel):
    make_round(app, "2026-10", "notice", panel)
    page = home(login_as("chair"))
    assert "正在公示" in page
    assert "事情都办完了" not in page and "现在没有等您处理的事；下面的事情正在进行" in page
