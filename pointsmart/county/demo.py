"""The demo county: a few villages whose months of scoring and shopping reach the county by real sync.

Each village is a real village instance for a moment — its own temporary SQLite database, loaded
from ``seed/demo`` with its own code, name and households, then run through months of rounds and
redemptions by the services (the clock set back to those months) — and then pushes its change log
to this county through ``POST /api/v1/sync/batches``, with the push client, over an in-process HTTP
transport. Nothing is inserted into the county's tables directly.
"""

import contextlib
import csv
import io
import json
import random
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from PIL import Image
from sqlalchemy.orm import Session

from .. import clock, create_app
from ..auth.services import create_user, find_user
from ..cards.services import active_card
from ..demo import SCORES, load_demo
from ..extensions import db
from ..households.models import Household
from ..ledger.services import InsufficientPoints
from ..org.models import Village
from ..scoring import finalisation as scoring_finalisation
from ..scoring import notice_photos, score_entry
from ..scoring import workflow as scoring_workflow
from ..settings.expiry import set_rule
from ..shop import redemptions
from ..shop import services as shop
from ..shop.models import MoveKind
from ..shop.stock import ShopError
from ..sync.client import push
from . import services as county


def county_seed(seed_dir: Path) -> dict:
    return json.loads((seed_dir / "county.json").read_text(encoding="utf-8"))


def has_villages(session: Session) -> bool:
    return session.scalar(sa.select(Village.id).limit(1)) is not None


def _set_clock(at: datetime) -> None:
    clock.reset()
    clock.advance(at - clock.utcnow())


