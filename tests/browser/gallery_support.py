"""The page gallery's inventory and data: which pages of the URL map it opens, as whom, with what.

:data:`PAGES` names every HTML page of the URL map (by its rule), the roles that may see it and how to
fill its URL parameters from the demo data; :data:`EXCLUDED` names, with a reason, every GET rule that is
not a page (APIs, downloads, images, redirects). ``tests/browser/test_gallery.py`` fails when a rule is
in neither — so a new page joins the gallery the day it is written.

:func:`build_village` loads the demo village (``seed/demo``: 120 households, goods, cards, last month's
round finalised with its sales and stocktake, this month's round open) and adds what some pages need to
show something: this month's round on public notice with an objection, a sale and a stocktake today,
and last month closed. :func:`build_county` registers that village with a county instance and pushes
its ledger there by real sync.
"""

import csv
import io
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from PIL import Image

from pointsmart import tls
from pointsmart.auth.services import create_user, find_user
from pointsmart.cards.models import Card
from pointsmart.cards.services import mask_name
from pointsmart.closing import services as closing
from pointsmart.county import services as county
from pointsmart.demo import load_demo
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import household_by_no
from pointsmart.ledger.models import Account
from pointsmart.org.models import Village
from pointsmart.periods import Period, today
from pointsmart.scoring import bylaws, score_entry, score_photos
from pointsmart.scoring import workflow as scoring_workflow
from pointsmart.scoring.models import Category, Criterion, ScorePhoto, ScoringRound
from pointsmart.shop import redemptions, registers
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, StockMove
from pointsmart.sync.client import push

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seed" / "demo"
#: where the screenshots and PDFs go (git-ignored); `make gallery` fills it
GALLERY = ROOT / "gallery"
#: axe-core, installed at test time by `npm ci` in tests/js (`make js-deps`); never committed
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"

PUBLIC = "public"  # no one logged in: the villagers' own pages
CHAIR, PANEL, SHOPKEEPER = "chair", "panel", "shopkeeper"
COUNTY_ADMIN, COUNTY_REVIEWER = "county_admin", "county_reviewer"
VILLAGE_STAFF = (CHAIR, PANEL, SHOPKEEPER)
COUNTY_STAFF = (COUNTY_ADMIN, COUNTY_REVIEWER)

#: the gallery's log-ins: the demo village's own users (seed/demo/users.json) and two county users
USERS = {
    CHAIR: ("chair", "demo-chair-2026"),
    PANEL: ("panel1", "demo-panel-2026"),
    SHOPKEEPER: ("shop", "demo-shop-2026"),
    COUNTY_ADMIN: ("county", "demo-county-2026"),
    COUNTY_REVIEWER: ("reviewer", "demo-review-2026"),
}

