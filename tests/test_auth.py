"""Log-in, sessions that can be ended server-side, throttling, password hashing, user management."""

import re

import pytest
import sqlalchemy as sa
from argon2 import extract_parameters

from pointsmart.audit.models import AuditEntry
from pointsmart.auth import passwords
from pointsmart.auth.models import User
from pointsmart.extensions import db

from . import speedups
from .conftest import PASSWORD


def _user(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_password_is_hashed_with_argon2id_at_owasp_strength(app, make_user, monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", speedups.PRODUCTION_HASHER)  # the suite's is cheaper
    user_id, _ = make_user("chair")
    stored = _user(app, user_id).password_hash
    assert PASSWORD not in stored
    params = extract_parameters(stored)
    assert params.type.name == "ID"
    assert params.memory_cost >= 19_456 and params.time_cost >= 2 and params.parallelism >= 1


def test_login_then_home_shows_village(client, make_user):
    _id, name = make_user("chair")
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "测试村" in page and "620123105299" in page


def test_wrong_password_is_refused_and_audited(app, client, make_user):
    user_id, name = make_user("chair")
    response = client.post("/login", data={"username": name, "password": "wrong-password"})
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.get_data(as_text=True)
    with app.app_context():
        refused = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "auth.login.refused")
        ).all()
        assert [e.actor_id for e in refused] == [user_id]
        assert "wrong-password" not in str(refused[0].data)


