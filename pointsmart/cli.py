"""The ``pointsmart`` command: a Flask CLI group, so ``pointsmart --help`` lists everything."""

import os
import sqlite3
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import ROOT
from .errors import DomainError
from .extensions import db

SEED = ROOT.parent / "seed" / "demo"


def main() -> None:
    from . import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="PointsMart (巾帼家美积分超市).")
    cli.main(prog_name="pointsmart")


def _fail(err: DomainError):
    db.session.rollback()
    raise click.ClickException(f"{err.message} [{err.code}]")


def register_commands(app) -> None:
    for command in (
        demo,
        village,
        users,
        households,
        cards_cli,
        ledger_cli,
        sync_cli,
        county_cli,
        backup,
        serve,
    ):
        app.cli.add_command(command)


# --- village ----------------------------------------------------------------------------------


@click.group(help="Set up the village this instance serves.")
def village():
    pass


@village.command("init")
@click.argument("code")
@click.argument("name")
@with_appcontext
def village_init(code: str, name: str):
    """Set up the village (12-digit division code and name) of a real install."""
    from .org.services import ensure_village

    try:
        v = ensure_village(db.session, code, name)
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"village {v.code} {v.name}")


# --- demo -------------------------------------------------------------------------------------


@click.command(help="Load the demo village from seed/ (does nothing twice) and print its log-ins.")
@click.option(
    "--seed",
    "seed_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SEED,
    show_default=True,
)
@click.option("--if-empty", is_flag=True, help="Do nothing if a village other than the demo's is set up.")
@click.option(
    "--county",
    "as_county",
    is_flag=True,
    help="Build the demo county instead (the default when POINTSMART_MODE=county): villages filled by sync.",
)
@click.option(
    "--county-seed",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SEED.parent / "county",
    show_default=True,
    help="The demo county's townships, villages and users.",
)
@with_appcontext
def demo(seed_dir: Path, if_empty: bool, as_county: bool, county_seed: Path):
    from .demo import load_demo, other_village_exists

    if as_county or current_app.config["POINTSMART_MODE"] == "county":
        _county_demo(if_empty, county_seed, seed_dir)
        return
    if if_empty and other_village_exists(db.session, seed_dir):
        click.echo("a village is set up already: demo not loaded")
        return
    try:
        summary = load_demo(db.session, seed_dir)
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(
        f"demo village {summary['village']}: {summary['households']} households "
        f"({summary['added']} added now)"
    )
    click.echo("demo log-ins (change them before real use):")
    for user in summary["users"]:
        click.echo(f"  {user['username']:<10} {user['password']:<18} {user['role']}")


# --- users ------------------------------------------------------------------------------------


def _county_demo(if_empty: bool, county_seed: Path, village_seed: Path) -> None:
    from .county.demo import build_county_demo, has_villages

    if current_app.config["POINTSMART_MODE"] != "county":
        raise click.ClickException("the demo county runs in county mode: set POINTSMART_MODE=county")
    if has_villages(db.session):
        if if_empty:
            click.echo("villages are registered already: demo county not loaded")
            return
        raise click.ClickException(
            "villages are registered already: use an empty county database for the demo"
        )
    click.echo("building the demo county: each village runs its months, then pushes to the county by sync")
    summary = build_county_demo(
        db.session, current_app._get_current_object(), county_seed, village_seed, echo=click.echo
    )
    click.echo(f"demo county: {summary['villages']} villages, {summary['records']} records arrived by sync")
    click.echo("demo log-ins (change them before real use):")
    for user in summary["users"]:
        scope = f" (township {user['township']})" if user.get("township") else ""
        click.echo(f"  {user['username']:<10} {user['password']:<18} {user['role']}{scope}")


@click.group(help="Manage users and API tokens.")
def users():
    pass


@users.command("create")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["chair", "panel", "shopkeeper", "county_reviewer", "county_admin"]),
)
@click.option("--password", help="Asked for when not given (better: it stays out of the shell history).")
@click.option("--display-name", default="", help="The person's name as shown on pages.")
@click.option(
    "--township", default=None, help="County reviewers only: limit to this township's 12-digit code."
)
@with_appcontext
def users_create(name: str, role: str, password: str | None, display_name: str, township: str | None):
    """Create a user of this village (or, for county roles, of the county)."""
    from .auth.services import create_user
    from .org.services import home_village

    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        village_id = home_village(db.session).id if not role.startswith("county") else None
        user = create_user(
            db.session, name, role, password, display_name, village_id=village_id, township_code=township
        )
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"created {user.username} ({user.role})")


