"""需要关注: the county's anomaly checks, each planted in one village and missed in a clean one.

Everything reaches the county through the real sync (``POST /api/v1/sync/batches`` and the ingest).
甲村 (the planted village) issues 10 points a month from May to October, then in November: a round
with a two-day notice and no photo of it in which one household scores 23 against the others' 3, a
quarterly round with a photo whose notice was cut to 6 days against the village's 7, a manual
award of 100, a card redeemed at two counters ten seconds apart, and a redemption of 30 units booked
without the stock (a record the village wrote beyond its shelves). 乙村 (the clean village) issues
10 points a month too, then runs an ordinary November (:func:`tests.sync_support.workload`) with a
photo of its round's notice, and a card redeemed twice at one counter ten seconds apart. 甲村 last
synced on the 28th, 乙村 on the 20th; it is now the 29th, so 乙村 is the silent one. 丙村 never synced.
"""

import contextlib
import io
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from pointsmart import clock
from pointsmart.audit.models import AuditEntry
from pointsmart.audit.sentences import Names, sentence
from pointsmart.auth.models import User
from pointsmart.county import anomalies
from pointsmart.county import services as county
from pointsmart.county.models import AnomalyCheck, AnomalyThreshold
from pointsmart.extensions import db, limiter
from pointsmart.households.models import Household
from pointsmart.org.models import Village
from pointsmart.org.services import ensure_village, home_village
from pointsmart.periods import parse_period
from pointsmart.scoring.models import ScoringRound

from .conftest import PASSWORD, VILLAGE_CODE, another_database, committing
from .sync_support import push_all, workload
from .test_county_dashboard import (
    A_TOWNSHIP,
    B_CODE,
    B_TOWNSHIP,
    C_CODE,
    _module_app,
    county_user,
    factories,
    login,
    mismatched,
    queries,
    set_clock,
)
from .test_routes import _csrf_token
from .test_scoring_reports import _png

A_CODE = VILLAGE_CODE
NOVEMBER = parse_period("2026-11")
ARGS = "?type=month&key=2026-11"


def monthly_points(app, household_id: int) -> None:
    """10 manual points in each month from May to October (the months before November)."""
    from pointsmart.households.services import adjust_points

    for month in range(5, 11):
        set_clock(2026, month, 10)
        with committing(app) as session:
            adjust_points(session, session.get(Household, household_id), 10, "志愿服务", actor_id=None)


def notice_photo(session, scoring_round) -> None:
    """A photo of the posted notice (the file in a folder thrown away: the county counts the rows)."""
    from pointsmart.scoring import notice_photos

    with tempfile.TemporaryDirectory() as folder:
        notice_photos.add_photo(session, scoring_round, _png(), "公示.png", None, None, Path(folder), None)


