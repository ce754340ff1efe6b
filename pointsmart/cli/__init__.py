"""The ``pointsmart`` command: a Flask CLI group, so ``pointsmart --help`` lists everything.

One module per feature, each holding its commands; :func:`register_commands` adds them all to the app
(``create_app`` calls it), which is also what ``app.test_cli_runner()`` sees in the tests.

Flask's own group brings a ``run`` command (the development server, with a reloader and debugger
meant for a programmer's desk). ``pointsmart run`` is ours instead — migrate, load the demo once,
serve with waitress — so :func:`group` leaves Flask's out on purpose; ``flask --app pointsmart run``
still starts the development server for whoever wants it.
"""

from flask.cli import FlaskGroup, routes_command, shell_command


def group() -> FlaskGroup:
    """The ``pointsmart`` group: the app's commands, Flask's ``shell`` and ``routes``, not Flask's ``run``."""
    from .. import create_app

    cli = FlaskGroup(
        create_app=lambda: create_app(), add_default_commands=False, help="PointsMart (巾帼家美积分超市)."
    )
    cli.add_command(shell_command)
    cli.add_command(routes_command)
    return cli


def main() -> None:
    group().main(prog_name="pointsmart")


def register_commands(app) -> None:
    """Add every feature's commands to ``app.cli``."""
    from . import backup, cards, county, demo, households, ledger, photos, serve, sync, tls, users, village

    for command in (
        demo.demo,
        village.village,
        users.users,
        households.households,
        cards.cards,
        ledger.ledger,
        sync.sync,
        county.county,
        backup.backup,
        photos.photos,
        serve.serve,
        serve.run,
        tls.tls_group,
    ):
        app.cli.add_command(command)