@users.command("token")
@click.argument("name")
@with_appcontext
def users_token(name: str):
    """Make a new API token for a user; the token is the last line printed."""
    from .auth.services import create_api_token, find_user

    user = find_user(db.session, name)
    if user is None or not user.active:
        raise click.ClickException(f"no active user named {name}")
    token = create_api_token(db.session, user)
    db.session.commit()
    click.echo(f"API token for {user.username} ({user.role}); it is shown only once:")
    click.echo(token)


@users.command("list")
@with_appcontext
def users_list():
    """List users."""
    from .auth.models import User

    for user in db.session.scalars(sa.select(User).order_by(User.username)):
        click.echo(f"{user.username:<16} {user.role:<16} {'active' if user.active else 'disabled'}")


# --- households -------------------------------------------------------------------------------


@click.group(help="Import and export the household roster.")
def households():
    pass


@households.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@with_appcontext
def households_import(file: Path, dry_run: bool):
    """Import households from .xlsx or .csv (户号, 户主姓名, 村民小组, 联系电话, 家庭人口, 住址, 标签)."""
    from .households import roster
    from .org.services import home_village

    try:
        village_id = home_village(db.session).id
        plan = roster.plan_import(db.session, village_id, file.name, file.read_bytes())
    except DomainError as err:
        _fail(err)
    click.echo(
        f"{len(plan.added)} to add, {len(plan.changed)} to change, {plan.unchanged} unchanged, "
        f"{len(plan.problems)} bad rows"
    )
    for problem in plan.problems:
        click.echo(f"  {problem}", err=True)
    if plan.problems:
        raise click.ClickException("nothing imported: fix the rows above and import again")
    if dry_run:
        click.echo("dry run: nothing written")
        return
    roster.apply_import(db.session, village_id, plan, actor_id=None)
    db.session.commit()
    click.echo("imported")


@households.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def households_export(file: Path):
    """Export every household (with balance) to an .xlsx file."""
    from .households import roster
    from .households.services import search_households
    from .org.services import home_village

    rows, total = search_households(
        db.session, home_village(db.session).id, include_inactive=True, per_page=1_000_000
    )
    file.write_bytes(roster.export_xlsx(rows))
    click.echo(f"exported {total} households to {file}")


# --- cards ------------------------------------------------------------------------------------


@click.group("cards", help="Issue point cards.")
def cards_cli():
    pass


@cards_cli.command("issue")
@click.argument("household_no", required=False)
@click.option("--all", "everyone", is_flag=True, help="Every active household that has no card yet.")
@with_appcontext
def cards_issue(household_no: str | None, everyone: bool):
    """Issue a card to one household (by 户号) or, with --all, to every household without one."""
    from .cards import services as cards
    from .households.services import household_by_no
    from .org.services import home_village

    if everyone == bool(household_no):
        raise click.UsageError("give a 户号 or --all (not both)")
    try:
        village_id = home_village(db.session).id
        if everyone:
            issued = cards.issue_all(db.session, village_id, actor_id=None)
        else:
            household = household_by_no(db.session, village_id, household_no)
            if household is None:
                raise click.ClickException(f"no household {household_no}")
            issued = [cards.issue_card(db.session, household, actor_id=None)]
    except DomainError as err:
        _fail(err)
    db.session.commit()
    for card in issued:
        click.echo(f"{card.household.household_no}  {card.number_display}")
    click.echo(f"issued {len(issued)} cards")


# --- ledger -----------------------------------------------------------------------------------


@click.group("ledger", help="Check the points ledger.")
def ledger_cli():
    pass


@ledger_cli.command("verify")
@with_appcontext
def ledger_verify():
    """Recompute every balance from the transfers; exit 1 on any mismatch."""
    from .ledger.services import verify

    report = verify(db.session)
    mark = {True: "ok", False: "FAILED"}
    click.echo(
        f"checked {report.accounts} accounts and {report.transfers} transfers "
        f"({report.points_moved} points moved)"
    )
    click.echo(f"sum of all balances: {report.balance_sum} (must be 0) ... {mark[report.balance_sum == 0]}")
    click.echo(
        f"cached balance = sum of transfers: {report.accounts - len(report.mismatches)}/"
        f"{report.accounts} ... {mark[not report.mismatches]}"
    )
    for m in report.mismatches:
        click.echo(f"  {m.account_code}: cached {m.cached}, transfers say {m.computed}")
    click.echo(
        f"households below zero: {len(report.negative_households)} ... {mark[not report.negative_households]}"
    )
    click.echo("ledger OK" if report.ok else "ledger MISMATCH")
    sys.exit(0 if report.ok else 1)


