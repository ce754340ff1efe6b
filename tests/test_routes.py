"""Every route, from the app's URL map, as anonymous and as every role: who may and who may not.

A new route fails ``test_every_route_has_an_access_rule`` until it is added to ACCESS (a village
instance's routes) or COUNTY_ACCESS (a county instance's) below, so no route can be forgotten. The
county's routes are checked twice: in a village instance they answer 404 to everyone; in a county
instance by role, a township reviewer included. CSRF is checked the same way for every form-posting
route.
"""

import re

import pytest
import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.ledger.models import Transfer

from .conftest import PASSWORD, VILLAGE_CODE

ROLES = ["chair", "panel", "shopkeeper", "county_reviewer", "county_admin"]
STAFF = {"chair", "panel", "shopkeeper"}
EVERYONE = {"anonymous", *ROLES}
LOGGED_IN = set(ROLES)
SHOP = {"chair", "shopkeeper"}

#: endpoint → who may use it
ACCESS = {
    "static": EVERYONE,
    "web.index": LOGGED_IN,
    "web.set_language": EVERYONE,
    "web.healthz": EVERYONE,
    "web.ca_certificate": EVERYONE,
    "auth.login": EVERYONE,
    "auth.logout": LOGGED_IN,
    "auth.password": LOGGED_IN,
    "auth.users": {"chair"},
    "auth.create": {"chair"},
    "auth.toggle_active": {"chair"},
    "auth.reset": {"chair"},
    "auth.tokens": LOGGED_IN,
    "auth.create_token": LOGGED_IN,
    # anyone may revoke a token they may see; the sample token is another user's (404 unless a chair's)
    "auth.revoke_token": LOGGED_IN,
    "auth.help_index": LOGGED_IN,
    "auth.help_page": LOGGED_IN,
    "households.index": STAFF,
    "households.show": STAFF,
    "households.new": {"chair"},
    "households.edit": {"chair"},
    "households.toggle_active": {"chair"},
    "households.adjust": {"chair"},
    "households.reverse": {"chair"},
    "households.import_roster": {"chair"},
    "households.import_confirm": {"chair"},
    "households.import_template": {"chair"},
    "households.export": {"chair"},
    "audit.index": {"chair"},
    "audit.export": {"chair"},
    "scoring.rulebook": {"chair", "panel"},
    "scoring.save_category": {"chair"},
    "scoring.criterion": {"chair"},
    "scoring.panel": {"chair"},
    "scoring.save_member": {"chair"},
    "scoring.remove_member": {"chair"},
    "scoring.settings": {"chair"},
    "scoring.rounds": {"chair", "panel"},
    "scoring.create_round": {"chair"},
    "scoring.overview": {"chair", "panel"},
    "scoring.grid": {"chair", "panel"},
    "scoring.checklist": {"chair", "panel"},
    "scoring.entry": {"chair", "panel"},
    "scoring.save_score": {"chair", "panel"},
    "scoring.upload_score_photo": {"chair", "panel"},
    "scoring.submit": {"chair", "panel"},
    "scoring.approve": {"chair", "panel"},
    "scoring.reopen": {"chair"},
    "scoring.publish": {"chair"},
    "scoring.finalise": {"chair"},
    "scoring.record_objection": {"chair"},
    "scoring.objection": {"chair"},
    "ledgers.index": {"chair", "panel"},
    "ledgers.score_sheet": {"chair", "panel"},
    "ledgers.score_sheet_xlsx": {"chair", "panel"},
    "ledgers.results_xlsx": {"chair", "panel"},
    "ledgers.minutes": {"chair", "panel"},
    "ledgers.edit_minutes": {"chair"},
    "ledgers.minutes_xlsx": {"chair", "panel"},
    "ledgers.photos": {"chair", "panel"},
    "ledgers.upload_photo": {"chair"},
    "ledgers.photo": {"chair", "panel"},
    "ledgers.delete_photo": {"chair"},
    "ledgers.photos_xlsx": {"chair", "panel"},
    "ledgers.register": {"chair", "panel"},
    "book.month_book": {"chair", "panel"},
    "book.month_book_xlsx": {"chair", "panel"},
    "ledgers.register_xlsx": {"chair", "panel"},
    "ledgers.wall_rules": {"chair", "panel"},
    "ledgers.wall_panel": {"chair", "panel"},
    "ledgers.wall_bylaws": {"chair", "panel"},
    "ledgers.bylaws_page": {"chair", "panel"},
    "ledgers.edit_bylaws": {"chair"},
    "ledgers.score_photo": {"chair", "panel"},
    "ledgers.mark_score_photo": {"chair"},
    "ledgers.delete_score_photo": {"chair"},
    "picture.index": {"chair"},
    "picture.export": {"chair"},
    "picture.chart": {"chair"},
    "public.notices": EVERYONE,
    "public.notice": EVERYONE,
    "public.honour": EVERYONE,
    # a photo the chair marked public, of a public round; any other (the sample's) is 404 to everyone
    "public.notice_photo": EVERYONE,
    # 三务公开: a closed month's accounts, its figures as hashed (an open month: said so / 404)
    "accounts.index": EVERYONE,
    "accounts.month": EVERYONE,
    "accounts.figures": EVERYONE,
    "api.openapi": EVERYONE,
    "api.households": {f"api:{r}" for r in STAFF},
    "api.household": {f"api:{r}" for r in STAFF},
    "api.transfers": {f"api:{r}" for r in STAFF},
    "api.adjustment": {"api:chair"},
    "api.rounds": {f"api:{r}" for r in STAFF},
    "api.round_detail": {f"api:{r}" for r in STAFF},
    "api.card": {f"api:{r}" for r in STAFF},
    "api.goods": {f"api:{r}" for r in STAFF},
    "api.redeem": {"api:chair", "api:shopkeeper"},
    "api.cancel_redemption": {"api:chair", "api:shopkeeper"},
    "api.ledger_summary": {"api:chair"},
    "cards.index": {"chair"},
    "cards.issue_all": {"chair"},
    "cards.issue": {"chair"},
    "cards.revoke": {"chair"},
    "cards.sheet": {"chair"},
    "cards.show": SHOP,
    "cards.qr": SHOP,
    "family.card": EVERYONE,
    # the card's token is the credential: anyone holding it (a 404 for an unknown one, or another's photo)
    "claims.new": EVERYONE,
    "claims.family_photo": EVERYONE,
    "claims.round_claims": {"chair", "panel"},
    "claims.accept": {"chair", "panel"},
    "claims.decline": {"chair", "panel"},
    "claims.photo": {"chair", "panel"},
    "shop.counter": SHOP,
    "shop.find": SHOP,
    "shop.photo": SHOP,
    "shop.basket": SHOP,
    "shop.receipt": SHOP,
    "shop.cancel": SHOP,
    "shop.redemptions": SHOP,
    "shop.goods": SHOP,
    "shop.edit_goods": {"chair"},
    "shop.stock": SHOP,
    "shop.stocktake": SHOP,
    "shop.goods_photo": EVERYONE,
    "shop_reports.index": SHOP,
    "shop_reports.daily": SHOP,
    "shop_reports.daily_xlsx": SHOP,
    "shop_reports.monthly": SHOP,
    "shop_reports.monthly_xlsx": SHOP,
    "shop_reports.stocktakes": SHOP,
    "shop_reports.stocktakes_xlsx": SHOP,
    "shop_reports.prices": SHOP,
    "shop_reports.prices_xlsx": SHOP,
    "shop_reports.redemptions": SHOP,
    "shop_reports.redemptions_xlsx": SHOP,
    "shop_reports.donors": SHOP,
    "shop_reports.donors_xlsx": SHOP,
    "shop_reports.donor": SHOP,
    "shop_reports.donor_xlsx": SHOP,
    "shop_reports.old_donor": SHOP,  # a saved link of the old kind, redirected
    "shop_reports.old_donor_xlsx": SHOP,
    "shop_reports.public_donors": EVERYONE,
    "sync.index": {"chair"},
    "sync.start_push": {"chair"},
    "sync.progress": {"chair"},
    "sync.bundle": {"chair"},
    "settings.index": {"chair"},
    "settings.save": {"chair"},
    "settings.save_points_rule": {"chair"},
    "settings.save_opening_days": {"chair"},
    "settings.backup_now": {"chair"},
    # 月结: the chair's page, closing a month, carrying a round (there is no route that reopens one)
    "closing.index": {"chair"},
    "closing.close": {"chair"},
    "closing.carry": {"chair"},
    "settings.download": {"chair"},
}

