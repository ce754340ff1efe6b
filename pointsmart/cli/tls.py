"""``pointsmart tls``: the village's own certificate authority for HTTPS on the LAN (:mod:`pointsmart.tls`).

``pointsmart run`` and ``serve`` make the CA and the server certificate by themselves on the first
start; these commands do it ahead of time, add names the server certificate must cover, and show
what there is.
"""

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import tls


@click.group(help="The village's certificate authority and HTTPS certificate.")
def tls_group():
    pass


def _show(folder) -> None:
    state = tls.status(folder)
    if not state.ready:
        click.echo(f"No certificate authority in {folder} yet: `pointsmart tls init` makes one.")
        return
    click.echo(f"CA:           {state.ca.subject.rfc4514_string()}")
    click.echo(f"  SHA-256:    {tls.fingerprint(state.ca)}")
    click.echo(f"  valid until {state.ca.not_valid_after_utc:%Y-%m-%d}")
    click.echo(f"  file:       {folder / 'ca.crt'} (phones download it from /ca.crt)")
    if state.server is None:
        click.echo("Server certificate: none yet (the server makes one when it starts)")
        return
    names = tls.cert_names(state.server)
    click.echo(f"Server certificate valid until {state.server.not_valid_after_utc:%Y-%m-%d}, for:")
    click.echo("  " + ", ".join(sorted(names.dns) + sorted(map(str, names.ips))))
    reason = tls.renewal_reason(folder, tls.wanted_names(tls.extra_names(folder)))
    if reason:
        click.echo(f"  will be renewed at the next start or hourly check: {reason}")


@tls_group.command("init", help="Make the CA (once) and a server certificate for this PC's names.")
@click.option("--name", "names", multiple=True, help="Another name or address to cover (kept; repeatable).")
@click.option("--new-ca", is_flag=True, help="Replace the CA: every phone must install the new one.")
@with_appcontext
def init(names: tuple[str, ...], new_ca: bool):
    from .serve import _village_name

    folder = tls.folder(current_app)
    if names:
        tls.add_names(folder, names)
    if new_ca:
        tls.create_ca(folder, _village_name(), tls.extra_names(folder))
        click.echo("Made a new certificate authority: install it again on every phone.")
    ready = tls.ensure(folder, village=_village_name())
    if ready.created_ca:
        click.echo(f"Created the village's certificate authority in {folder}")
    click.echo(f"Server certificate: {'issued (' + ready.renewed + ')' if ready.renewed else 'still good'}")
    _show(folder)


@tls_group.command("status", help="Show the CA and the server certificate.")
@with_appcontext
def status():
    _show(tls.folder(current_app))


tls_group.name = "tls"