# --- sync -------------------------------------------------------------------------------------


@click.group(
    "sync", help="Send this village's change log to the county (push or bundle file), or import one."
)
def sync_cli():
    pass


def _sync_key() -> str:
    key = current_app.config["POINTSMART_SYNC_KEY"]
    if not key:
        raise click.ClickException(
            "POINTSMART_SYNC_KEY is not set: the county gives it with `pointsmart county add-village`"
        )
    return key


@sync_cli.command("push")
@click.option("--url", default=None, help="The county server (default: POINTSMART_COUNTY_URL).")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 5000))
@click.option("--attempts", default=6, show_default=True, type=click.IntRange(1, 20), help="Tries per batch.")
@with_appcontext
def sync_push(url: str | None, batch_size: int, attempts: int):
    """Push every record the county has not acknowledged, resuming where it left off."""
    from .sync.client import PushError, push

    def show(report):
        click.echo(
            f"  county acknowledged up to {report.acked_seq} of {report.head_seq} "
            f"({report.records} records in {report.batches} batches sent)"
        )

    url = url or current_app.config["POINTSMART_COUNTY_URL"]
    try:
        report = push(db.session, url, _sync_key(), batch_size=batch_size, attempts=attempts, progress=show)
    except PushError as err:
        raise click.ClickException(f"{err.message} [{err.code}]") from None
    click.echo(
        f"pushed {report.records} records in {report.batches} batches to {url}; county acknowledged up to "
        f"{report.acked_seq}; {report.waiting} waiting; {report.retries} retries, {report.rewinds} rewinds"
    )


@sync_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--all", "everything", is_flag=True, help="From the first record, not from what the county has."
)
@with_appcontext
def sync_export(file: Path, everything: bool):
    """Write a signed bundle file of the change log, for a USB stick."""
    from .org.services import home_village
    from .sync.bundle import export_bundle

    code = home_village(db.session).code
    tmp = file.with_name(file.name + ".part")
    with tmp.open("wb") as out:
        report = export_bundle(db.session, code, _sync_key(), out, from_seq=1 if everything else None)
    os.replace(tmp, file)
    click.echo(
        f"wrote {file} ({file.stat().st_size} bytes): village {code}, "
        f"records {report.from_seq}–{report.to_seq} ({report.records}, {report.batches} batches), signed"
    )


@sync_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def sync_import(file: Path):
    """County: check a village's bundle file and apply what the county does not have yet."""
    from .county.ingest import SequenceGap
    from .sync.bundle import BundleError, import_bundle

    if current_app.config["POINTSMART_MODE"] != "county":
        raise click.ClickException("sync import runs at the county (POINTSMART_MODE=county)")
    with file.open("rb") as stream:
        try:
            report = import_bundle(db.session, stream)
        except (BundleError, SequenceGap) as err:
            _fail(err)
        except DomainError as err:
            _fail(err)
    db.session.commit()
    click.echo(
        f"imported {file.name}: village {report.village_code} {report.village_name}, records "
        f"{report.from_seq}–{report.to_seq}; {report.applied} new, county now has up to {report.acked_seq}"
    )


@sync_cli.command("status")
@with_appcontext
def sync_status():
    """Print the village's division code, the last acknowledged sequence and how many records wait."""
    from .org.services import home_village
    from .periods import local
    from .sync import batches

    state = batches.state(db.session)
    head = batches.head_seq(db.session)
    last = local(state.last_sync_at).strftime("%Y-%m-%d %H:%M") if state.last_sync_at else "never"
    click.echo(f"village: {home_village(db.session).code}")
    click.echo(f"acknowledged: {state.acked_seq}")
    click.echo(f"waiting: {max(0, head - state.acked_seq)} (log at {head})")
    click.echo(f"last sync: {last}")
    if state.last_error:
        click.echo(f"last error: {state.last_error}")
    db.session.rollback()


# --- county -----------------------------------------------------------------------------------


@click.group("county", help="County instance: register villages and their sync keys.")
def county_cli():
    pass