#: the county instance's own users: a county-wide reviewer, one limited to a township, an admin
COUNTY = {"county_reviewer", "township_reviewer", "county_admin"}

#: a county's public pages: anyone, logged in or not, whatever their scope
COUNTY_PUBLIC = {"anonymous", "chair", *COUNTY}

#: endpoint → who may use it in a county instance (a village instance has none of them: 404)
COUNTY_ACCESS = {
    # 三务公开 at the county: a village's closed months, rebuilt from its synced records (a village: 404)
    "accounts.county_village": COUNTY_PUBLIC,
    "accounts.county_month": COUNTY_PUBLIC,
    "county.dashboard": COUNTY,
    "county.export": COUNTY,
    "county.chart": COUNTY,
    "county.village": COUNTY,
    "county.village_export": COUNTY,
    "county.village_chart": COUNTY,
    "county.village_book": COUNTY,
    "county.village_book_xlsx": COUNTY,
    "county.upload_bundle": {"county_admin"},
    "county.bundle_part": {"county_admin"},
    "county.bundle_parts_done": {"county_admin"},
    "county.anomalies_page": COUNTY,
    "county.anomalies_export": COUNTY,
    "county.anomaly_check": COUNTY,
    "county.anomaly_thresholds": {"county_admin"},
    "api.county_villages": {f"api:{r}" for r in COUNTY},
    # a village's sync key, never a user's token (see test_county_route_access_by_role)
    "api.sync_batch": set(),
}


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules()), key=lambda r: (r.endpoint == "auth.logout", r.rule))


