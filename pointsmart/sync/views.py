"""The chair's sync page: when the county last heard from the village, what waits, and a push button.

A push runs in a background thread (one at a time, whichever process started it) and keeps its
progress in the database (:mod:`pointsmart.sync.progress`); the page asks ``/sync/progress`` every
second. The chair can also download a signed bundle for a USB stick when there is no network.
"""

import io
import threading
from dataclasses import asdict

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..audit.services import record
from ..auth.access import role_required
from ..auth.models import Role
from ..clock import utcnow
from ..extensions import db
from ..periods import local
from ..settings.services import county_link
from ..unit import reading, write
from . import batches, progress
from .bundle import export_bundle
from .client import PushError, push, village_address

bp = Blueprint("sync", __name__, url_prefix="/sync")


def _run(app, url: str, key: str, actor_id: int, village_url: str | None = None) -> None:
    """Push in a background thread; progress and outcome go to the database for the page to show."""

    def show(report):
        with write():
            progress.beat(
                db.session, report.head_seq, report.acked_seq, report.records, report.batches, report.retries
            )

    with app.app_context(), reading():
        try:
            report = push(db.session, url, key, progress=show, attempts=4, village_url=village_url)
            if report.records:
                message = _(
                    "已发送 %(records)s 条记录（%(batches)s 批），县里已确认到第 %(acked)s 条。",
                    records=report.records,
                    batches=report.batches,
                    acked=report.acked_seq,
                )
            else:
                message = _("没有等待发送的记录，县里已确认到第 %(acked)s 条。", acked=report.acked_seq)
            with write():
                show(report)
                progress.finish(db.session, True, message)
                record(
                    db.session, "sync.pushed", actor_id, None, records=report.records, acked=report.acked_seq
                )
        except PushError as err:
            with write():
                progress.finish(db.session, False, err.message)
        except Exception:  # the page must always learn that the push ended
            current_app.logger.exception("sync push failed")
            with write():
                progress.finish(db.session, False, _("同步出错了，请稍后再试。"))
            raise
        finally:
            db.session.remove()


def _link():
    """The county address and sync key in use: the server's configuration, else the settings page."""
    return county_link(db.session, current_app.config)


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    state = batches.state(db.session)
    head = batches.head_seq(db.session)
    link = _link()
    return render_template(
        "sync/index.html",
        state=state,
        head=head,
        waiting=max(0, head - state.acked_seq),
        county_url=link.url,
        configured=link.configured,
        has_key=bool(link.key),
        progress=progress.current(db.session),
    )


@bp.post("/push")
@role_required(Role.CHAIR)
def start_push():
    link = _link()
    url, key = link.url, link.key
    if not link.configured:
        flash(_("还没有填写县里的地址和同步密钥，请到“设置”页填写。"), "error")
        return redirect(url_for(".index"))
    with write():
        started = progress.start(db.session)
    if not started:
        flash(_("正在同步，请稍候。"), "warning")
        return redirect(url_for(".index"))
    app = current_app._get_current_object()
    threading.Thread(
        target=_run,
        args=(app, url, key, current_user.id, village_address(current_app.config)),
        daemon=True,
        name="sync-push",
    ).start()
    return redirect(url_for(".index"))


@bp.get("/progress", endpoint="progress")
@role_required(Role.CHAIR)
def push_progress():
    return jsonify(asdict(progress.current(db.session)))


@bp.get("/bundle")
@role_required(Role.CHAIR)
def bundle():
    """Download a signed bundle of everything the county has not acknowledged (for a USB stick)."""
    key = _link().key
    if not key:
        flash(_("还没有填写同步密钥，不能导出同步文件。请到“设置”页填写。"), "error")
        return redirect(url_for(".index"))
    out = io.BytesIO()
    report = export_bundle(
        db.session, g.village.code, key, out, village_url=village_address(current_app.config)
    )
    with write():
        record(
            db.session,
            "sync.bundle_exported",
            current_user.id,
            None,
            from_seq=report.from_seq,
            to_seq=report.to_seq,
        )
    out.seek(0)
    stamp = local(utcnow()).strftime("%Y%m%d-%H%M")  # the file name says when, in village time
    name = f"sync-{g.village.code}-{report.from_seq}-{report.to_seq}-{stamp}.pmb"
    return send_file(out, mimetype="application/gzip", as_attachment=True, download_name=name)
