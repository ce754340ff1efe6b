"""Scoring rounds through the services: lifecycle, rules, finalisation into the ledger."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.errors import DomainError
from pointsmart.households.models import Household
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Transfer
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, finalisation, panels, score_entry, workflow
from pointsmart.scoring.models import RoundResult, RoundStatus


@pytest.fixture
def rulebook(ctx, village_id):
    """A small rulebook: two monthly awards, one monthly deduction, one quarterly award."""
    category = criteria.save_category(ctx, village_id, {"name": "美丽庭院"}, None)
    made = {
        "tidy": criteria.save_criterion(
            ctx, category, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None
        ),
        "volunteer": criteria.save_criterion(
            ctx, category, {"name": "志愿服务", "points": 3, "cadence": "monthly", "max_per_period": 4}, None
        ),
        "mess": criteria.save_criterion(
            ctx, category, {"name": "乱堆乱放", "points": -5, "cadence": "monthly"}, None
        ),
        "garden": criteria.save_criterion(
            ctx, category, {"name": "绿化", "points": 15, "cadence": "quarterly"}, None
        ),
    }
    ctx.commit()
    return made


@pytest.fixture
def panel(ctx, make_user):
    """Two panel members and the chair, as User objects in this session."""
    ids = [make_user("panel")[0], make_user("panel")[0], make_user("chair")[0]]
    users = [ctx.get(User, i) for i in ids]
    for user in users:
        panels.set_panel_member(ctx, user, "执委", [], actor_id=users[2].id)
    ctx.commit()
    return users


def _criterion(scoring_round, name):
    return next(c for c in scoring_round.criteria if c.name == name)


def _run_to_notice(ctx, scoring_round, panel):
    assert workflow.approval_refusal(ctx, scoring_round, panel[0]).code == "wrong_status"
    workflow.submit_round(ctx, scoring_round, panel[2])
    assert workflow.approval_refusal(ctx, scoring_round, panel[0]) is None
    workflow.approve_round(ctx, scoring_round, panel[0])
    assert workflow.approval_refusal(ctx, scoring_round, panel[0]).code == "already_approved"
    assert workflow.approval_refusal(ctx, scoring_round, panel[2]).code == "submitter_cannot_approve"
    workflow.approve_round(ctx, scoring_round, panel[1])
    workflow.publish_round(ctx, scoring_round, panel[2].id)
    ctx.commit()


def test_malformed_period_keys_are_refused(ctx, rulebook):
    village = home_village(ctx)
    for period_type, key in [
        ("monthly", "2026-13"),
        ("monthly", "2026-Q4"),
        ("quarterly", "2026-11"),
        ("quarterly", "2026-Q5"),
        ("half_yearly", "2026-H3"),
        ("weekly", "2026-W1"),
    ]:
        with pytest.raises(DomainError) as info:
            workflow.create_round(ctx, village, period_type, key, "", None)
        assert info.value.code == "bad_period"


def test_a_period_written_in_chinese_is_the_same_period(ctx, rulebook, make_household):
    make_household(group="一社")
    village = home_village(ctx)
    made = workflow.create_round(ctx, village, "monthly", "2026年11月", "一社", None)
    assert made.period_key == "2026-11"
    with pytest.raises(DomainError) as info:
        workflow.create_round(ctx, village, "monthly", "2026-11", "一社", None)
    assert info.value.code == "duplicate_round"
    assert workflow.create_round(ctx, village, "quarterly", "2026年第4季度", "", None).period_key == "2026-Q4"


def test_a_second_round_for_the_same_period_and_scope_is_refused(ctx, rulebook, make_household):
    make_household(group="一社")
    make_household(group="二社")
    village = home_village(ctx)
    workflow.create_round(ctx, village, "monthly", "2026-11", "一社", None)
    with pytest.raises(DomainError) as info:
        workflow.create_round(ctx, village, "monthly", "2026-11", "一社", None)
    assert info.value.code == "duplicate_round"
    with pytest.raises(DomainError):  # the whole village overlaps 一社
        workflow.create_round(ctx, village, "monthly", "2026-11", "", None)
    workflow.create_round(ctx, village, "monthly", "2026-11", "二社", None)
    workflow.create_round(ctx, village, "quarterly", "2026-Q4", "", None)


def test_round_offers_the_criteria_of_its_cadence(ctx, rulebook):
    village = home_village(ctx)
    monthly = workflow.create_round(ctx, village, "monthly", "2026-11", "", None)
    quarterly = workflow.create_round(ctx, village, "quarterly", "2026-Q4", "", None)
    assert [c.name for c in monthly.criteria] == ["庭院整洁", "志愿服务", "乱堆乱放"]
    assert [c.name for c in quarterly.criteria] == ["绿化"]


def test_editing_a_criterion_does_not_change_a_round_under_way(ctx, rulebook):
    village = home_village(ctx)
    scoring_round = workflow.create_round(ctx, village, "monthly", "2026-11", "", None)
    tidy = rulebook["tidy"]
    criteria.save_criterion(
        ctx, tidy.category, {"name": "庭院整洁", "points": 50, "cadence": "monthly"}, None, tidy
    )
    ctx.commit()
    assert _criterion(scoring_round, "庭院整洁").points == 5


def test_only_panel_members_score_and_only_their_groups(ctx, rulebook, panel, make_user, make_household):
    hid = make_household(group="一社")
    other = make_household(group="二社")
    outsider = ctx.get(User, make_user("panel")[0])  # a panel-role user not on the panel
    village = home_village(ctx)
    scoring_round = workflow.create_round(ctx, village, "monthly", "2026-11", "", None)
    tidy = _criterion(scoring_round, "庭院整洁").id
    with pytest.raises(DomainError) as info:
        score_entry.set_score(ctx, scoring_round, hid, tidy, 1, outsider)
    assert info.value.code == "not_panel_member"
    panels.set_panel_member(ctx, panel[0], "执委", ["一社"], panel[2].id)
    score_entry.set_score(ctx, scoring_round, hid, tidy, 1, panel[0])
    with pytest.raises(DomainError):
        score_entry.set_score(ctx, scoring_round, other, tidy, 1, panel[0])


def test_times_are_limited_per_period(ctx, rulebook, panel, make_household):
    hid = make_household()
    scoring_round = workflow.create_round(ctx, home_village(ctx), "monthly", "2026-11", "", None)
    volunteer = _criterion(scoring_round, "志愿服务").id
    assert score_entry.set_score(ctx, scoring_round, hid, volunteer, 4, panel[0]) == 4
    with pytest.raises(DomainError) as info:
        score_entry.set_score(ctx, scoring_round, hid, volunteer, 5, panel[0])
    assert info.value.code == "invalid_times"


def test_whole_monthly_round_posts_points_once(ctx, rulebook, panel, make_household):
    a, b = make_household(points=0), make_household(points=2)
    scoring_round = workflow.create_round(ctx, home_village(ctx), "monthly", "2026-11", "", panel[2].id)
    for hid, name, times in [(a, "庭院整洁", 1), (a, "志愿服务", 2), (b, "乱堆乱放", 1)]:
        score_entry.set_score(ctx, scoring_round, hid, _criterion(scoring_round, name).id, times, panel[0])
    ctx.commit()
    workflow.submit_round(ctx, scoring_round, panel[2])
    assert workflow.approve_round(ctx, scoring_round, panel[0]) == 1
    assert scoring_round.status == RoundStatus.SUBMITTED
    with pytest.raises(DomainError) as info:
        workflow.approve_round(ctx, scoring_round, panel[0])
    assert info.value.code == "already_approved"
    workflow.approve_round(ctx, scoring_round, panel[1])
    assert scoring_round.status == RoundStatus.APPROVED
    workflow.publish_round(ctx, scoring_round, panel[2].id)
    ctx.commit()
    with pytest.raises(DomainError) as info:
        finalisation.finalise_round(ctx, scoring_round, panel[2].id)
    assert info.value.code == "notice_not_over"
    clock.advance(timedelta(days=5, minutes=1))
    assert finalisation.finalise_round(ctx, scoring_round, panel[2].id) is True
    ctx.commit()
    balances = {hid: ctx.get(Household, hid).balance for hid in (a, b)}
    assert balances == {a: 11, b: 0}  # b had 2 points: the 5-point deduction posts 2, shortfall 3
    result_b = ctx.scalar(sa.select(RoundResult).where(RoundResult.household_id == b))
    assert (result_b.deducted, result_b.shortfall, result_b.net) == (5, 3, -2)
    transfers = ctx.scalar(sa.select(sa.func.count(Transfer.id)).where(Transfer.ref == scoring_round.ref))
    assert transfers == 3
    assert finalisation.finalise_round(ctx, scoring_round, panel[2].id) is False  # twice posts nothing
    ctx.commit()
    assert ctx.scalar(sa.select(sa.func.count(Transfer.id)).where(Transfer.ref == scoring_round.ref)) == 3
    assert ledger.verify(ctx).ok


def test_open_objection_blocks_finalisation_until_resolved(ctx, rulebook, panel, make_household):
    hid = make_household()
    scoring_round = workflow.create_round(ctx, home_village(ctx), "monthly", "2026-11", "", None)
    tidy = _criterion(scoring_round, "庭院整洁").id
    score_entry.set_score(ctx, scoring_round, hid, tidy, 1, panel[0])
    _run_to_notice(ctx, scoring_round, panel)
    with pytest.raises(DomainError):  # scores are frozen during the notice
        score_entry.set_score(ctx, scoring_round, hid, tidy, 0, panel[0])
    assert finalisation.finalise_refusal(ctx, scoring_round).code == "notice_not_over"
    objection = workflow.record_objection(ctx, scoring_round, hid, "李大娘", "院子其实没扫", panel[2].id)
    clock.advance(timedelta(days=6))
    assert finalisation.finalise_refusal(ctx, scoring_round).code == "objection_open"  # what the page reads
    with pytest.raises(DomainError) as info:
        finalisation.finalise_round(ctx, scoring_round, panel[2].id)
    assert info.value.code == "objection_open"
    workflow.resolve_objection(ctx, objection, True, "核实属实，取消本项", {tidy: 0}, panel[2].id)
    assert finalisation.finalise_refusal(ctx, scoring_round) is None
    assert finalisation.finalise_round(ctx, scoring_round, panel[2].id) is True
    assert finalisation.finalise_refusal(ctx, scoring_round).code == "wrong_status"
    ctx.commit()
    assert ctx.get(Household, hid).balance == 0


def test_rejected_objection_needs_a_reason_and_keeps_scores(ctx, rulebook, panel, make_household):
    hid = make_household()
    scoring_round = workflow.create_round(ctx, home_village(ctx), "monthly", "2026-11", "", None)
    score_entry.set_score(ctx, scoring_round, hid, _criterion(scoring_round, "庭院整洁").id, 1, panel[0])
    _run_to_notice(ctx, scoring_round, panel)
    objection = workflow.record_objection(ctx, scoring_round, hid, "张三", "不服", panel[2].id)
    with pytest.raises(DomainError):
        workflow.resolve_objection(ctx, objection, False, " ", {}, panel[2].id)
    workflow.resolve_objection(ctx, objection, False, "经核实评分无误", {}, panel[2].id)
    clock.advance(timedelta(days=6))
    finalisation.finalise_round(ctx, scoring_round, panel[2].id)
    ctx.commit()
    assert ctx.get(Household, hid).balance == 5


def test_reopen_withdraws_approvals(ctx, rulebook, panel, make_household):
    make_household()
    scoring_round = workflow.create_round(ctx, home_village(ctx), "monthly", "2026-11", "", None)
    workflow.submit_round(ctx, scoring_round, panel[1])
    workflow.approve_round(ctx, scoring_round, panel[0])
    workflow.reopen_round(ctx, scoring_round, panel[2].id, "漏评了三社")
    ctx.commit()
    assert scoring_round.status == RoundStatus.DRAFT and scoring_round.approvals == []


def test_village_settings_apply_to_rounds_created_afterwards(app, login_as, village_id):
    from pointsmart.extensions import db
    from pointsmart.scoring.models import ScoringRound

    chair = login_as("chair")
    with app.app_context():
        category = criteria.save_category(db.session, village_id, {"name": "环境卫生"}, None)
        criteria.save_criterion(
            db.session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        before_id = workflow.create_round(
            db.session, home_village(db.session), "monthly", "2026-10", "", None
        ).id
        db.session.commit()
    assert (
        chair.post("/scoring/settings", data={"approvals_required": "3", "notice_days": "7"}).status_code
        == 302
    )
    refused = chair.post(
        "/scoring/settings", data={"approvals_required": "0", "notice_days": "7"}, follow_redirects=True
    )
    assert "审核" in refused.get_data(as_text=True)
    with app.app_context():
        after = workflow.create_round(db.session, home_village(db.session), "monthly", "2026-11", "", None)
        assert (after.approvals_required, after.notice_days) == (3, 7)
        old = db.session.get(ScoringRound, before_id)
        assert (old.approvals_required, old.notice_days) == (2, 5)
        db.session.rollback()


def test_sending_a_round_back_refuses_a_reason_too_long_naming_it(ctx, rulebook, panel, make_household):
    make_household()
    scoring_round = workflow.create_round(ctx, home_village(ctx), "monthly", "2026-11", "", None)
    workflow.submit_round(ctx, scoring_round, panel[1])
    with pytest.raises(DomainError) as refused:
        workflow.reopen_round(ctx, scoring_round, panel[2].id, "漏" * (workflow.MAX_REASON + 1))
    assert refused.value.message.startswith("原因：最多 500 个字")
    assert scoring_round.status == RoundStatus.SUBMITTED