def _url(rule, sample) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[^:>]+:)?{name}>", str(sample[name]), url)
    return url


@pytest.fixture
def sample(app, make_user, make_household):
    hid = make_household(points=50)
    victim_id, _ = make_user("panel")
    with app.app_context():
        from pointsmart.households.models import Household
        from pointsmart.org.services import home_village
        from pointsmart.scoring import criteria as scoring_criteria
        from pointsmart.scoring import workflow as scoring_workflow
        from pointsmart.scoring.models import NoticePhoto, Objection, PanelMember

        household = db.session.get(Household, hid)
        transfer_id = db.session.scalar(sa.select(Transfer.id).order_by(Transfer.id.desc()))
        category = scoring_criteria.save_category(
            db.session, household.village_id, {"name": "环境卫生"}, None
        )
        criterion = scoring_criteria.save_criterion(
            db.session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        scoring_round = scoring_workflow.create_round(
            db.session, home_village(db.session), "monthly", "2026-11", "", None
        )
        objection = Objection(round_id=scoring_round.id, household_id=hid, objector="张三", content="不服")
        member = PanelMember(user_id=victim_id, label="执委")
        photo = NoticePhoto(
            round_id=scoring_round.id,
            stored_name="0123456789abcdef.png",
            content_type="image/png",
            width=1,
            height=1,
            size=67,
        )
        db.session.add_all([objection, member, photo])
        from pointsmart.cards import services as cards
        from pointsmart.claims.models import Claim, ClaimPhoto
        from pointsmart.shop import redemptions
        from pointsmart.shop import services as shop
        from pointsmart.shop.models import MoveKind

        card = cards.issue_card(db.session, household, None)
        claim = Claim(
            village_id=household.village_id,
            household_id=hid,
            card_id=card.id,
            criterion_id=criterion.id,
            round_id=scoring_round.id,
            round_criterion_id=scoring_round.criteria[0].id,
            happened_on=scoring_round.created_at.date(),
            note="参加了培训",
            reason="",
        )
        db.session.add(claim)
        db.session.flush()
        claim_photo = ClaimPhoto(
            claim_id=claim.id,
            stored_name="fedcba9876543210.png",
            content_type="image/png",
            width=1,
            height=1,
            size=67,
        )
        db.session.add(claim_photo)
        soap = shop.save_goods(db.session, household.village_id, {"name": "洗衣粉", "price": 10}, None)
        shop.receive_stock(db.session, soap, MoveKind.DONATION, 5, None, donor="爱心企业")
        from pointsmart.auth.models import User

        redemption = redemptions.redeem(
            db.session, household.village_id, card, [(soap.id, 1)], db.session.get(User, victim_id)
        )
        from pointsmart.auth.models import ApiToken
        from pointsmart.auth.services import create_api_token

        create_api_token(db.session, db.session.get(User, victim_id), name="victim")
        token_id = db.session.scalar(sa.select(sa.func.max(ApiToken.id)))
        db.session.commit()
        return {
            "card_id": card.id,
            "token_id": token_id,
            "token": card.token,
            "fmt": "png",
            "goods_id": soap.id,
            "redemption_id": redemption.id,
            "donor": "爱心企业",
            "household_id": hid,
            "household_uuid": household.uuid,
            "user_id": victim_id,
            "transfer_id": transfer_id,
            "filename": "css/app.css",
            "code": "zh",
            "guide": "panel",
            "category_id": category.id,
            "criterion_id": criterion.id,
            "round_id": scoring_round.id,
            "round_uuid": scoring_round.uuid,
            "objection_id": objection.id,
            "member_id": member.id,
            "photo_id": photo.id,
            "claim_id": claim.id,
            "village_code": VILLAGE_CODE,
            "table": "goods",  # a table both the dashboard and a village export
            "name": "trend",
            "month": "2026-11",
        }


def test_every_route_has_an_access_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert ACCESS.keys() & COUNTY_ACCESS.keys() == set()
    assert endpoints - ACCESS.keys() - COUNTY_ACCESS.keys() == set(), "add these routes to ACCESS"
    assert (ACCESS.keys() | COUNTY_ACCESS.keys()) - endpoints == set(), "these routes no longer exist"


def _client_for(app, who, make_user):
    client = app.test_client()
    if who == "anonymous":
        return client, {}
    user_id, name = make_user(who, village=not who.startswith("county"))
    assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302
    from pointsmart.auth.models import User
    from pointsmart.auth.services import create_api_token

    with app.app_context():
        token = create_api_token(db.session, db.session.get(User, user_id))
        db.session.commit()
    return client, {"Authorization": f"Bearer {token}"}


def _refused(response, api: bool) -> bool:
    if api:
        return response.status_code in (401, 403)
    if response.status_code == 403:
        return True
    # Flask-Login sends the anonymous to the log-in page with ?next=; a plain /login is log-out's answer
    return response.status_code == 302 and "/login?next=" in response.headers["Location"]


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_route_access_by_role(app, make_user, sample, who):
    client, headers = _client_for(app, who, make_user)
    checked = []
    for rule in _rules(app):
        allowed = ACCESS.get(rule.endpoint)
        if allowed is None:
            continue  # a county route (the next tests), or test_every_route_has_an_access_rule names it
        url = _url(rule, sample)
        api = rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        may = (f"api:{who}" in allowed) if api else (who in allowed)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(
                url,
                method=method,
                headers=headers if api else {},
                json={} if api and method == "POST" else None,
            )
            refused = _refused(response, api)
            assert refused != may, f"{who} {method} {url}: {response.status_code} (may={may})"
            assert response.status_code < 500, f"{who} {method} {url}: {response.status_code}"
            checked.append((method, url))
    assert len(checked) >= len(ACCESS)


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_county_routes_answer_404_in_a_village_instance(app, make_user, sample, who):
    client, headers = _client_for(app, who, make_user)
    checked = 0
    for rule in _rules(app):
        if rule.endpoint not in COUNTY_ACCESS:
            continue
        url = _url(rule, sample)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, headers=headers)
            # the anonymous are first asked to log in (the log-in check runs before the instance's mode)
            login_first = who == "anonymous" and not url.startswith("/api/") and _refused(response, False)
            assert response.status_code == 404 or login_first, f"{who} {method} {url}: {response.status_code}"
            checked += 1
    assert checked >= len(COUNTY_ACCESS)


