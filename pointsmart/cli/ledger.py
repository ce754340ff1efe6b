"""``pointsmart ledger verify``: prove every cached balance equals the sum of its transfers;
``pointsmart ledger expire``: post the points past their expiry day (the chair's 积分到期规则)."""

import sys

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..ledger.services import verify
from ..settings.expiry import current_rule, expire_points
from ..settings.models import PointsRuleKind
from ..unit import reading, write


@click.group("ledger", help="Check the points ledger; expire points past their day.")
def ledger():
    pass


@ledger.command("verify")
@with_appcontext
def ledger_verify():
    """Recompute every balance from the transfers; exit 1 on any mismatch."""

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


@ledger.command("expire")
@click.option("--dry-run", is_flag=True, help="Say what would expire; post nothing.")
@with_appcontext
def ledger_expire(dry_run: bool):
    """Post every household's points that are past their expiry day to the expiry account.

    What the server's daily job does; running it again posts nothing new.
    """
    with reading() if dry_run else write():  # a dry run only reads: the counter is never held up
        rule = current_rule(db.session)
        report = expire_points(db.session, dry_run=dry_run)
    said = {
        PointsRuleKind.YEAR_END: "cleared at the end of each year",
        PointsRuleKind.MONTHS: f"expire {rule.months} months after earning",
    }
    click.echo(f"rule for points earned now: {said.get(rule.rule, 'kept, they never expire')}")
    verb = "would expire" if dry_run else "expired"
    click.echo(f"{verb} {report.points} points from {report.households} households")