def plant(app, make_user, make_household) -> dict:
    """甲村's November: every rule's case (see the module's docstring)."""
    from pointsmart.cards import services as cards
    from pointsmart.households.services import adjust_points
    from pointsmart.scoring import criteria, finalisation, panels, score_entry, workflow
    from pointsmart.shop import redemptions
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind, StockMove

    ids = [make_household() for _ in range(5)]
    monthly_points(app, ids[4])
    set_clock(2026, 11, 3)
    members = [make_user("panel")[0], make_user("panel")[0]]
    chair = make_user("chair")[0]
    counter = make_user("shopkeeper")[0]  # a second counter
    with app.app_context():
        session = db.session
        panel = [session.get(User, i) for i in members]
        for member in panel:
            panels.set_panel_member(session, member, "执委", [], None)
        village = home_village(session)
        village.notice_days = 2
        tidy = criteria.save_category(session, village.id, {"name": "环境卫生"}, None)
        criteria.save_criterion(session, tidy, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None)
        criteria.save_criterion(session, tidy, {"name": "见义勇为", "points": 20, "cadence": "monthly"}, None)
        found = workflow.create_round(session, village, "monthly", "2026-11", "", None)
        ordinary, brave = found.criteria
        homes = [session.get(Household, i) for i in ids]
        for home in homes:
            score_entry.set_score(session, found, home.id, ordinary.id, 1, panel[0])
        score_entry.set_score(session, found, homes[0].id, brave.id, 1, panel[0])
        workflow.submit_round(session, found, session.get(User, chair))
        for member in panel:
            workflow.approve_round(session, found, member)
        workflow.publish_round(session, found, None)
        clock.advance(timedelta(days=3))
        assert finalisation.finalise_round(session, found, None)
        session.commit()

        # a quarter's round: the village's notice is 7 days, but this one's end was cut to 6 (a record
        # changed by hand: the app itself never posts a notice shorter than the round's days)
        village.notice_days = 7
        quarterly = {"name": "季度之星", "points": 5, "cadence": "quarterly"}
        criteria.save_criterion(session, tidy, quarterly, None)
        cut = workflow.create_round(session, village, "quarterly", "2026-Q4", "", None)
        workflow.submit_round(session, cut, session.get(User, chair))
        for member in panel:
            workflow.approve_round(session, cut, member)
        workflow.publish_round(session, cut, None)
        notice_photo(session, cut)
        session.commit()
        session.execute(
            sa.update(ScoringRound)
            .where(ScoringRound.id == cut.id)
            .values(notice_ends_at=cut.published_at + timedelta(days=6))
        )
        session.commit()
        session.refresh(cut)
        clock.advance(timedelta(days=6, hours=1))
        assert finalisation.finalise_round(session, cut, None)
        session.commit()

        adjust_points(session, homes[1], 100, "志愿服务", actor_id=chair)
        soap = shop.save_goods(session, village.id, {"name": "香皂", "price": 1}, None)
        shop.receive_stock(session, soap, MoveKind.PURCHASE, 10, None)
        session.commit()
        operator = session.get(User, chair)
        other_counter = session.get(User, counter)
        card = cards.issue_card(session, homes[0], None)
        redemptions.redeem(session, village.id, card, [(soap.id, 1)], operator)
        session.commit()
        clock.advance(timedelta(seconds=10))
        second = redemptions.redeem(session, village.id, card, [(soap.id, 1)], other_counter)
        session.commit()
        # a redemption booked beyond the shelves (an old register typed in, a bug): 30 units out of 8
        session.add(StockMove(goods_id=soap.id, kind=MoveKind.REDEMPTION, qty=-30, note="补录"))
        session.commit()
        return {
            "round": found.uuid,
            "cut_round": cut.uuid,
            "household": homes[0].uuid,
            "goods": soap.uuid,
            "second": second.uuid,
        }


def clean_november(app, made: dict) -> None:
    """乙村's round gets its notice photo, and one counter serves a card twice in ten seconds."""
    from pointsmart.cards.models import Card, CardStatus
    from pointsmart.shop import redemptions
    from pointsmart.shop.models import Goods

    with committing(app) as session:
        notice_photo(
            session, session.scalar(sa.select(ScoringRound).where(ScoringRound.uuid == made["round"]))
        )
    household = made["households"][0]
    for step in range(2):
        with committing(app) as session:
            home = session.scalar(sa.select(Household).where(Household.uuid == household))
            card = session.scalar(
                sa.select(Card).where(Card.household_id == home.id, Card.status == CardStatus.ACTIVE)
            )
            towel = session.scalar(sa.select(Goods).where(Goods.name == "毛巾"))
            operator = session.scalar(sa.select(User).where(User.role == "chair"))
            redemptions.redeem(session, home.village_id, card, [(towel.id, 1)], operator)
        if not step:
            clock.advance(timedelta(seconds=10))


