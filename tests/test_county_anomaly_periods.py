"""需要关注 across periods, through the real sync: a finding's mark covers it under its month, quarter
and year, and 月发放积分突增 averages only over the months since the village began.

测试村 begins in July 2026: 100 points in July, 1000 in August (one month before it: not compared,
where counting May and June as zeros made August a spike), 100 in September and October, 2000 in
November (4 months before it, averaging 325: a spike). It last syncs on 15 November; on 20 December
it has been silent for 35 days (the pages open on November, the last complete month).
"""

from datetime import datetime

import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.county import anomalies
from pointsmart.county.models import AnomalyCheck
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.models import Village
from pointsmart.periods import parse_period

from .conftest import VILLAGE_CODE, committing
from .sync_support import push_all, register
from .test_county_dashboard import county_user, login, queries, set_clock

MONTHLY = {7: 100, 8: 1000, 9: 100, 10: 100, 11: 2000}


@pytest.fixture
def village(app, county_app, make_household):
    from pointsmart.households.services import adjust_points

    set_clock(2026, 7, 1)
    household_id = make_household()
    for month, points in MONTHLY.items():
        set_clock(2026, month, 10)
        with committing(app) as session:
            adjust_points(session, session.get(Household, household_id), points, "志愿服务", actor_id=None)
    key = register(county_app)
    set_clock(2026, 11, 15)
    push_all(app, county_app.test_client(), key)
    set_clock(2026, 12, 20)
    yield county_app
    clock.reset()


def found(county_app, key: str, rule: str | None = None) -> list:
    user = county_user(county_app)
    every = queries(county_app, user, anomalies.findings, parse_period(key))
    return [f for f in every if rule is None or f.rule == rule]


def test_a_spike_needs_three_months_since_the_village_began(village):
    # August: only July before it (May and June were before the village used the system: no zeros)
    assert found(village, "2026-08", "issued_spike") == []
    (spike,) = found(village, "2026-11", "issued_spike")
    assert spike.subject == "2026-11" and "是前 4 个月平均 325 分的 6.2 倍" in spike.reason
    assert [f.subject for f in found(village, "2026", "issued_spike")] == ["2026-11"]
    rule = anomalies.RULE_BY_KEY["issued_spike"]
    assert "至少 3 个月" in str(rule.threshold_label)


def mark(county_app, key: str, rule: str, subject: str, note: str):
    kind = {7: "month", 6: "quarter", 4: "year"}[len(key)]
    client = login(county_app, county_user(county_app))
    return client.post(
        f"/county/anomalies/check?type={kind}&key={key}",
        data={"rule": rule, "village": VILLAGE_CODE, "subject": subject, "note": note},
        follow_redirects=True,
    )


def test_a_mark_under_a_month_covers_the_finding_under_its_quarter_and_year(village):
    assert mark(village, "2026-11", "issued_spike", "2026-11", "村里发了年终奖励").status_code == 200
    for key in ("2026-11", "2026-Q4", "2026"):
        (spike,) = found(village, key, "issued_spike")
        assert spike.checked and spike.note == "村里发了年终奖励", key
    # marked once: under the year it is checked already, and no second mark is kept
    again = mark(village, "2026", "issued_spike", "2026-11", "再来一次").get_data(as_text=True)
    assert "已经核查过了" in again
    with village.app_context():
        assert db.session.scalars(sa.select(AnomalyCheck.period)).all() == [""]


def test_a_silence_is_one_finding_marked_once_and_not_found_before_it_began(village):
    for key in ("2026-12", "2026-11", "2026-Q4", "2026"):
        (silence,) = found(village, key, "silent")
        assert silence.subject.startswith("2026-11-15T") and not silence.checked, key
    # it began on 15 November: not found in the months before (the pages open on November, the last
    # complete month on 20 December, and show it there and later)
    assert found(village, "2026-10", "silent") == [] and found(village, "2026-Q3", "silent") == []
    # on 25 November the pages open on October: a silence of now is shown there, not in September
    subject = found(village, "2026-11", "silent")[0].subject
    set_clock(2026, 11, 25)
    assert [f.subject for f in found(village, "2026-10", "silent")] == [subject]
    assert found(village, "2026-09", "silent") == []
    set_clock(2026, 12, 20)
    assert mark(village, "2026-11", "silent", subject, "网络断了").status_code == 200
    for key in ("2026-12", "2026-11", "2026-Q4", "2026", "2027-01"):
        (silence,) = found(village, key, "silent")
        assert silence.checked and silence.note == "网络断了", key


def test_marks_kept_with_their_period_before_still_count_in_every_period(village):
    """A mark made before (kept with the period it was made in, a silence's without a subject) is read."""
    with village.app_context():
        village_id = db.session.scalar(sa.select(Village.id).where(Village.code == VILLAGE_CODE))
        at = datetime(2026, 12, 19)
        db.session.add_all(
            [
                AnomalyCheck(rule="issued_spike", village_id=village_id, subject="2026-11", period="2026-11",
                             note="旧的核查", checked_at=at),
                AnomalyCheck(rule="silent", village_id=village_id, subject="", period="2026-12",
                             note="旧的未同步核查", checked_at=at),
            ]
        )  # fmt: skip
        db.session.commit()
    for key in ("2026-Q4", "2026"):
        (spike,) = found(village, key, "issued_spike")
        (silence,) = found(village, key, "silent")
        assert spike.note == "旧的核查" and silence.note == "旧的未同步核查", key
    # an old silence's mark made before the village last synced was another silence's
    with village.app_context():
        db.session.execute(sa.update(AnomalyCheck).values(checked_at=datetime(2026, 11, 1)))
        db.session.commit()
    (silence,) = found(village, "2026-12", "silent")
    assert not silence.checked
    assert found(village, "2026", "issued_spike")[0].checked