def test_failed_logins_lock_out_that_user_name_even_from_another_address(app, make_user):
    _id, name = make_user("chair")
    attacker = app.test_client()
    for _ in range(5):
        assert attacker.post("/login", data={"username": name, "password": "guess"}).status_code == 401
    assert attacker.post("/login", data={"username": name, "password": "guess"}).status_code == 429
    # the right password from another machine is refused too, while the lock lasts
    other = app.test_client()
    locked = other.post(
        "/login", data={"username": name, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert locked.status_code == 429
    assert "尝试次数过多" in locked.get_data(as_text=True)


def test_lockout_of_one_name_leaves_other_villagers_alone(app, make_user):
    _a, locked_name = make_user("chair")
    _b, other_name = make_user("shopkeeper")
    client = app.test_client()
    for _ in range(6):
        client.post("/login", data={"username": locked_name, "password": "guess"})
    assert client.post("/login", data={"username": other_name, "password": PASSWORD}).status_code == 302


def test_successful_logins_do_not_count_towards_the_lockout(app, make_user):
    _id, name = make_user("chair")
    for _ in range(8):
        client = app.test_client()
        assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_logout_ends_the_session_server_side_so_a_replayed_cookie_is_refused(app, login_as):
    client = login_as("chair")
    stolen = _cookie(client)
    assert client.get("/households/").status_code == 200
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/households/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions_but_keeps_this_one(app, login_as):
    phone = login_as("chair")
    pc = app.test_client()
    pc.set_cookie("session", _cookie(phone))  # the same log-in copied elsewhere
    other_login = app.test_client()
    assert (
        other_login.post("/login", data={"username": phone.username, "password": PASSWORD}).status_code == 302
    )
    response = phone.post(
        "/password", data={"old": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1"}
    )
    assert response.status_code == 302
    assert phone.get("/households/").status_code == 200
    assert other_login.get("/households/").status_code == 302
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": phone.username, "password": PASSWORD}).status_code == 401
    assert (
        fresh.post("/login", data={"username": phone.username, "password": "a-new-password-1"}).status_code
        == 302
    )


def test_wrong_old_password_does_not_change_it(login_as):
    client = login_as("panel")
    response = client.post(
        "/password", data={"old": "nope-nope", "new": "another-pass-2", "confirm": "another-pass-2"}
    )
    assert response.status_code == 400
    assert "原密码不正确" in response.get_data(as_text=True)


def test_wrong_old_passwords_are_rate_limited_like_log_in(app, login_as):
    client = login_as("panel")

    def change(old: str, new: str = "another-pass-2"):
        return client.post("/password", data={"old": old, "new": new, "confirm": new})

    for _ in range(3):  # a new password too short is the user's slip, not a guess: it does not count
        assert change(PASSWORD, "short").status_code in (200, 400)
    for _ in range(5):
        assert change("a-guess-123").status_code == 400
    assert change("a-guess-123").status_code == 429
    locked = change(PASSWORD)  # even the right one, while the pause lasts
    assert locked.status_code == 429 and "尝试次数过多" in locked.get_data(as_text=True)
    with app.app_context():
        refused = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "auth.password.refused")
        ).all()
        assert len(refused) == 5 and {e.actor_id for e in refused} == {client.user_id}
    # another user on the same machine is not held up
    neighbour = login_as("panel")
    new = {"old": PASSWORD, "new": "another-pass-2", "confirm": "another-pass-2"}
    assert neighbour.post("/password", data=new).status_code == 302


def test_disabling_a_user_ends_their_sessions_and_api_tokens(app, login_as, api_token):
    chair = login_as("chair")
    shop = login_as("shopkeeper")
    assert shop.get("/households/").status_code == 200
    response = chair.post(f"/users/{shop.user_id}/active")
    assert response.status_code == 302
    assert shop.get("/households/").status_code == 302
    assert (
        app.test_client().post("/login", data={"username": shop.username, "password": PASSWORD}).status_code
        == 401
    )


def test_disabled_users_api_token_stops_working(app, make_user):
    from pointsmart.auth.services import create_api_token, set_active

    chair_id, _ = make_user("chair")
    user_id, _ = make_user("shopkeeper")
    with app.app_context():
        user = db.session.get(User, user_id)
        token = create_api_token(db.session, user)
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/households", headers=headers).status_code == 200
    with app.app_context():
        set_active(db.session, db.session.get(User, user_id), False, actor_id=chair_id)
        db.session.commit()
    assert client.get("/api/v1/households", headers=headers).status_code == 401


def test_chair_creates_a_user_who_can_log_in(app, login_as):
    chair = login_as("chair")
    response = chair.post(
        "/users",
        data={"username": "zhaomin", "display_name": "赵敏", "role": "panel", "password": "panel-pass-9"},
    )
    assert response.status_code == 302
    assert "zhaomin" in chair.get("/users").get_data(as_text=True)
    assert (
        app.test_client().post("/login", data={"username": "zhaomin", "password": "panel-pass-9"}).status_code
        == 302
    )


def test_user_names_are_unique_and_passwords_long_enough(login_as):
    chair = login_as("chair")
    short = chair.post("/users", data={"username": "abc", "role": "panel", "password": "short"})
    assert short.status_code == 400
    taken = chair.post(
        "/users", data={"username": chair.username, "role": "panel", "password": "long-enough-1"}
    )
    assert taken.status_code == 400
    assert "已被使用" in taken.get_data(as_text=True)


def test_chair_resets_a_password_and_old_sessions_end(app, login_as):
    chair = login_as("chair")
    panel = login_as("panel")
    assert (
        chair.post(f"/users/{panel.user_id}/password", data={"password": "reset-pass-77"}).status_code == 302
    )
    assert panel.get("/households/").status_code == 302
    assert (
        app.test_client()
        .post("/login", data={"username": panel.username, "password": "reset-pass-77"})
        .status_code
        == 302
    )


def test_chair_cannot_disable_themselves(login_as):
    chair = login_as("chair")
    response = chair.post(f"/users/{chair.user_id}/active")
    assert response.status_code == 409


def test_api_token_page_shows_a_token_once(app, login_as):
    chair = login_as("chair")
    page = chair.post("/tokens", data={"name": "收银平板"}).get_data(as_text=True)
    token = re.search(r"pm_[\w-]{20,}", page).group(0)
    assert (
        app.test_client().get("/api/v1/households", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def test_open_redirect_after_login_is_refused(client, make_user):
    _id, name = make_user("chair")
    response = client.post("/login?next=//evil.example/x", data={"username": name, "password": PASSWORD})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "header", ["Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"]
)
def test_security_headers_are_sent(client, header):
    response = client.get("/login")
    assert header in response.headers
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    _id, name = make_user("chair")
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_script_or_style_is_inline(login_as):
    page = login_as("chair").get("/households/").get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_a_password_change_ends_the_users_api_tokens(app, login_as):
    from pointsmart.auth.services import create_api_token

    client = login_as("chair")
    with app.app_context():
        token = create_api_token(db.session, db.session.get(User, client.user_id))
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/households", headers=headers).status_code == 200
    client.post("/password", data={"old": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1"})
    assert app.test_client().get("/api/v1/households", headers=headers).status_code == 401


def test_a_log_in_ends_after_the_configured_days(app, login_as):
    from datetime import timedelta

    from pointsmart import clock

    client = login_as("chair")
    clock.advance(timedelta(days=13))
    assert client.get("/households/").status_code == 200
    clock.advance(timedelta(days=2))
    assert client.get("/households/").status_code == 302


def test_the_password_page_after_the_limit_says_how_many_minutes_to_wait(login_as):
    client = login_as("panel")
    for _ in range(5):
        client.post(
            "/password", data={"old": "a-guess-123", "new": "another-pass-2", "confirm": "another-pass-2"}
        )
    locked = client.post(
        "/password", data={"old": PASSWORD, "new": "another-pass-2", "confirm": "another-pass-2"}
    )
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    wait = re.search(r"请 (\d+) 分钟后再试", page)
    assert wait and 1 <= int(wait.group(1)) <= 15, "the 15-minute window, in whole minutes"
    assert 'name="old"' in page, "still the password page, not a bare error page"


def test_the_log_in_page_after_the_limit_says_how_many_minutes_to_wait(app, make_user):
    _id, name = make_user("chair")
    client = app.test_client()
    for _ in range(5):
        client.post("/login", data={"username": name, "password": "guess"})
    page = client.post("/login", data={"username": name, "password": "guess"}).get_data(as_text=True)
    assert re.search(r"请 (1[0-5]|[1-9]) 分钟后再试", page) and 'name="username"' in page


def test_disabling_or_resetting_a_user_asks_first_naming_the_consequence(login_as, make_user):
    chair = login_as("chair")
    make_user("shopkeeper", username="xiaoli")
    page = chair.get("/users").get_data(as_text=True)
    confirms = re.findall(r'data-confirm="([^"]+)"', page)
    assert any("停用后，xiaoli 不能再登录" in c and "接口密钥全部作废" in c for c in confirms)
    assert any("重设后，xiaoli" in c for c in confirms)


def test_the_users_page_speaks_of_software_keys_not_api_tokens(login_as):
    page = login_as("chair").get("/users").get_data(as_text=True)
    assert "接口密钥（给收银机/其他软件用）" in page
    assert "API" not in page.split("<main", 1)[1] and "令牌" not in page.split("<main", 1)[1]