SIZES = {
    "1366": {"viewport": {"width": 1366, "height": 768}},
    "390": {
        "viewport": {"width": 390, "height": 844},
        "screen": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
PHONE = "390"


def _last_month() -> str:
    """The demo's history month (pointsmart/demo.py): the month before today, which build_village closes."""
    return Period.of(today()).previous.key


@dataclass
class Ids:
    """The demo data's rows the pages are opened on."""

    household: int = 0
    card: int = 0
    card_token: str = ""
    round: int = 0
    round_uuid: str = ""
    goods: int = 0
    category: int = 0
    criterion: int = 0
    objection: int = 0
    redemption: int = 0
    donor: str = ""
    village_code: str = ""
    #: a closed month, for 三务公开 (/accounts/<month>)
    closed_month: str = ""


@dataclass(frozen=True)
class Page:
    rule: str  #: the URL rule, exactly as in app.url_map
    endpoint: str
    roles: tuple[str, ...]
    args: Callable[[Ids], dict] = field(default=lambda ids: {})
    tier: str = "village"  #: "village" or "county": which kind of instance serves it
    #: why roles not listed, who may see the page too, need no look of their own (e.g. every signed-in user
    #: may read every role's guide; each guide is opened as the role it is written for); empty: they may not
    others_see_the_same: str = ""

    @property
    def name(self) -> str:
        """A short, file-safe name: the endpoint (and the rule's last word when an endpoint has two rules)."""
        if self.endpoint in _SHARED_ENDPOINTS:
            tail = re.sub(r"<[^>]+>", "", self.rule).rstrip("/").rsplit("/", 1)[-1]
            return f"{self.endpoint}.{tail}"
        return self.endpoint


_SHARED_ENDPOINTS = {"scoring.criterion", "shop.edit_goods"}

_EVERY_GUIDE = "every signed-in user may read every guide; each is opened by its own role"


PAGES: list[Page] = [
    # --- everyone, and the shell ---
    Page("/login", "auth.login", (PUBLIC,)),
    Page("/", "web.index", VILLAGE_STAFF),
    Page("/password", "auth.password", VILLAGE_STAFF),
    Page("/tokens", "auth.tokens", VILLAGE_STAFF),
    Page("/users", "auth.users", (CHAIR,)),
    Page("/audit/", "audit.index", (CHAIR,)),
    Page("/sync/", "sync.index", (CHAIR,)),
    Page("/settings/", "settings.index", (CHAIR,)),
    Page("/closing/", "closing.index", (CHAIR,)),
    *(
        Page(
            "/help/<guide>",
            "auth.help_page",
            (role,),
            lambda i, g=guide: {"guide": g},
            others_see_the_same=_EVERY_GUIDE,
        )
        for role, guide in ((CHAIR, "chair"), (PANEL, "panel"), (SHOPKEEPER, "shopkeeper"))
    ),
    # --- households and cards ---
    Page("/households/", "households.index", VILLAGE_STAFF),
    Page("/households/new", "households.new", (CHAIR,)),
    Page(
        "/households/<int:household_id>",
        "households.show",
        VILLAGE_STAFF,
        lambda i: {"household_id": i.household},
    ),
    Page(
        "/households/<int:household_id>/edit",
        "households.edit",
        (CHAIR,),
        lambda i: {"household_id": i.household},
    ),
    Page("/households/import", "households.import_roster", (CHAIR,)),
    Page("/cards", "cards.index", (CHAIR,)),
    # one 村民小组's sheet (24 cards, 3 A4 pages): the whole village's 15 pages add time, not knowledge
    Page("/cards/sheet", "cards.sheet", (CHAIR,), lambda i: {"group": "一社"}),
    Page("/cards/<int:card_id>", "cards.show", (CHAIR, SHOPKEEPER), lambda i: {"card_id": i.card}),
    Page("/c/<token>", "family.card", (PUBLIC,), lambda i: {"token": i.card_token}),
    Page("/c/<token>/claims/new", "claims.new", (PUBLIC,), lambda i: {"token": i.card_token}),
    # --- scoring ---
    Page("/scoring/rulebook", "scoring.rulebook", (CHAIR, PANEL)),
    Page(
        "/scoring/rulebook/categories/<int:category_id>/criteria/new",
        "scoring.criterion",
        (CHAIR,),
        lambda i: {"category_id": i.category},
    ),
    Page(
        "/scoring/rulebook/criteria/<int:criterion_id>",
        "scoring.criterion",
        (CHAIR,),
        lambda i: {"criterion_id": i.criterion},
    ),
    Page("/scoring/panel", "scoring.panel", (CHAIR,)),
    Page("/scoring/rounds", "scoring.rounds", (CHAIR, PANEL)),
    Page(
        "/scoring/rounds/<int:round_id>/households",
        "scoring.checklist",
        (CHAIR, PANEL),
        lambda i: {"round_id": i.round},
    ),
    Page(
        "/scoring/rounds/<int:round_id>", "scoring.overview", (CHAIR, PANEL), lambda i: {"round_id": i.round}
    ),
    Page(
        "/scoring/rounds/<int:round_id>/grid", "scoring.grid", (CHAIR, PANEL), lambda i: {"round_id": i.round}
    ),
    Page(
        "/scoring/rounds/<int:round_id>/households/<int:household_id>",
        "scoring.entry",
        (CHAIR, PANEL),
        lambda i: {"round_id": i.round, "household_id": i.household},
    ),
    Page(
        "/scoring/rounds/<int:round_id>/claims",
        "claims.round_claims",
        (CHAIR, PANEL),
        lambda i: {"round_id": i.round},
    ),
    Page(
        "/scoring/objections/<int:objection_id>",
        "scoring.objection",
        (CHAIR,),
        lambda i: {"objection_id": i.objection},
    ),
    Page("/ledgers/", "ledgers.index", (CHAIR, PANEL)),
    Page(
        "/ledgers/rounds/<int:round_id>/scores",
        "ledgers.score_sheet",
        (CHAIR, PANEL),
        lambda i: {"round_id": i.round},
    ),
    Page(
        "/ledgers/rounds/<int:round_id>/minutes",
        "ledgers.minutes",
        (CHAIR, PANEL),
        lambda i: {"round_id": i.round},
    ),
    Page(
        "/ledgers/rounds/<int:round_id>/minutes/edit",
        "ledgers.edit_minutes",
        (CHAIR,),
        lambda i: {"round_id": i.round},
    ),
    Page(
        "/ledgers/rounds/<int:round_id>/photos",
        "ledgers.photos",
        (CHAIR, PANEL),
        lambda i: {"round_id": i.round},
    ),
    Page("/ledgers/register", "ledgers.register", (CHAIR, PANEL)),
    Page("/ledgers/wall/rules", "ledgers.wall_rules", (CHAIR, PANEL)),
    Page("/ledgers/wall/panel", "ledgers.wall_panel", (CHAIR, PANEL)),
    # the book of the demo's month (last month, pointsmart/demo.py): its round's score sheet and register
    # are the widest tables of the book, beside its sales and stocktake
    Page("/ledgers/book/<month>", "book.month_book", (CHAIR, PANEL), lambda i: {"month": _last_month()}),
    Page("/ledgers/wall/bylaws", "ledgers.wall_bylaws", (CHAIR, PANEL)),
    Page("/ledgers/bylaws", "ledgers.bylaws_page", (CHAIR, PANEL)),
    Page("/ledgers/bylaws/edit", "ledgers.edit_bylaws", (CHAIR,)),
    # the default month, last month: the demo's round, points, sales and stock
    Page("/picture/", "picture.index", (CHAIR,)),
    Page("/notice", "public.notices", (PUBLIC,)),
    Page("/notice/<round_uuid>", "public.notice", (PUBLIC,), lambda i: {"round_uuid": i.round_uuid}),
    Page("/honour", "public.honour", (PUBLIC,)),
    Page("/accounts/", "accounts.index", (PUBLIC,)),
    # the month build_village closes (the demo's last month: its round, points, goods and sales)
    Page("/accounts/<month>", "accounts.month", (PUBLIC,), lambda i: {"month": i.closed_month}),
    # --- the shop ---
    Page("/shop/counter", "shop.counter", (CHAIR, SHOPKEEPER)),
    Page(
        "/shop/counter/cards/<int:card_id>", "shop.basket", (CHAIR, SHOPKEEPER), lambda i: {"card_id": i.card}
    ),
    Page(
        "/shop/redemptions/<int:redemption_id>",
        "shop.receipt",
        (CHAIR, SHOPKEEPER),
        lambda i: {"redemption_id": i.redemption},
    ),
    Page("/shop/redemptions", "shop.redemptions", (CHAIR, SHOPKEEPER)),
    Page("/shop/goods", "shop.goods", (CHAIR, SHOPKEEPER)),
    Page("/shop/goods/new", "shop.edit_goods", (CHAIR,)),
    Page("/shop/goods/<int:goods_id>/edit", "shop.edit_goods", (CHAIR,), lambda i: {"goods_id": i.goods}),
    Page("/shop/goods/<int:goods_id>", "shop.stock", (CHAIR, SHOPKEEPER), lambda i: {"goods_id": i.goods}),
    Page("/shop/stocktake", "shop.stocktake", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/", "shop_reports.index", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/daily", "shop_reports.daily", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/monthly", "shop_reports.monthly", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/ledgers/stocktakes", "shop_reports.stocktakes", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/ledgers/prices", "shop_reports.prices", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/ledgers/redemptions", "shop_reports.redemptions", (CHAIR, SHOPKEEPER)),
    Page("/shop/reports/donors", "shop_reports.donors", (CHAIR, SHOPKEEPER)),
    Page(
        "/shop/reports/donor",
        "shop_reports.donor",
        (CHAIR, SHOPKEEPER),
        lambda i: {"name": registers.donor_key(i.donor)},
    ),
    Page("/shop/reports/public/donors", "shop_reports.public_donors", (PUBLIC,)),
    # --- the county instance (POINTSMART_MODE=county) ---
    # the default period, last month: the demo's synced history
    Page("/county/", "county.dashboard", COUNTY_STAFF, tier="county"),
    Page(
        "/county/villages/<village_code>",
        "county.village",
        COUNTY_STAFF,
        lambda i: {"village_code": i.village_code},
        tier="county",
    ),
    # a village's month as the county rebuilds it, from the 月结 table: last month, which build_village closes
    Page(
        "/county/villages/<village_code>/book/<month>",
        "county.village_book",
        COUNTY_STAFF,
        lambda i: {"village_code": i.village_code, "month": _last_month()},
        tier="county",
    ),
    Page("/county/bundles", "county.upload_bundle", (COUNTY_ADMIN,), tier="county"),
    Page("/county/anomalies", "county.anomalies_page", COUNTY_STAFF, tier="county"),
    Page("/county/anomalies/thresholds", "county.anomaly_thresholds", (COUNTY_ADMIN,), tier="county"),
    # the family's card page at the county, from the village's synced data (the card's QR holds the
    # county's address once the village has one)
    Page("/c/<token>", "family.card", (PUBLIC,), lambda i: {"token": i.card_token}, tier="county"),
    # the public pages a family reaches from that card page: the villages' rounds on notice (their scores
    # are at the village until finalised), and a village's closed months as the county rebuilds them
    Page("/notice", "public.notices", (PUBLIC,), tier="county"),
    Page("/accounts/", "accounts.index", (PUBLIC,), tier="county"),
    Page(
        "/accounts/<village_code>/",
        "accounts.county_village",
        (PUBLIC,),
        lambda i: {"village_code": i.village_code},
        tier="county",
    ),
    Page(
        "/accounts/<village_code>/<month>",
        "accounts.county_month",
        (PUBLIC,),
        lambda i: {"village_code": i.village_code, "month": i.closed_month},
        tier="county",
    ),
    # the county's own shell pages (a second look at them, with the county's top bar)
    Page("/login", "auth.login", (PUBLIC,), tier="county"),
    Page("/password", "auth.password", COUNTY_STAFF, tier="county"),
    Page("/tokens", "auth.tokens", COUNTY_STAFF, tier="county"),
    Page(
        "/help/<guide>",
        "auth.help_page",
        COUNTY_STAFF,
        lambda i: {"guide": "county"},
        tier="county",
        others_see_the_same=_EVERY_GUIDE,
    ),
]

#: GET rules of the URL map that are not pages to look at, and why (the gallery test checks each is real)
EXCLUDED = {
    # the JSON API (tests/test_api.py, tests/test_api_fuzz.py)
    **{
        rule: "JSON API"
        for rule in (
            "/api/v1/cards/<token>",
            "/api/v1/county/villages",
            "/api/v1/goods",
            "/api/v1/households/<household_uuid>",
            "/api/v1/households",
            "/api/v1/ledger/summary",
            "/api/v1/openapi.json",
            "/api/v1/rounds/<int:round_id>",
            "/api/v1/rounds",
            "/api/v1/households/<household_uuid>/transfers",
        )
    },
    "/sync/progress": "JSON polled by the sync page's script",
    "/healthz": "plain-text health check for monitoring",
    "/ca.crt": "download (the village CA's certificate, for phones to install)",
    "/static/<path:filename>": "static files",
    "/lang/<code>": "redirect: sets the language cookie and goes back",
    # downloads: workbooks, images, bundles (their contents are tested where they are made)
    "/households/export.xlsx": "download (xlsx)",
    "/cards/<int:card_id>/qr.<any(png, svg):fmt>": "download (QR image)",
    "/ledgers/rounds/<int:round_id>/scores.xlsx": "download (xlsx)",
    "/ledgers/rounds/<int:round_id>/results.xlsx": "download (xlsx)",
    "/ledgers/rounds/<int:round_id>/minutes.xlsx": "download (xlsx)",
    "/ledgers/rounds/<int:round_id>/photos.xlsx": "download (xlsx)",
    "/ledgers/photos/<int:photo_id>": "download (a notice photo, image)",
    "/ledgers/score-photos/<int:photo_id>": "download (a score photo, image)",
    "/notice/<round_uuid>/photos/<int:photo_id>": "download (a score photo marked public, image)",
    "/accounts/<month>.json": "download (a closed month's figures as hashed, JSON)",
    "/ledgers/register.xlsx": "download (xlsx)",
    "/ledgers/book/<month>.xlsx": "download (xlsx)",
    "/shop/goods/<int:goods_id>/photo": "download (goods photo, image)",
    "/c/<token>/claims/photos/<int:photo_id>": "image (a family's claim photo, shown on its card page)",
    "/scoring/claims/photos/<int:photo_id>": "image (a claim photo, beside the grid and on the claims page)",
    "/shop/reports/daily.xlsx": "download (xlsx)",
    "/shop/reports/monthly.xlsx": "download (xlsx)",
    "/shop/reports/ledgers/stocktakes.xlsx": "download (xlsx)",
    "/shop/reports/ledgers/prices.xlsx": "download (xlsx)",
    "/shop/reports/ledgers/redemptions.xlsx": "download (xlsx)",
    "/shop/reports/donors.xlsx": "download (xlsx)",
    "/shop/reports/donor.xlsx": "download (xlsx)",
    "/shop/reports/donors/<path:donor>": "redirect: a donor's old address, to /shop/reports/donor?name=",
    "/shop/reports/donors/<path:donor>.xlsx": "redirect: a donor workbook's old address, to its new one",
    "/sync/bundle": "download (sync bundle for the USB stick)",
    "/help/": "redirect: to the signed-in role's own guide",
    "/households/import/template.xlsx": "download (xlsx)",
    "/settings/backup/download": "download (a copy of the database)",
    "/audit/export": "download (xlsx)",
    "/picture/export/<table>.xlsx": "download (xlsx)",
    "/picture/charts/<name>.svg": "image (SVG chart, shown inside the village picture)",
    "/county/export/<table>.xlsx": "download (xlsx)",
    "/county/anomalies.xlsx": "download (xlsx)",
    "/county/villages/<village_code>/export/<table>.xlsx": "download (xlsx)",
    "/county/villages/<village_code>/book/<month>.xlsx": "download (xlsx)",
    "/county/charts/<name>.svg": "image (SVG chart, shown inside the county pages)",
    "/county/villages/<village_code>/charts/<name>.svg": "image (SVG chart, shown inside the county pages)",
}


# --- the data ------------------------------------------------------------------------------------------


def _score_photos(session, app, scoring_round, household_id: int) -> None:
    yard = next((c for c in scoring_round.criteria if score_photos.takes_before_after(c)), None)
    folder = score_photos.folder_of(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    for number, (stage, colour) in enumerate([("before", (150, 120, 90)), ("after", (90, 160, 90))]):
        out = io.BytesIO()
        Image.new("RGB", (800, 600), colour).save(out, "JPEG", quality=80)
        name = f"gallery{number}.jpg"
        (folder / name).write_bytes(out.getvalue())
        session.add(
            ScorePhoto(
                round_id=scoring_round.id,
                household_id=household_id,
                round_criterion_id=yard.id if yard else None,
                stage=stage if yard else "",
                stored_name=name,
                content_type="image/jpeg",
                width=800,
                height=600,
                size=len(out.getvalue()),
                public=number == 1,
            )
        )


def build_village(app) -> Ids:
    """Load the demo village into ``app``'s (empty, migrated) database and add a sale, an objection and a
    stocktake; return the rows the pages open."""
    with app.app_context():
        session = db.session
        load_demo(session, SEED)
        session.commit()
        village = session.scalars(sa.select(Village)).one()
        chair = find_user(session, USERS[CHAIR][0])
        shopkeeper = find_user(session, USERS[SHOPKEEPER][0])
        # the household with the most points (and a card): it has points to spend and October's scores
        card = session.scalars(
            sa.select(Card)
            .join(Household)
            .join(Account, Household.account_id == Account.id)
            .where(Card.status == "active")
            .order_by(Account.balance.desc(), Household.household_no)
        ).first()
        household = card.household
        goods = session.scalars(sa.select(Goods).order_by(Goods.position)).all()
        affordable = [g for g in goods if g.price <= household.account.balance] or goods
        redemption = redemptions.redeem(session, village.id, card, [(affordable[-1].id, 1)], shopkeeper)
        shop.record_stocktake(
            session,
            village.id,
            today(),
            "李春梅",
            {g.id: g.stock for g in goods},
            actor_id=shopkeeper.id,
        )
        # this month's round (open in the demo), scored from last month's sheet and put on notice
        scoring_round = session.scalars(sa.select(ScoringRound).order_by(ScoringRound.id.desc())).first()
        _notice_round(session, village, scoring_round, chair)
        objection = scoring_workflow.record_objection(
            session, scoring_round, household.id, household.head_name, "卫生评比少记了一次。", chair.id
        )
        _demo_claims(session, Path(app.instance_path), card, scoring_round, chair)
        # the wall's 管理办法 (the starter draft, saved) and a yard's before/after photos on the scores,
        # one marked public (the round is past scoring, so the rows are written as an upload leaves them)
        bylaws.save(session, village.id, bylaws.starter_text(village.name), chair.id)
        _score_photos(session, app, scoring_round, household.id)
        session.commit()
        donor = session.scalar(sa.select(StockMove.donor).where(StockMove.donor != "").limit(1))
        # 三务公开 shows closed months only: the demo leaves last month closable, the chair closes it here
        closing.close_month(session, village, _last_month(), chair.id)
        session.commit()
        # the village's CA, as `pointsmart run` makes it: the settings page shows its phone steps and QR
        lan = ipaddress.IPv4Address("192.168.1.20")
        tls.ensure(tls.folder(app), village=village.name, addresses=[lan])
        return Ids(
            household=household.id,
            card=card.id,
            card_token=card.token,
            round=scoring_round.id,
            round_uuid=scoring_round.uuid,
            goods=goods[0].id,
            category=session.scalar(sa.select(Category.id).order_by(Category.position, Category.id).limit(1)),
            criterion=session.scalar(sa.select(Criterion.id).order_by(Criterion.id).limit(1)),
            objection=objection.id,
            redemption=redemption.id,
            donor=donor,
            village_code=village.code,
            closed_month=_last_month(),
        )


def _notice_round(session, village, scoring_round: ScoringRound, chair) -> None:
    """Score this month's round as last month's sheet (its first groups), approve it and post it."""
    panel = [find_user(session, name) for name in ("panel1", "panel2")]
    criteria = {c.name: c.id for c in scoring_round.criteria}
    with (SEED / "scores.csv").open(encoding="utf-8") as f:
        for row in list(csv.DictReader(f))[:120]:
            household = household_by_no(session, village.id, row["户号"])
            score_entry.set_score(
                session, scoring_round, household.id, criteria[row["条目"]], int(row["次数"]), chair
            )
    scoring_workflow.submit_round(session, scoring_round, chair)
    for member in panel:
        scoring_workflow.approve_round(session, scoring_round, member)
    scoring_workflow.publish_round(session, scoring_round, chair.id)


def _demo_claims(session, instance: Path, card: Card, scoring_round: ScoringRound, chair) -> None:
    """Families' claims in the demo round (on notice: declinable only): the page's household has one waiting
    with a photo and one declined; another household has one waiting."""
    import io
    import secrets

    from PIL import Image

    from pointsmart.claims.models import Claim, ClaimPhoto, ClaimStatus
    from pointsmart.clock import utcnow
    from pointsmart.images import clean_photo

    by_name = {c.name: c for c in scoring_round.criteria}
    other = session.scalars(
        sa.select(Card).where(Card.status == "active", Card.id != card.id).order_by(Card.id)
    ).first()
    day = today()
    rows = [
        (card, "参加技能培训", "在村委会参加了电商直播培训，有签到表。", ClaimStatus.PENDING, ""),
        (
            card,
            "参加志愿服务",
            "参加了河道清理。",
            ClaimStatus.DECLINED,
            "签到表上没有这一户，请找组长核实。",
        ),
        (other, "参加志愿服务", "", ClaimStatus.PENDING, ""),
    ]
    for owner, name, note, status, reason in rows:
        held = by_name[name]
        claim = Claim(
            village_id=scoring_round.village_id,
            household_id=owner.household_id,
            card_id=owner.id,
            criterion_id=held.criterion_id,
            round_id=scoring_round.id,
            round_criterion_id=held.id,
            happened_on=day,
            note=note,
            status=status,
            reason=reason,
            decided_by=chair.id if reason else None,
            decided_at=utcnow() if reason else None,
        )
        session.add(claim)
        session.flush()
        if note.startswith("在村委会"):
            out = io.BytesIO()
            Image.new("RGB", (800, 600), "#c8553d").save(out, "JPEG")
            photo = clean_photo(out.getvalue())
            folder = instance / "uploads" / "claims"
            folder.mkdir(parents=True, exist_ok=True)
            stored = f"{secrets.token_hex(16)}.jpg"
            (folder / stored).write_bytes(photo.data)
            session.add(
                ClaimPhoto(
                    claim_id=claim.id,
                    stored_name=stored,
                    content_type=photo.info.content_type,
                    width=photo.info.width,
                    height=photo.info.height,
                    size=len(photo.data),
                )
            )


def build_county(county_app, village_app, village_code: str) -> None:
    """Register the demo village with the county and push its whole ledger there by sync; add the county's
    users (an administrator and a reviewer), and a second village that has never synced."""
    with village_app.app_context():
        village = db.session.scalars(sa.select(Village)).one()
        name = village.name
    with county_app.app_context():
        for role in COUNTY_STAFF:
            username, password = USERS[role]
            create_user(
                db.session,
                username,
                role,
                password,
                "县妇联" + ("管理员" if role == COUNTY_ADMIN else "审核员"),
            )
        _village, key = county.add_village(db.session, village_code, name, village_code[:9] + "000", "和平镇")
        # a second village that has never synced: the county's 需要关注 has a finding to show
        county.add_village(db.session, village_code[:9] + "299", "东风村", village_code[:9] + "000")
        db.session.commit()
    transport = httpx.Client(transport=httpx.WSGITransport(app=county_app), base_url="http://county")
    with village_app.app_context():
        push(db.session, "http://county", key, client=transport)
        db.session.remove()


def data_values(app) -> set[str]:
    """Every text value stored in the database (names, groups, goods, reasons…), and each masked as the
    family page masks names: on an English page these are data, shown as entered, not interface."""
    values: set[str] = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text)]
            if not columns:
                continue
            for row in db.session.execute(sa.select(*columns)):
                texts = [v for v in row if isinstance(v, str) and v.strip()]
                values.update(v.strip() for v in texts)
                # a long text (the 管理办法) is shown a paragraph per line: each line is data too
                values.update(
                    line.strip() for v in texts if "\n" in v for line in v.splitlines() if line.strip()
                )
    # the family page shows the head's name masked (王*兰): still data
    return values | {mask_name(v) for v in values}


# --- the checks, run in the page ---------------------------------------------------------------------

#: a short CSS-like name of an element, for the failure message
_DESCRIBE = """
const describe = (el) => {
  const parts = [];
  for (let node = el; node && node.nodeType === 1 && parts.length < 3; node = node.parentElement) {
    let part = node.tagName.toLowerCase();
    if (node.id) { parts.unshift(part + '#' + node.id); break; }
    const cls = [...node.classList].slice(0, 2).join('.');
    if (cls) part += '.' + cls;
    parts.unshift(part);
  }
  const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().replace(/\\s+/g, ' ');
  return parts.join(' > ') + (text ? ` "${text.slice(0, 24)}"` : '');
};
const shown = (el) => {
  if (!el.getClientRects().length) return false;
  const style = getComputedStyle(el);
  return style.visibility !== 'hidden' && style.visibility !== 'collapse';
};
"""

#: how far the document is wider than the window, and the elements that stick out on the right
OVERFLOW_JS = (
    "() => {"
    + _DESCRIBE
    + """
  const root = document.documentElement;
  const over = root.scrollWidth - root.clientWidth;
  if (over <= 0) return {over, culprits: []};
  const width = root.clientWidth;
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!shown(el)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.right > width + 1 && rect.width > 0) {
      // only the outermost: skip an element whose parent already sticks out
      const parent = el.parentElement;
      if (parent && parent !== document.body && parent.getBoundingClientRect().right > width + 1) continue;
      culprits.push(`${describe(el)} ends at ${Math.round(rect.right)}px`);
    }
  }
  return {over, culprits: culprits.slice(0, 4)};
}"""
)

#: every rendered table: do the body cells stand under their header cells? (colspan and rowspan honoured)
#: A table's header is its <thead> rows, or else its first row when that row is all <th>. A table whose
#: header is not rendered, or only for screen readers (clipped to a pixel: a list laid out as cards on a
#: phone), has nothing to line up and is skipped.
#: A body cell spanning columns a..b must start where the header cell over column a starts (when that
#: header cell starts at a) and end where the header over b ends (when it ends at b), within 2 px, and in
#: any case lie within those header cells' x-ranges.
TABLES_JS = (
    "() => {"
    + _DESCRIBE
    + """
  const TOL = 2;
  const problems = [];
  // hidden from the eye but kept for screen readers (clipped to 1 px): a card list's column names
  const clipped = (el, stop) => {
    for (let node = el; node && node !== stop; node = node.parentElement) {
      const style = getComputedStyle(node), box = node.getBoundingClientRect();
      if (style.clip && style.clip !== 'auto') return true;
      if (style.clipPath && style.clipPath !== 'none') return true;
      if (style.overflow !== 'visible' && (box.width <= 1 || box.height <= 1)) return true;
    }
    return false;
  };
  const grid = (rows) => {
    // the HTML table model: place each cell in (row, column) slots, honouring rowspan and colspan
    const slots = [];
    rows.forEach((row, r) => {
      slots[r] = slots[r] || [];
      let c = 0;
      for (const cell of row.cells) {
        while (slots[r][c]) c++;
        const span = Math.max(1, cell.colSpan || 1), down = Math.max(1, cell.rowSpan || 1);
        for (let dr = 0; dr < down && r + dr < rows.length; dr++) {
          slots[r + dr] = slots[r + dr] || [];
          for (let dc = 0; dc < span; dc++)
            slots[r + dr][c + dc] = {cell, first: c, last: c + span - 1, top: r};
        }
        c += span;
      }
    });
    return slots;
  };
  document.querySelectorAll('table').forEach((table, t) => {
    if (!shown(table)) return;
    const rows = [...table.rows];
    let headRows = table.tHead ? [...table.tHead.rows] : [];
    const allTh = rows.length && [...rows[0].cells].every((c) => c.tagName === 'TH');
    if (!headRows.length && allTh && rows[0].cells.length > 1) headRows = [rows[0]];
    if (!headRows.length) return;
    const inFoot = (row) => table.tFoot && row.parentElement === table.tFoot;
    const bodyRows = rows.filter((row) => !headRows.includes(row) && !inFoot(row));
    const slots = grid(rows);
    const headCount = headRows.length;
    const columns = Math.max(0, ...slots.map((r) => (r || []).length));
    // the lowest header cell over each column
    const header = [];
    for (let c = 0; c < columns; c++)
      for (let r = headCount - 1; r >= 0; r--) {
        const slot = slots[rows.indexOf(headRows[r])]?.[c];
        if (slot && shown(slot.cell) && !clipped(slot.cell, table)) { header[c] = slot; break; }
      }
    if (!header.some(Boolean)) return;  // the header row is not rendered: a card list
    const name = describe(table) + (table.caption ? '' : ` (table ${t + 1})`);
    let bad = 0, first = '';
    bodyRows.forEach((row) => {
      const r = rows.indexOf(row);
      for (const cell of row.cells) {
        if (!shown(cell)) continue;
        const slot = (slots[r] || []).find((s) => s && s.cell === cell && s.top === r);
        if (!slot) continue;
        const hFirst = header[slot.first], hLast = header[slot.last];
        if (!hFirst || !hLast) {
          bad++; first = first || `${describe(cell)} in column ${slot.first + 1} has no header cell`;
          continue;
        }
        const box = cell.getBoundingClientRect();
        const a = hFirst.cell.getBoundingClientRect(), b = hLast.cell.getBoundingClientRect();
        const wrong =
          (hFirst.first === slot.first && Math.abs(box.left - a.left) > TOL) ||
          (hLast.last === slot.last && Math.abs(box.right - b.right) > TOL) ||
          box.left < a.left - TOL || box.right > b.right + TOL;
        if (wrong) {
          bad++;
          first = first || `${describe(cell)} spans x ${Math.round(box.left)}–${Math.round(box.right)} ` +
            `but its header ${describe(hFirst.cell)} spans ${Math.round(a.left)}–${Math.round(b.right)}`;
        }
      }
    });
    if (bad) problems.push(`${name}: ${bad} cell(s) not under their header; first: ${first}`);
  });
  return problems;
}"""
)

#: tap targets under 40 CSS px tall on the phone. Targets: links with an href, buttons, inputs (not
#: hidden), selects, textareas, summaries and [role=button]; a checkbox or radio passes when it or its
#: <label> is 40 px tall (the label is where a finger lands). Not targets: elements not rendered or
#: visually hidden (1 px or less, e.g. a skip link off screen), and inline links in running text — an
#: <a> whose computed display is "inline" and whose nearest block container holds other text beside
#: it (the WCAG 2.5.8 "inline" exception: a link inside a sentence cannot be made taller than its line).
TAPS_JS = (
    "(minimum) => {"
    + _DESCRIBE
    + """
  const small = [];
  const targets = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
  const blockOf = (el) => {
    for (let node = el.parentElement; node; node = node.parentElement)
      if (!getComputedStyle(node).display.startsWith('inline')) return node;
    return document.body;
  };
  const inRunningText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const own = (el.innerText || '').trim().length;
    const around = (blockOf(el).innerText || '').trim().length;
    return around > own + 1;
  };
  for (const el of targets) {
    if (!shown(el) || el.closest('[aria-hidden=true]')) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width <= 1 || rect.height <= 1) continue;
    if (rect.height >= minimum - 0.5) continue;
    if (inRunningText(el)) continue;
    if (el.type === 'checkbox' || el.type === 'radio') {
      const labels = [...(el.labels || [])];
      if (labels.some((l) => shown(l) && l.getBoundingClientRect().height >= minimum - 0.5)) continue;
    }
    small.push(`${describe(el)} is ${Math.round(rect.height * 10) / 10}px tall`);
  }
  return small;
}"""
)

#: the text a reader meets on the page: visible text, the title, and the words in attributes that are
#: read out or shown (placeholders, tooltips, labels for screen readers, alt text, confirmations)
TEXT_JS = """() => {
  const parts = [document.title, document.body.innerText];
  const named = '[placeholder], [title], [aria-label], [alt], [data-confirm]';
  for (const el of document.querySelectorAll(named))
    for (const name of ['placeholder', 'title', 'aria-label', 'alt', 'data-confirm'])
      if (el.hasAttribute(name)) parts.push(el.getAttribute(name));
  for (const el of document.querySelectorAll('input[type=submit], input[type=button]')) parts.push(el.value);
  return parts.join('\\n');
}"""

#: axe-core's serious and critical violations (axe is injected first, see the test)
AXE_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.length} element(s), ` +
      `e.g. ${v.nodes[0].target.join(' ')}`);
}"""
