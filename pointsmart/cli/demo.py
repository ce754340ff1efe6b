"""``pointsmart demo``: the demo village from ``seed/demo``, or the demo county filled by real sync."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..county.demo import build_county_demo, has_villages
from ..demo import load_demo, other_village_exists
from ..errors import DomainError
from ..extensions import db
from ..resources import folder
from .support import fail

SEED = folder("seed") / "demo"


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
    if as_county or current_app.config["POINTSMART_MODE"] == "county":
        _county_demo(if_empty, county_seed, seed_dir)
        return
    if if_empty and other_village_exists(db.session, seed_dir):
        click.echo("a village is set up already: demo not loaded")
        return
    try:
        summary = load_demo(db.session, seed_dir)
    except DomainError as err:
        fail(err)
    db.session.commit()
    click.echo(
        f"demo village {summary['village']}: {summary['households']} households "
        f"({summary['added']} added now)"
    )
    click.echo("demo log-ins (change them before real use):")
    for user in summary["users"]:
        click.echo(f"  {user['username']:<10} {user['password']:<18} {user['role']}")


def _county_demo(if_empty: bool, county_seed: Path, village_seed: Path) -> None:
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