def _village_seed(demo_seed: Path, target: Path, village: dict, township: dict) -> None:
    """A copy of the demo village's seed files with this village's code, name and first N households."""
    shutil.copytree(demo_seed, target)
    (target / SCORES).unlink(missing_ok=True)  # the village's months are run below instead
    info = json.loads((target / "village.json").read_text(encoding="utf-8"))
    info.update(code=village["code"], name=village["name"], township_code=township["code"],
                township_name=township["name"])  # fmt: skip
    (target / "village.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    rows = list(csv.reader(io.StringIO((target / "households.csv").read_text(encoding="utf-8"))))
    kept = rows[: village["households"] + 1]
    out = io.StringIO()
    csv.writer(out).writerows(kept)
    (target / "households.csv").write_text(out.getvalue(), encoding="utf-8")
    numbers = {row[0] for row in kept[1:]}
    balances = list(csv.reader(io.StringIO((target / "opening_balances.csv").read_text(encoding="utf-8"))))
    out = io.StringIO()
    csv.writer(out).writerows([balances[0], *(row for row in balances[1:] if row[0] in numbers)])
    (target / "opening_balances.csv").write_text(out.getvalue(), encoding="utf-8")


def _notice_photo() -> bytes:
    """A plain picture standing in for the photo of a posted notice."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (236, 230, 214)).save(out, "PNG")
    return out.getvalue()


def _run_round(
    session, village, period_type: str, period_key: str, chance: float, rng, users, photos: Path | None
) -> None:
    """A round scored, approved, put on notice (with a photo of the notice when ``photos`` is a
    folder to keep it in) and finalised when the notice ends."""
    chair, panel = users["chair"], users["panel"]
    scoring_round = scoring_workflow.create_round(session, village, period_type, period_key, "", chair.id)
    homes = session.scalars(
        sa.select(Household.id).where(Household.village_id == village.id, Household.active.is_(True))
    ).all()
    for criterion in scoring_round.criteria:
        odds = chance if criterion.points > 0 else chance / 12
        for home in homes:
            if rng.random() < odds:
                times = rng.randint(1, criterion.max_per_period)
                score_entry.set_score(session, scoring_round, home, criterion.id, times, chair)
    scoring_workflow.submit_round(session, scoring_round, chair)
    for member in panel:
        scoring_workflow.approve_round(session, scoring_round, member)
    scoring_workflow.publish_round(session, scoring_round, chair.id)
    session.commit()
    if photos is not None:
        notice_photos.add_photo(
            session, scoring_round, _notice_photo(), "公示.png", None, None, photos, chair.id
        )
        session.commit()
    clock.advance(timedelta(days=scoring_round.notice_days, hours=1))
    scoring_finalisation.finalise_round(session, scoring_round, chair.id)
    session.commit()


def _shop_days(session, village, month_start: datetime, chance: float, rng, users, until: datetime) -> None:
    """A month of the shop: restocking, and households spending points on what is on the shelf."""

    goods = shop.list_goods(session, village.id)
    _set_clock(month_start + timedelta(days=12, hours=1))
    for item in goods:
        shop.receive_stock(session, item, MoveKind.DONATION, rng.randint(5, 15), None, donor="县妇联爱心物资")
    session.commit()
    homes = session.scalars(sa.select(Household).where(Household.village_id == village.id)).all()
    for day in range(13, 27):
        if month_start + timedelta(days=day, hours=2) > until:
            break
        _set_clock(month_start + timedelta(days=day, hours=2))
        for home in rng.sample(homes, k=max(1, int(len(homes) * chance / 6))):
            card = active_card(session, home.id)
            affordable = [g for g in goods if g.price <= home.account.balance and g.stock > 0]
            if card is None or not affordable:
                continue
            item = rng.choice(affordable)
            try:
                redemptions.redeem(session, village.id, card, [(item.id, 1)], users["shop"])
                session.commit()
            except (InsufficientPoints, ShopError):
                session.rollback()


def _simulate(demo_seed: Path, seed: dict, village: dict, township: dict, folder: Path, index: int) -> Flask:
    """Build one village instance in ``folder`` and run its months; return its app."""

    village_seed = folder / "seed"
    _village_seed(demo_seed, village_seed, village, township)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'village.sqlite3'}", "POINTSMART_MODE": "village"}
    )
    rng = random.Random(index)
    chance = village["activity"]
    months = seed["months"]
    clock.reset()
    real_now = clock.utcnow()
    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # Alembic's log of each village's migrations
            upgrade()
        first = datetime.fromisoformat(months[0] + "-01")
        _set_clock(first - timedelta(days=5))
        load_demo(db.session, village_seed)
        db.session.commit()
        users = {
            "chair": find_user(db.session, "chair"),
            "shop": find_user(db.session, "shop"),
            "panel": [find_user(db.session, "panel1"), find_user(db.session, "panel2")],
        }
        home = db.session.scalar(sa.select(Village))

        def photos(period_key: str) -> Path | None:
            """Every notice is photographed but the round the seed says was not (a finding to check)."""
            return None if period_key == village.get("no_notice_photo") else folder / "notices"

        for month in months:
            start = datetime.fromisoformat(month + "-01")
            following = (start + timedelta(days=32)).replace(day=1)
            _set_clock(following + timedelta(hours=1))
            _run_round(db.session, home, "monthly", month, chance, rng, users, photos(month))
            for choice in village.get("points_rules", ()):  # the chair's year-end rule, as she chose it
                if choice["month"] == month:
                    set_rule(db.session, users["chair"].id, choice["rule"], choice.get("months"))
                    db.session.commit()
            if month.endswith(("-03", "-06", "-09", "-12")):
                quarter = f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}"
                _run_round(db.session, home, "quarterly", quarter, chance / 2, rng, users, photos(quarter))
            until = real_now - timedelta(days=village.get("silent_days", 0), hours=1)
            _shop_days(db.session, home, following, chance, rng, users, until)
        db.session.remove()
    return app


def build_county_demo(
    session: Session, county_app: Flask, seed_dir: Path, demo_seed: Path, echo=print
) -> dict:
    """Register the seed's townships, villages and users, and fill the county by each village's push."""

    seed = county_seed(seed_dir)
    townships = {t["code"]: t for t in seed["townships"]}
    for user in seed["users"]:
        if find_user(session, user["username"]) is None:
            create_user(session, user["username"], user["role"], user["password"], user["display_name"],
                        township_code=user.get("township"))  # fmt: skip
    keys = {}
    for village in seed["villages"]:
        township = townships[village["township"]]
        _village, keys[village["code"]] = county.add_village(
            session, village["code"], village["name"], township["code"], township["name"]
        )
    session.commit()
    records = 0
    with tempfile.TemporaryDirectory(prefix="pointsmart-demo-county-") as tmp:
        for index, village in enumerate(seed["villages"]):
            echo(f"  {village['code']} {village['name']}: {len(seed['months'])} months of village life …")
            folder = Path(tmp) / village["code"]
            folder.mkdir()
            app = _simulate(demo_seed, seed, village, townships[village["township"]], folder, index)
            # a village that has been silent pushed last some days ago
            clock.reset()
            clock.advance(-timedelta(days=village.get("silent_days", 0)))
            transport = httpx.Client(transport=httpx.WSGITransport(app=county_app), base_url="http://county")
            with app.app_context():
                report = push(db.session, "http://county", keys[village["code"]], client=transport)
                db.session.remove()
            records += report.records
            echo(f"    pushed {report.records} records; the county acknowledged up to {report.acked_seq}")
            with app.app_context():
                db.engine.dispose()
    clock.reset()
    return {"villages": len(seed["villages"]), "records": records, "users": seed["users"]}
