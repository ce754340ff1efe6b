"""API tokens: each user lists and revokes their own; a chair revokes any of her village's but mints
only her own; a token's last use is recorded (at most once per few minutes)."""

import re
from datetime import timedelta

import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import ApiToken
from pointsmart.auth.services import TOKEN_USE_GRANULARITY
from pointsmart.extensions import db


def _mint(client, name: str) -> str:
    page = client.post("/tokens", data={"name": name}).get_data(as_text=True)
    return re.search(r"pm_[\w-]{20,}", page).group(0)


def _api(app, token):
    return app.test_client().get("/api/v1/goods", headers={"Authorization": f"Bearer {token}"})


def _rows(app, **where) -> list[ApiToken]:
    with app.app_context():
        rows = db.session.scalars(sa.select(ApiToken).filter_by(**where).order_by(ApiToken.id)).all()
        db.session.expunge_all()
        return rows


def test_a_user_sees_their_tokens_with_name_created_and_last_use(app, login_as):
    shopkeeper = login_as("shopkeeper")
    token = _mint(shopkeeper, "收银平板")
    page = shopkeeper.get("/tokens").get_data(as_text=True)
    assert "收银平板" in page and token[:10] in page and "从未使用" in page
    assert token not in page  # the token itself is shown once, never listed
    assert _api(app, token).status_code == 200
    (row,) = _rows(app, user_id=shopkeeper.user_id)
    assert row.name == "收银平板" and row.last_used_at is not None
    assert "从未使用" not in shopkeeper.get("/tokens").get_data(as_text=True)


def test_a_user_revokes_one_token_and_the_other_keeps_working(app, login_as):
    shopkeeper = login_as("shopkeeper")
    first, second = _mint(shopkeeper, "旧手机"), _mint(shopkeeper, "新平板")
    old = next(r for r in _rows(app, user_id=shopkeeper.user_id) if r.name == "旧手机")
    assert shopkeeper.post(f"/tokens/{old.id}/revoke").status_code == 302
    assert _api(app, first).status_code == 401
    assert _api(app, second).status_code == 200
    assert "已作废" in shopkeeper.get("/tokens").get_data(as_text=True)


def test_a_chair_sees_and_revokes_her_villages_tokens(app, login_as):
    chair, panel = login_as("chair"), login_as("panel")
    token = _mint(panel, "评分手机")
    (row,) = _rows(app, user_id=panel.user_id)
    assert "评分手机" in chair.get("/tokens").get_data(as_text=True)
    assert chair.post(f"/tokens/{row.id}/revoke").status_code == 302
    assert _api(app, token).status_code == 401
    with app.app_context():
        from pointsmart.audit.models import AuditEntry

        actions = db.session.scalars(sa.select(AuditEntry.action)).all()
    assert "auth.token.revoked" in actions


def test_others_cannot_see_or_revoke_a_token_not_theirs(app, login_as):
    chair, panel, shopkeeper = login_as("chair"), login_as("panel"), login_as("shopkeeper")
    token = _mint(chair, "主席电脑")
    (row,) = _rows(app, user_id=chair.user_id)
    assert "主席电脑" not in panel.get("/tokens").get_data(as_text=True)
    for other in (panel, shopkeeper):
        assert other.post(f"/tokens/{row.id}/revoke").status_code == 404
    assert _api(app, token).status_code == 200


def test_a_chair_mints_only_her_own_tokens(app, login_as):
    chair, panel = login_as("chair"), login_as("panel")
    # the old "token for this user" button and route are gone
    assert chair.post(f"/users/{panel.user_id}/token").status_code == 404
    assert "新建 API 令牌" not in chair.get("/users").get_data(as_text=True)
    _mint(chair, "x")
    assert [r.user_id for r in _rows(app)] == [chair.user_id]


def test_a_token_name_longer_than_60_is_refused(app, login_as):
    chair = login_as("chair")
    chair.post("/tokens", data={"name": "长" * 61})
    assert _rows(app) == []


def test_last_use_is_written_at_most_once_per_interval(app, login_as):
    shopkeeper = login_as("shopkeeper")
    token = _mint(shopkeeper, "平板")
    _api(app, token)
    (first,) = _rows(app)
    clock.advance(TOKEN_USE_GRANULARITY / 2)
    _api(app, token)
    assert _rows(app)[0].last_used_at == first.last_used_at
    clock.advance(TOKEN_USE_GRANULARITY)
    _api(app, token)
    assert _rows(app)[0].last_used_at >= first.last_used_at + timedelta(seconds=1)


def test_revoking_a_key_asks_first_naming_the_consequence(login_as):
    shopkeeper = login_as("shopkeeper")
    _mint(shopkeeper, "收银平板")
    page = shopkeeper.get("/tokens").get_data(as_text=True)
    (question,) = re.findall(r'data-confirm="([^"]+)"', page)
    assert "收银平板" in question and "立即连不上" in question and "不能恢复" in question
