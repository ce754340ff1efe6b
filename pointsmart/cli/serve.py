"""``pointsmart serve`` and ``pointsmart run``: serve the app with waitress, a production WSGI server.

``run`` is the one command a village PC needs — Windows included, where there is no ``make``: it
applies the migrations, loads the demo village once (never over a real village), and serves. It
replaces Flask's development-server ``run`` on purpose (see :mod:`pointsmart.cli`).
"""

import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from ..settings.backups import start_scheduler

_host = click.option(
    "--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="$HOST or 127.0.0.1"
)
_port = click.option(
    "--port", default=lambda: int(os.environ.get("PORT", "8000")), type=int, show_default="$PORT or 8000"
)
_threads = click.option("--threads", default=8, show_default=True)

#: how often (seconds) a thread holding Python's interpreter lock hands it on. A request that only
#: waits on the network and the database (``/healthz``, a card lookup) needs the lock for a moment
#: dozens of times; beside a thread busy rendering a report or reading a roster it queued 5 ms (the
#: default) each time, and answered in about a second. 1 ms keeps it well under.
SWITCH_INTERVAL_S = 0.001


def server_options(app) -> dict:
    """waitress's settings beyond host, port and threads.

    waitress reads a request's whole body before the app sees it, so it is given the largest body any
    route takes: ``MAX_CONTENT_LENGTH`` (8 MB) on a village and on a county alike. A larger one is
    refused from its ``Content-Length`` (413) before a byte of it is read. (A county's large bundles
    come in parts, each under that limit: :mod:`pointsmart.county.parts`.)
    """
    return {"ident": "PointsMart", "max_request_body_size": app.config["MAX_CONTENT_LENGTH"]}


@click.command(help="Serve with waitress, a production WSGI server.")
@_host
@_port
@_threads
@with_appcontext
def serve(host: str, port: int, threads: int):
    from waitress import serve as waitress_serve

    click.echo(f"PointsMart serving on http://{host}:{port}/  (Ctrl+C stops)")
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = current_app._get_current_object()
    # the daily backup, taken by the server itself; several processes take turns through the database
    start_scheduler(app)
    waitress_serve(app, host=host, port=port, threads=threads, **server_options(app))


@click.command(
    help="Migrate, load the demo (once, and only if no other village is set up), serve with waitress."
)
@_host
@_port
@_threads
@with_appcontext
def run(host: str, port: int, threads: int):
    from flask_migrate import upgrade

    from .demo import demo

    upgrade()
    ctx = click.get_current_context()
    ctx.invoke(demo, if_empty=True)
    ctx.invoke(serve, host=host, port=port, threads=threads)