# --- the county instance ----------------------------------------------------------------------------

OTHER_TOWNSHIP_VILLAGE = "620123106201"


@pytest.fixture
def county_sample(county_app):
    """Two villages in two townships, registered at the county; the first one's township and key."""
    from pointsmart.county import services as county

    with county_app.app_context():
        _village, key = county.add_village(db.session, "620123105299", "甲村", "620123105000", "甲镇")
        county.add_village(db.session, OTHER_TOWNSHIP_VILLAGE, "乙村", "620123106000", "乙镇")
        # each closed November (as its sync would say), so each has a month the county can open
        from datetime import datetime
        from uuid import uuid4

        from pointsmart.county.models import SyncedMonthClose
        from pointsmart.org.models import Village

        for village_id in db.session.scalars(sa.select(Village.id)):
            db.session.add(
                SyncedMonthClose(
                    village_id=village_id,
                    uuid=str(uuid4()),
                    month="2026-11",
                    sha256="0" * 64,
                    closed_at=datetime(2026, 12, 1, 2),
                )
            )
        db.session.commit()
    return {
        "village_code": "620123105299",
        "table": "goods",  # a table both the dashboard and a village export
        "name": "trend",
        "township": "620123105000",
        "month": "2026-11",
        "sync_key": key,
        "filename": "css/app.css",
        "code": "zh",
    }


