"""Screenshots of the scoring pages for a person to look at (not a test: pytest does not collect it).

    POINTSMART_SHOTS=/tmp/shots POINTSMART_TEST_DB=sqlite .venv/bin/pytest -q tests/browser/shots_scoring.py

Each changed scoring page at 1366×768 and 390×844 (PNG), and printed: an A4 PDF and a PNG of the page in
print media at A4's printable width. Files go to $POINTSMART_SHOTS (default tests/artifacts/shots-scoring).
"""

import os
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.extensions import db
from pointsmart.org.services import home_village
from pointsmart.scoring import finalisation, services
from pointsmart.scoring.models import ScoringRound

from ..conftest import committing
from .conftest import _open, login
from .test_scoring import make_households, make_panel, make_rulebook

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SHOTS = Path(os.environ.get("POINTSMART_SHOTS", ARTIFACTS / "shots-scoring"))
SIZES = {
    "1366": {"viewport": {"width": 1366, "height": 768}},
    "390": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}


def shoot(browser, live_server, user, name, url, full=False):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, options in SIZES.items():
        context, page = _open(browser, live_server, options)
        login(page, user)
        page.goto(url)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=full)
        if size == "1366":
            page.pdf(path=str(SHOTS / f"{name}-a4.pdf"), format="A4", print_background=True)
            # what the A4 sheet shows: the printable width of A4 (210 mm less margins) in print media
            page.set_viewport_size({"width": 720, "height": 1018})
            page.emulate_media(media="print")
            page.screenshot(path=str(SHOTS / f"{name}-a4.png"), full_page=full)
        context.close()


def test_shots(browser, live_server, app, village_id, make_user):
    make_rulebook(
        app,
        village_id,
        [
            ("庭院整洁", 5, "monthly", 1),
            ("志愿服务", 3, "monthly", 4),
            ("乱堆乱放", -10, "monthly", 1),
            ("义务劳动", 1, "monthly", 12),
            ("孝老爱亲", 5, "monthly", 1),
            ("移风易俗", 4, "monthly", 1),
        ],
    )
    chair, member1, member2 = make_panel(app, make_user, [("chair", []), ("panel", []), ("panel", [])])
    groups = ["一社", "二社", "三社"]
    make_households(
        app,
        village_id,
        [
            (
                f"0{1 + i % 3}-{i // 3 + 1:03d}",
                ["王秀英", "李桂兰", "张玉梅", "刘淑珍", "陈玉兰", "赵桂芳"][i % 6] + str(i),
                groups[i % 3],
                20,
            )
            for i in range(60)
        ],
    )
    with committing(app) as session:
        found = services.create_round(session, home_village(session), "monthly", "2026-10", "", None)
        round_id = found.id
        users = {u.username: u for u in session.scalars(sa.select(User))}
        ids = [c.id for c in found.criteria]
        for n, h in enumerate(services.round_households(session, found)[:40]):
            for j, cid in enumerate(ids):
                services.set_score(
                    session, found, h.id, cid, ((n + j) % 3 == 0) * (1 if j != 3 else 11), users[member1]
                )
        other = services.create_round(session, home_village(session), "monthly", "2026-09", "", None)
        for h in services.round_households(session, other)[:30]:
            services.set_score(session, other, h.id, other.criteria[0].id, 1, users[member1])
        services.submit_round(session, other, users[chair])
        services.approve_round(session, other, users[member1])
        services.approve_round(session, other, users[member2])
        services.publish_round(session, other, users[chair].id)
        other_id = other.id
    shoot(browser, live_server, member1, "grid", f"/scoring/rounds/{round_id}/grid")
    shoot(browser, live_server, member1, "checklist", f"/scoring/rounds/{round_id}/households")
    with app.app_context():
        first = services.round_households(db.session, db.session.get(ScoringRound, round_id))[0].id
    shoot(browser, live_server, member1, "entry", f"/scoring/rounds/{round_id}/households/{first}")
    with committing(app) as session:
        found = session.get(ScoringRound, round_id)
        services.submit_round(session, found, session.scalar(sa.select(User).filter_by(username=member1)))
        services.approve_round(session, found, session.scalar(sa.select(User).filter_by(username=member2)))
    shoot(browser, live_server, member1, "round-submitter", f"/scoring/rounds/{round_id}", full=True)
    shoot(browser, live_server, chair, "round-1-of-2", f"/scoring/rounds/{round_id}", full=True)
    clock.advance(timedelta(days=6))
    shoot(browser, live_server, chair, "round-notice-over", f"/scoring/rounds/{other_id}", full=True)
    shoot(browser, live_server, chair, "panel", "/scoring/panel", full=True)
    with committing(app) as session:
        finalisation.finalise_round(session, session.get(ScoringRound, other_id), None)
    shoot(browser, live_server, chair, "register", "/ledgers/register?year=2026", full=True)