def build(a, b, county_app) -> SimpleNamespace:
    keys = {}
    with county_app.app_context():
        for code, name, township, township_name in (
            (A_CODE, "甲村", A_TOWNSHIP, "甲镇"),
            (B_CODE, "乙村", B_TOWNSHIP, "乙镇"),
            (C_CODE, "丙村", B_TOWNSHIP, "乙镇"),
        ):
            keys[code] = county.add_village(db.session, code, name, township, township_name)[1]
        db.session.commit()
    client = county_app.test_client()
    set_clock(2026, 4, 20)
    a_user, a_household = factories(a, user_prefix="a-", household_no="09", head="甲户", group="一社")
    b_user, b_household = factories(b)
    monthly_points(b, b_household())
    set_clock(2026, 11, 3)
    made = workload(b, b_user, b_household, month="2026-11")
    clean_november(b, made)
    set_clock(2026, 11, 20)
    push_all(b, client, keys[B_CODE])
    planted = plant(a, a_user, a_household)
    set_clock(2026, 11, 28)
    push_all(a, client, keys[A_CODE])
    set_clock(2026, 11, 29, hour=11)  # an hour past: a slow push still counts 9 whole days
    return SimpleNamespace(county_app=county_app, **planted)


@pytest.fixture(scope="module")
def scene(database, tmp_path_factory):
    """The villages and the county, built once for the module on databases of their own; a test that
    changes something (a threshold, a mark) puts it back or leaves what no other test reads."""
    folder = tmp_path_factory.mktemp("county-anomalies")
    with contextlib.ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        patch.setenv("POINTSMART_INSTANCE", str(folder / "instance"))
        sources = [
            stack.enter_context(contextlib.contextmanager(another_database)(database, tmp_path_factory, p))
            for p in ("pm_anomaly_a", "pm_anomaly_b", "pm_anomaly_county")
        ]
        a = _module_app(*sources[0], folder, "village-a")
        b = _module_app(*sources[1], folder, "village-b")
        county_app = _module_app(*sources[2], folder, "county", POINTSMART_MODE="county")
        for village_app, code, name, township in ((a, A_CODE, "甲村", "甲镇"), (b, B_CODE, "乙村", "乙镇")):
            with committing(village_app) as session:
                ensure_village(session, code, name, township_name=township, county_name="测试县")
        clock.reset()
        limiter.reset()
        try:
            yield build(a, b, county_app)
        finally:
            clock.reset()
            for each in (a, b, county_app):
                with each.app_context():
                    db.session.remove()
                    db.engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def filled(scene):
    set_clock(2026, 11, 29, hour=11)  # an hour past: a slow push still counts 9 whole days
    limiter.reset()
    yield scene
    clock.reset()


def findings(county_app, user=None):
    user = user or county_user(county_app, "county_admin")
    return queries(county_app, user, anomalies.findings, NOVEMBER)


def of(found, rule: str, code: str) -> list:
    return [f for f in found if f.rule == rule and f.village_code == code]


# --- each rule: planted and found, clean and not found --------------------------------------------------

