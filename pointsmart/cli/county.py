"""``pointsmart county``: register villages and their sync keys, list them, verify their totals."""

import sys

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..county.models import VillageLink
from ..county.services import add_village, rotate_key
from ..county.verify import verify_villages
from ..errors import DomainError
from ..extensions import db
from ..org.models import Village
from ..periods import local_text
from .support import fail


@click.group("county", help="County instance: register villages and their sync keys.")
def county():
    pass


@county.command("add-village")
@click.argument("code")
@click.argument("name")
@click.option("--township", "township_code", required=True, help="The township's 12-digit division code.")
@click.option("--township-name", default=None, help="The township's name, when it is new.")
@with_appcontext
def county_add_village(code: str, name: str, township_code: str, township_name: str | None):
    """Register a village; its one-time sync key is the last line printed."""

    try:
        village, key = add_village(db.session, code, name, township_code, township_name)
    except DomainError as err:
        fail(err)
    db.session.commit()
    click.echo(
        f"registered {village.code} {village.name} in {village.township_name} ({village.township_code})"
    )
    click.echo("sync key (shown once; the village chair pastes it on the 设置 (settings) page):")
    click.echo(key)


@county.command("rotate-key")
@click.argument("code")
@with_appcontext
def county_rotate_key(code: str):
    """Give a village a new sync key (the last line printed); the old key stops working."""

    try:
        key = rotate_key(db.session, code)
    except DomainError as err:
        fail(err)
    db.session.commit()
    click.echo(f"new sync key for {code} (shown once; the old key no longer works):")
    click.echo(key)


@county.command("villages")
@with_appcontext
def county_villages():
    """List registered villages with how far each has synced and whether its totals agree."""

    rows = db.session.execute(
        sa.select(Village, VillageLink).join(VillageLink).order_by(Village.township_code, Village.code)
    ).all()
    for village, link in rows:
        last = local_text(link.last_sync_at) or "never"
        state = f"MISMATCH {link.mismatch}" if link.mismatch else "ok"
        click.echo(
            f"{village.code} {village.name:<8} seq {link.acked_seq:>8}  last sync {last}  "
            f"balances {link.balance_sum}  transfers {link.transfer_count}  {state}"
        )


@county.command("verify")
@with_appcontext
def county_verify():
    """Recount every village from the county's copy of its transfers; exit 1 on any difference."""

    checks = verify_villages(db.session)
    for check in checks:
        click.echo(
            f"{check.code} {check.name}: {check.counted['transfers']} transfers, "
            f"balances {check.counted['balance_sum']} ... {'ok' if check.ok else 'FAILED'}"
        )
        for problem in check.problems:
            click.echo(f"  {problem}")
    failures = sum(not check.ok for check in checks)
    click.echo(f"{len(checks)} villages checked, {failures} with differences")
    sys.exit(1 if failures else 0)
