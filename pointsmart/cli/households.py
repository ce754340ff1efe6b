"""``pointsmart households``: import and export the household roster."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..errors import DomainError
from ..extensions import db
from ..households import roster
from ..households.services import all_households
from ..org.services import home_village
from .support import fail


@click.group(help="Import and export the household roster.")
def households():
    pass


@households.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--accept-head-changes",
    is_flag=True,
    help="Give a household that holds points or a card the new head the file names (listed first).",
)
@with_appcontext
def households_import(file: Path, dry_run: bool, accept_head_changes: bool):
    """Import households from .xlsx or .csv (户号, 户主姓名, 村民小组, 联系电话, 家庭人口, 住址, 标签)."""

    try:
        village_id = home_village(db.session).id
        plan = roster.plan_import(db.session, village_id, file.name, file.read_bytes())
    except DomainError as err:
        fail(err)
    click.echo(
        f"{len(plan.added)} to add, {len(plan.changed)} to change, {plan.unchanged} unchanged, "
        f"{len(plan.problems)} bad rows"
    )
    for problem in plan.problems:
        click.echo(f"  {problem}", err=True)
    if plan.problems:
        raise click.ClickException("nothing imported: fix the rows above and import again")
    for change in plan.head_changes:
        click.echo(
            f"  row {change.row}: {change.household_no} head {change.old_name} -> {change.new_name} "
            f"({change.balance} points{', active card' if change.has_card else ''})",
            err=True,
        )
    if dry_run:
        click.echo("dry run: nothing written")
        return
    try:
        roster.apply_import(
            db.session, village_id, plan, actor_id=None, accept_head_changes=accept_head_changes
        )
    except DomainError as err:
        fail(err)
    db.session.commit()
    click.echo("imported")


@households.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def households_export(file: Path):
    """Export every household (with balance) to an .xlsx file."""

    rows = all_households(db.session, home_village(db.session).id)
    file.write_bytes(roster.export_xlsx(rows))
    click.echo(f"exported {len(rows)} households to {file}")