CASES = {
    # rule: (planted village, clean village, the finding's subject from the scene, words of its reason)
    "notice_short": (A_CODE, B_CODE, "round", "公示期少于 5 天"),
    "household_outlier": (A_CODE, B_CODE, "household", "23 分"),
    "manual_share": (A_CODE, B_CODE, None, "手工加分 100 分"),
    "stock_exceeded": (A_CODE, B_CODE, "goods", "共兑换 32 件"),
    "issued_spike": (A_CODE, B_CODE, None, "前 6 个月平均 10 分"),
    "quick_repeat": (A_CODE, B_CODE, "second", "秒内在两个柜台各兑换了一次"),
    "silent": (B_CODE, A_CODE, None, "已经 9 天没有同步"),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_finds_its_planted_case_and_not_the_clean_village(filled, rule):
    planted, clean, subject, words = CASES[rule]
    found = findings(filled.county_app)
    hits = [f for f in of(found, rule, planted) if rule != "notice_short" or f.subject == filled.round]
    assert len(hits) == 1, [f.reason for f in found]
    hit = hits[0]
    if rule == "silent":  # the silence: since 乙村's last sync, on the 20th
        assert hit.subject.startswith("2026-11-20T")
    else:
        assert hit.subject == (
            getattr(filled, subject) if subject else ("2026-11" if rule == "issued_spike" else "")
        )
    assert words in hit.reason and hit.period == "2026-11" and not hit.checked
    assert of(found, rule, clean) == []


def test_a_notice_cut_short_of_the_villages_own_days_and_a_round_without_a_photo_are_found(filled):
    found = of(findings(filled.county_app), "notice_short", A_CODE)
    by_round = {f.subject: f.reason for f in found}
    assert set(by_round) == {filled.round, filled.cut_round}
    # 6 days is not under the county's 5, but under the village's own 7; it has its photo
    cut = by_round[filled.cut_round]
    assert "只有 6 天，少于本村设定的公示天数 7 天" in cut and "公示期少于" not in cut and "照片" not in cut
    # 2 days: the village's own (2) is kept, the county's 5 is not; and no photo of the notice
    first = by_round[filled.round]
    assert "本村设定" not in first and "公示期少于 5 天" in first and "没有上传公示照片" in first
    assert "只有 2 天，公示期少于 5 天" in first  # whole days without a decimal
    # 乙村: 5 days as its setting says, a photo: nothing
    assert of(findings(filled.county_app), "notice_short", B_CODE) == []


def test_a_publishing_time_stored_after_the_notice_end_is_taken_as_not_known(filled):
    """A round stored before the ingest refused it (published after its notice's end) is held to the
    creation-time bound, never said to have a notice of "-26687.8 天"."""
    from pointsmart.county.models import SyncedRound

    def set_published(value):
        with filled.county_app.app_context():
            cut = db.session.scalar(sa.select(SyncedRound).where(SyncedRound.uuid == filled.round))
            before, cut.published_at = cut.published_at, value
            db.session.commit()
            return before

    before = set_published(datetime(2099, 12, 31, 23, 59, 59))
    try:
        (hit,) = [
            f for f in of(findings(filled.county_app), "notice_short", A_CODE) if f.subject == filled.round
        ]
        assert "-" not in hit.reason and "从建立到公示结束只有" in hit.reason, hit.reason
    finally:
        set_published(before)


def test_a_notice_length_is_said_in_whole_days_or_with_one_decimal_when_needed():
    said = anomalies.days_text
    assert [said(timedelta(days=5)), said(timedelta(days=2, hours=12)), said(timedelta(hours=1))] == [
        "5",
        "2.5",
        "0",
    ]
    assert said(timedelta(days=6, hours=23, minutes=59)) == "7" and said(timedelta(hours=3)) == "0.1"


def test_the_county_holds_the_notice_and_counter_fields_it_checks_by(filled):
    from pointsmart.county.models import SyncedRedemption, SyncedRound

    with filled.county_app.app_context():
        cut = db.session.scalar(sa.select(SyncedRound).where(SyncedRound.uuid == filled.cut_round))
        assert (cut.notice_days, cut.notice_photos) == (7, 1)
        assert cut.notice_ends_at - cut.published_at == timedelta(days=6)
        second = db.session.scalar(sa.select(SyncedRedemption).where(SyncedRedemption.uuid == filled.second))
        first = db.session.scalar(
            sa.select(SyncedRedemption).where(
                SyncedRedemption.household_uuid == second.household_uuid, SyncedRedemption.uuid != second.uuid
            )
        )
        assert first.card_uuid == second.card_uuid and first.operator_uuid != second.operator_uuid
        assert len(second.card_uuid) == 36 and len(second.operator_uuid) == 36


def test_a_village_that_never_synced_is_silent_and_a_recount_mismatch_is_found(filled):
    assert len(of(findings(filled.county_app), "silent", C_CODE)) == 1
    assert of(findings(filled.county_app), "mismatch", B_CODE) == []
    with mismatched(filled.county_app, B_CODE, "balance_sum"):
        found = findings(filled.county_app)
        assert [f.reason for f in of(found, "mismatch", B_CODE)] == [
            "县里重算的总数与村里上报的不符：积分余额合计。"
        ]
        assert of(found, "mismatch", A_CODE) == []


def test_a_township_reviewer_sees_only_their_townships_findings(filled):
    reviewer = county_user(filled.county_app, township=B_TOWNSHIP)
    found = findings(filled.county_app, reviewer)
    assert found and {f.village_code for f in found} == {B_CODE, C_CODE}
    page = login(filled.county_app, reviewer).get("/county/anomalies" + ARGS).get_data(as_text=True)
    assert "甲村" not in page and "丙村" in page


# --- pages: the dashboard, the findings' page, the export ---------------------------------------------


def test_the_dashboard_lists_findings_in_words_with_a_link_to_the_evidence(filled):
    page = login(filled.county_app, county_user(filled.county_app)).get("/county/" + ARGS)
    text = page.get_data(as_text=True)
    section = text[text.index('id="anomalies-title"') : text.index('class="charts"')]
    assert "需要关注的情况" in section and "公示期过短" in section and "农户得分异常高" in section
    assert f"/county/villages/{A_CODE}?type=month&amp;key=2026-11#household-{filled.household}" in section
    village = login(filled.county_app, county_user(filled.county_app)).get(
        f"/county/villages/{A_CODE}" + ARGS
    )
    assert f'id="household-{filled.household}"' in village.get_data(as_text=True)


def test_the_findings_export_opens_with_openpyxl(filled):
    client = login(filled.county_app, county_user(filled.county_app))
    response = client.get("/county/anomalies.xlsx" + ARGS)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "检查项" in cells and "公示期过短或没有公示照片" in cells and "长时间未同步" in cells
    assert any("秒内在两个柜台各兑换了一次" in c for c in cells)
    # the sentences wrap in their columns (情况, 核查说明), top-aligned; the short columns do not
    header = [c.value for c in sheet[2]]
    reason, note, rule = header.index("情况") + 1, header.index("核查说明") + 1, header.index("检查项") + 1
    for row in range(3, sheet.max_row + 1):
        assert sheet.cell(row, reason).alignment.wrap_text and sheet.cell(row, note).alignment.wrap_text
        assert sheet.cell(row, reason).alignment.vertical == "top"
        assert not sheet.cell(row, rule).alignment.wrap_text


# --- marking a finding checked ------------------------------------------------------------------------


def test_a_reviewer_marks_a_finding_checked_it_is_audited_and_stays(filled):
    county_app = filled.county_app
    reviewer = county_user(county_app)
    client = login(county_app, reviewer)
    mark = {
        "rule": "silent",
        "village": C_CODE,
        "subject": "",
        "note": "村里网络断了，已电话联系",
    }
    response = client.post("/county/anomalies/check" + ARGS, data=mark)
    assert response.status_code == 303
    hit = of(findings(county_app), "silent", C_CODE)[0]
    assert hit.checked and hit.note == "村里网络断了，已电话联系" and hit.checked_by == reviewer.username
    with county_app.test_request_context():
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "county.anomaly.checked")
        ).all()[-1]
        assert entry.actor_id == reviewer.id and entry.data["rule"] == "silent"
        said = sentence(entry, Names(db.session))
        assert "长时间未同步" in said and "网络断了" in said and "丙村" in said
    page = client.get("/county/anomalies" + ARGS).get_data(as_text=True)
    assert "已核查" in page and "网络断了" in page
    # a second mark is refused and changes nothing; the first stays
    again = client.post(
        "/county/anomalies/check" + ARGS, data=mark | {"note": "再来一次"}, follow_redirects=True
    )
    assert "已经核查过了" in again.get_data(as_text=True)
    with county_app.app_context():
        marks = db.session.scalars(sa.select(AnomalyCheck).where(AnomalyCheck.rule == "silent")).all()
        assert [m.note for m in marks] == ["村里网络断了，已电话联系"]
    # a finding that does not exist cannot be marked
    missing = client.post(
        "/county/anomalies/check" + ARGS, data=mark | {"rule": "manual_share", "village": B_CODE}
    )
    assert missing.status_code == 303
    with county_app.app_context():
        assert (
            db.session.scalar(sa.select(AnomalyCheck).where(AnomalyCheck.village_id != marks[0].village_id))
            is None
        )


