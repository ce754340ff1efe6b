"""A notice photo (积分公示影视资料) documents the notice while it was up: a posting or taking-down day
before the notice went up or after it ended is refused with a 422 that names the field, and nothing is
kept; days within the notice are taken."""

import io

import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.periods import local_day
from pointsmart.scoring.models import NoticePhoto, ScoringRound

from .test_scoring_reports import _make_round, _png, _uploads
from .test_scoring_reports import scene as scene  # a rulebook and a panel, a fixture


def test_a_day_outside_the_notice_is_refused_naming_the_field(app, scene, login_as):
    published = _make_round(app, scene, "2026-11", {}, stop="notice")
    with app.app_context():
        found = db.session.get(ScoringRound, published.id)
        start, end = local_day(found.published_at), local_day(found.notice_ends_at)
    chair = login_as("chair")
    url = f"/ledgers/rounds/{published.id}/photos"

    def upload(**days):
        return chair.post(
            url,
            data={"photo": (io.BytesIO(_png()), "公示栏.png"), **{k: v.isoformat() for k, v in days.items()}},
            content_type="multipart/form-data",
        )

    before = start.replace(day=1) if start.day > 1 else start.replace(month=start.month - 1, day=28)
    after = end.replace(day=28) if end.day < 28 else end.replace(year=end.year + 1, month=1)
    for days, field, said in (
        ({"posted_from": before}, "posted_from", "张贴日期应在公示期内"),
        ({"posted_from": start, "posted_until": after}, "posted_until", "撤下日期应在公示期内"),
        ({"posted_from": after, "posted_until": after}, "posted_from", "日期不能晚于今天"),
    ):
        refused = upload(**days)
        assert refused.status_code == 422, days
        page = refused.get_data(as_text=True)
        assert said in page and ("公示期" not in said or f"{start.isoformat()} 至 {end.isoformat()}" in page)
        # said at the field: the message follows the field's input, the form is shown again
        form = page[page.index('name="posted_from"') :]
        at = form.index(said)
        assert form.rfind('name="', 0, at) == form.rfind(f'name="{field}"', 0, at), (field, days)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(NoticePhoto.id))) == 0
    assert not _uploads(app).exists() or not list(_uploads(app).iterdir())
    taken = upload(posted_from=start, posted_until=end)
    assert taken.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(NoticePhoto.id))) == 1
