"""A round a month's close carried on (结转) says so: its page names each month it was carried to, and
the scoring index marks it."""

from pointsmart.extensions import db
from pointsmart.org.services import home_village

from .test_month_close import close, set_clock

CARRIED = "已结转到 2026年12月"


def test_a_carried_round_names_the_months_it_was_carried_to(app, login_as):
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import workflow as scoring_workflow

    set_clock(2026, 11, 2)
    with app.app_context():
        village = home_village(db.session)
        category = scoring_criteria.save_category(db.session, village.id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            db.session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        carried = scoring_workflow.create_round(db.session, village, "monthly", "2026-11", "", None).id
        db.session.commit()
    set_clock(2026, 12, 3)
    chair = login_as("chair")
    page = chair.get(f"/scoring/rounds/{carried}").get_data(as_text=True)
    assert "已结转到" not in page and "2026年11月 月评定" in page
    assert chair.post(f"/closing/2026-11/carry/{carried}").status_code == 302
    assert close(chair).status_code == 302
    page = chair.get(f"/scoring/rounds/{carried}").get_data(as_text=True)
    assert f'id="round-carried">{CARRIED}</span>' in page
    # carried again out of December: both months named, in order
    set_clock(2027, 1, 4)
    chair = login_as("chair")
    assert chair.post(f"/closing/2026-12/carry/{carried}").status_code == 302
    with app.app_context():
        other = scoring_workflow.create_round(db.session, home_village(db.session), "monthly", "2027-01", "",
                                              None).id  # fmt: skip
        db.session.commit()
    page = chair.get(f"/scoring/rounds/{carried}").get_data(as_text=True)
    assert 'id="round-carried">已结转到 2026年12月、2027年1月</span>' in page
    page = chair.get(f"/scoring/rounds/{other}").get_data(as_text=True)
    assert "已结转到" not in page
    index = chair.get("/scoring/rounds").get_data(as_text=True)
    rows = {part.split('"', 1)[0]: part for part in index.split('href="/scoring/rounds/')[1:]}
    assert "已结转到 2026年12月、2027年1月" in rows[str(carried)]
    assert "已结转到" not in rows[str(other)]