def test_a_township_reviewer_cannot_mark_another_townships_finding(filled):
    client = login(filled.county_app, county_user(filled.county_app, township=B_TOWNSHIP))
    mark = {"rule": "manual_share", "village": A_CODE, "subject": "", "note": ""}
    client.post("/county/anomalies/check" + ARGS, data=mark)
    with filled.county_app.app_context():
        assert db.session.scalar(sa.select(AnomalyCheck).where(AnomalyCheck.rule == "manual_share")) is None


# --- thresholds -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def defaults_after(county_app):
    try:
        yield
    finally:
        with county_app.app_context():
            db.session.execute(sa.delete(AnomalyThreshold))
            db.session.commit()


def form_of(values: dict) -> dict:
    return {rule.key: str(values.get(rule.key, rule.default)) for rule in anomalies.SETTABLE}


def test_the_county_admin_sets_a_threshold_and_the_findings_follow(filled):
    county_app = filled.county_app
    admin = login(county_app, county_user(county_app, "county_admin"))
    page = admin.get("/county/anomalies/thresholds")
    assert page.status_code == 200 and "超过全村中位数的倍数" in page.get_data(as_text=True)
    with defaults_after(county_app):
        response = admin.post("/county/anomalies/thresholds", data=form_of({"household_outlier": 10}))
        assert response.status_code == 303
        assert of(findings(county_app), "household_outlier", A_CODE) == []  # 23 is 7.7 × 3
        with county_app.test_request_context():
            assert anomalies.thresholds(db.session)["household_outlier"] == 10
            entry = db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == "county.anomaly.thresholds")
            ).all()[-1]
            assert entry.data == {"old": {"household_outlier": 5}, "new": {"household_outlier": 10}}
            assert "超过全村中位数的倍数" in sentence(entry, Names(db.session))
    assert len(of(findings(county_app), "household_outlier", A_CODE)) == 1