def _county_client_for(county_app, who, sample):
    client = county_app.test_client()
    if who == "anonymous":
        return client, {}
    from pointsmart.auth.models import User
    from pointsmart.auth.services import create_api_token, create_user
    from pointsmart.org.models import Village

    role = "county_reviewer" if who == "township_reviewer" else who
    with county_app.app_context():
        village_id = None
        if role == "chair":  # a village's chair, who has no business at the county
            village_id = db.session.scalar(
                sa.select(Village.id).where(Village.code == sample["village_code"])
            )
        township = sample["township"] if who == "township_reviewer" else None
        user = create_user(
            db.session, f"u-{who}", role, PASSWORD, village_id=village_id, township_code=township
        )
        token = create_api_token(db.session, db.session.get(User, user.id))
        db.session.commit()
    assert client.post("/login", data={"username": f"u-{who}", "password": PASSWORD}).status_code == 302
    return client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "who", ["anonymous", "county_reviewer", "township_reviewer", "county_admin", "chair"]
)
def test_county_route_access_by_role(county_app, county_sample, who):
    client, headers = _county_client_for(county_app, who, county_sample)
    checked = 0
    for rule in _rules(county_app):
        if rule.endpoint not in COUNTY_ACCESS:
            continue
        allowed = COUNTY_ACCESS[rule.endpoint]
        api = rule.rule.startswith("/api/v1/")
        may = (f"api:{who}" in allowed) if api else (who in allowed)
        url = _url(rule, county_sample)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(
                url, method=method, headers=headers if api else {}, data=b"{}" if api else None
            )
            refused = _refused(response, api)
            assert refused != may, f"{who} {method} {url}: {response.status_code} (may={may})"
            assert response.status_code < 500, f"{who} {method} {url}: {response.status_code}"
            if rule.endpoint == "api.sync_batch":
                assert response.status_code == 401, "a user's token is not a village's sync key"
            checked += 1
            if "village_code" in rule.arguments and may and allowed is not COUNTY_PUBLIC:
                # another township's village does not exist for a township reviewer (a public page is
                # everyone's, whatever their scope)
                other = client.open(_url(rule, county_sample | {"village_code": OTHER_TOWNSHIP_VILLAGE}))
                expected = 404 if who == "township_reviewer" else 200
                assert other.status_code == expected, (
                    f"{who} {url} for the other township: {other.status_code}"
                )
    assert checked >= len(COUNTY_ACCESS)


def test_sync_batches_take_a_village_sync_key(county_app, county_sample):
    response = county_app.test_client().post(
        "/api/v1/sync/batches",
        data=b"{}",
        headers={"Authorization": f"Bearer {county_sample['sync_key']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_batch"


def _csrf_token(page: str) -> str:
    return re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page
    ).group(1)


def test_every_form_post_needs_a_csrf_token(make_app, make_user, sample):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    _id, name = make_user("chair")
    # the log-in form itself is protected
    assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 400
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    assert (
        client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code
        == 302
    )
    posts = [r for r in _rules(app) if "POST" in r.methods and not r.rule.startswith("/api/")]
    assert len(posts) >= 10
    for rule in posts:
        response = client.post(_url(rule, sample), data={})
        assert response.status_code == 400, f"POST {rule.rule} without CSRF token: {response.status_code}"
        assert "页面已过期" in response.get_data(as_text=True)


def test_county_form_posts_need_a_csrf_token(county_app, county_sample):
    from pointsmart import create_app
    from pointsmart.auth.services import create_user

    app = create_app(county_app.config | {"WTF_CSRF_ENABLED": True})
    with app.app_context():
        create_user(db.session, "admin-csrf", "county_admin", PASSWORD)
        db.session.commit()
    client = app.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    login = {"username": "admin-csrf", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    posts = [r for r in _rules(app) if "POST" in r.methods and r.endpoint.startswith("county.")]
    assert posts
    for rule in posts:
        response = client.post(_url(rule, county_sample), data={})
        assert response.status_code == 400, f"POST {rule.rule} without CSRF token: {response.status_code}"
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