@county_cli.command("add-village")
@click.argument("code")
@click.argument("name")
@click.option("--township", "township_code", required=True, help="The township's 12-digit division code.")
@click.option("--township-name", default=None, help="The township's name, when it is new.")
@with_appcontext
def county_add_village(code: str, name: str, township_code: str, township_name: str | None):
    """Register a village; its one-time sync key is the last line printed."""
    from .county.services import add_village

    try:
        village, key = add_village(db.session, code, name, township_code, township_name)
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(
        f"registered {village.code} {village.name} in {village.township_name} ({village.township_code})"
    )
    click.echo("sync key (shown once; set it as POINTSMART_SYNC_KEY on the village's machine):")
    click.echo(key)


@county_cli.command("rotate-key")
@click.argument("code")
@with_appcontext
def county_rotate_key(code: str):
    """Give a village a new sync key (the last line printed); the old key stops working."""
    from .county.services import rotate_key

    try:
        key = rotate_key(db.session, code)
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"new sync key for {code} (shown once; the old key no longer works):")
    click.echo(key)


@county_cli.command("villages")
@with_appcontext
def county_villages():
    """List registered villages with how far each has synced and whether its totals agree."""
    from .county.models import VillageLink
    from .org.models import Village
    from .periods import local

    rows = db.session.execute(
        sa.select(Village, VillageLink).join(VillageLink).order_by(Village.township_code, Village.code)
    ).all()
    for village, link in rows:
        last = local(link.last_sync_at).strftime("%Y-%m-%d %H:%M") if link.last_sync_at else "never"
        state = f"MISMATCH {link.mismatch}" if link.mismatch else "ok"
        click.echo(
            f"{village.code} {village.name:<8} seq {link.acked_seq:>8}  last sync {last}  "
            f"balances {link.balance_sum}  transfers {link.transfer_count}  {state}"
        )


@county_cli.command("verify")
@with_appcontext
def county_verify():
    """Recount every village from the county's copy of its transfers; exit 1 on any difference."""
    from .county.ingest import recount
    from .county.models import VillageLink
    from .org.models import Village

    failures = 0
    rows = db.session.execute(sa.select(Village, VillageLink).join(VillageLink).order_by(Village.code)).all()
    for village, link in rows:
        counted = recount(db.session, village.id)
        running = {
            "transfers": link.transfer_count,
            "balance_sum": link.balance_sum,
            "issued": link.points_issued,
            "redeemed": link.points_redeemed,
            "deducted": link.points_deducted,
        }
        problems = [f"{name}: recount {counted[name]}, running {running[name]}" for name in running
                    if counted[name] != running[name]]  # fmt: skip
        if link.reported_balance_sum is not None and (
            link.reported_balance_sum != counted["balance_sum"]
            or link.reported_transfer_count != counted["transfers"]
        ):
            problems.append(
                f"village reported balances {link.reported_balance_sum} / transfers "
                f"{link.reported_transfer_count} at {link.acked_seq}"
            )
        failures += bool(problems)
        click.echo(
            f"{village.code} {village.name}: {counted['transfers']} transfers, "
            f"balances {counted['balance_sum']} ... {'FAILED' if problems else 'ok'}"
        )
        for problem in problems:
            click.echo(f"  {problem}")
    click.echo(f"{len(rows)} villages checked, {failures} with differences")
    sys.exit(1 if failures else 0)


# --- backup and serve -------------------------------------------------------------------------


@click.command(help="Take a consistent copy of the SQLite database, safe while the app is serving.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(path: Path):
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException("backup copies the SQLite database; on PostgreSQL use pg_dump")
    if path.exists():
        raise click.ClickException(f"{path} exists; choose a new file name")
    tmp = path.with_name(path.name + ".part")
    source = sqlite3.connect(url.database)
    try:
        target = sqlite3.connect(tmp)
        with target:
            source.backup(target)  # SQLite's online backup: a consistent snapshot, writers keep going
        target.close()
    finally:
        source.close()
    os.replace(tmp, path)
    click.echo(f"backup written to {path} ({path.stat().st_size} bytes)")


@click.command(help="Serve with waitress, a production WSGI server.")
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("PORT", "8000")), type=int, show_default="8000")
@click.option("--threads", default=8, show_default=True)
@with_appcontext
def serve(host: str, port: int, threads: int):
    from waitress import serve as waitress_serve

    click.echo(f"PointsMart serving on http://{host}:{port}/  (Ctrl+C stops)")
    waitress_serve(
        current_app._get_current_object(), host=host, port=port, threads=threads, ident="PointsMart"
    )