@pytest.mark.parametrize("value", ["abc", "0", "31", ""])
def test_a_bad_threshold_is_refused_naming_the_field(filled, value):
    county_app = filled.county_app
    admin = login(county_app, county_user(county_app, "county_admin"))
    with defaults_after(county_app):
        response = admin.post("/county/anomalies/thresholds", data=form_of({}) | {"notice_short": value})
        assert response.status_code == 400
        assert "公示期少于（天）" in response.get_data(as_text=True)
        with county_app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(AnomalyThreshold)) == 0


def test_a_reviewer_may_not_set_thresholds(filled):
    reviewer = login(filled.county_app, county_user(filled.county_app))
    assert reviewer.get("/county/anomalies/thresholds").status_code == 403
    assert reviewer.post("/county/anomalies/thresholds", data=form_of({"silent": 3})).status_code == 403
    with filled.county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AnomalyThreshold)) == 0


def test_the_thresholds_form_needs_a_csrf_token(filled):
    from pointsmart import create_app

    strict = create_app(filled.county_app.config | {"WTF_CSRF_ENABLED": True})
    admin = county_user(filled.county_app, "county_admin")
    client = strict.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    login = {"username": admin.username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    response = client.post("/county/anomalies/thresholds", data=form_of({"silent": 3}))
    assert response.status_code == 400
    with strict.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AnomalyThreshold)) == 0
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    "change",
    [{"note": "坏\x00字"}, {"note": "长" * 501}, {"rule": "no_such_rule"}, {"village": "620123199999"}],
)
def test_a_bad_mark_is_refused_in_words_and_records_nothing(filled, change):
    client = login(filled.county_app, county_user(filled.county_app))
    mark = {"rule": "silent", "village": B_CODE, "subject": "", "note": "好"} | change
    response = client.post("/county/anomalies/check" + ARGS, data=mark, follow_redirects=True)
    assert response.status_code == 200 and 'class="flash' in response.get_data(as_text=True)
    with filled.county_app.app_context():
        of_b = sa.select(AnomalyCheck).join(Village, Village.id == AnomalyCheck.village_id)
        assert db.session.scalar(of_b.where(Village.code == B_CODE)) is None
