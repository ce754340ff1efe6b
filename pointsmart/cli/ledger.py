"""``pointsmart ledger verify``: prove every cached balance equals the sum of its transfers."""

import sys

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..ledger.services import verify


@click.group("ledger", help="Check the points ledger.")
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
