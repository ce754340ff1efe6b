"""The chair's settings page: the county's address and sync key, backups (download, now, daily), the
year-end rule for points and the shop's opening days."""

import base64
import io
import ipaddress
import os
import tempfile
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import tls
from ..auth.access import role_required
from ..auth.models import Role
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..pages import flash_marked, safe_next
from ..periods import local
from ..qr import qr_svg
from ..unit import write
from . import backups, expiry, opening_days, services
from .forms import OpeningDaysForm, PointsRuleForm, SettingsForm
from .models import BACKUP_KIND_LABELS

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _stored_form() -> SettingsForm:
    """The settings form filled from the database (never from the request)."""
    stored = services.current(db.session)
    return SettingsForm(
        formdata=None,
        county_url=stored.county_url,
        backup_daily=stored.backup_daily,
        backup_keep_days=stored.backup_keep_days,
    )


def _rule_form() -> PointsRuleForm:
    """The rule form showing the rule in force."""
    rule = expiry.current_rule(db.session)
    return PointsRuleForm(formdata=None, rule=rule.rule, months=rule.months)


def _days_form() -> OpeningDaysForm:
    """The opening days form showing the days set now."""
    return OpeningDaysForm(formdata=None, days=[str(day) for day in opening_days.current_days(db.session)])


def _lan_host(server_cert) -> str:
    """The host a phone on the LAN reaches this server by: the one the page was asked on, unless that
    is this PC itself (``localhost``), then a LAN address from the server certificate."""
    host = urlsplit(f"//{request.host}").hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback and server_cert is not None:
        addresses = [a for a in tls.cert_names(server_cert).ips if a.version == 4 and not a.is_loopback]
        if addresses:
            return str(sorted(addresses, key=lambda a: (not a.is_private, int(a)))[0])
    return _bracketed(host)


def phone_addresses(names: tls.Names, https_port) -> list[str]:
    """The HTTPS addresses a phone on the village LAN can open, best first: this PC's private IP
    addresses (a phone reaches them on any village router), then the LAN names given at ``tls init``
    (``village.lan``). Never this PC's own loopback, nor its bare host name (a phone can rarely
    resolve one on a village LAN)."""
    port = "" if int(https_port) == 443 else f":{https_port}"
    ips = sorted(
        (a for a in names.ips if not a.is_loopback and not a.is_link_local),
        # a LAN's own ranges (192.168/16, 10/8, …) first: the one a village router hands out
        key=lambda a: (
            a.version,
            not any(a in n for n in tls.PRIVATE_NETWORKS if n.version == a.version),
            int(a),
        ),
    )
    dns = sorted(n for n in names.dns if "." in n and n != "localhost" and not n.endswith(".localhost"))
    return [f"https://{_bracketed(str(a))}{port}/" for a in ips] + [f"https://{n}{port}/" for n in dns]


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _https_card() -> dict:
    """What the HTTPS card shows: the phone steps' download address and its QR, the CA's fingerprint
    and dates. The download is over plain HTTP: a phone fetches it before it trusts HTTPS."""
    state = tls.status(tls.folder(current_app))
    if not state.ready:
        return {"ready": False}
    base = current_app.config["POINTSMART_BASE_URL"]
    # the address the cards print, when one is set; else one a phone on the LAN can reach
    host = _bracketed(urlsplit(base).hostname or "") if base else _lan_host(state.server)
    http_port = current_app.config.get("POINTSMART_HTTP_PORT") or (
        request.host.rsplit(":", 1)[1]
        if request.scheme == "http" and request.host.rsplit(":", 1)[-1].isdecimal()
        else 8000
    )
    https_port = current_app.config.get("POINTSMART_HTTPS_PORT") or 8443
    if base:
        download = base.rstrip("/") + url_for("web.ca_certificate")
    else:
        port = "" if int(http_port) == 80 else f":{http_port}"
        download = f"http://{host}{port}{url_for('web.ca_certificate')}"
    qr = "data:image/svg+xml;base64," + base64.b64encode(qr_svg(download)).decode()
    names = tls.cert_names(state.server) if state.server else None
    return {
        "ready": True,
        "download": download,
        "qr": qr,
        "secure_url": f"https://{host}{'' if int(https_port) == 443 else f':{https_port}'}/",
        "fingerprint": tls.fingerprint(state.ca),
        "ca_until": state.ca.not_valid_after_utc,
        "server_until": state.server.not_valid_after_utc if state.server else None,
        "names": phone_addresses(names, https_port) if names else [],
    }


def _page(
    form: SettingsForm,
    status: int = 200,
    rule_form: PointsRuleForm | None = None,
    days_form: OpeningDaysForm | None = None,
):
    stored = services.current(db.session)
    rule = expiry.current_rule(db.session)
    link = services.county_link(db.session, current_app.config)
    database = backups.sqlite_file(db.engine)
    return (
        render_template(
            "settings/index.html",
            form=form,
            stored=stored,
            link=link,
            stored_key_tail=services.key_tail(stored.sync_key),
            sqlite=database is not None,
            last=backups.last_backup(db.session),
            failure=backups.last_failure(db.session),
            folder=backups.folder(current_app) if database else None,
            kind_labels=BACKUP_KIND_LABELS,
            # a form refused for another field keeps the good key just pasted (so it need not be pasted
            # again); a refused key is not shown back, nor is the stored key ever
            pasted_key=(form.sync_key.data or "") if status != 200 and not form.sync_key.errors else "",
            rule_form=rule_form or _rule_form(),
            rule=rule,
            days_form=days_form or _days_form(),
            days_now=opening_days.describe(opening_days.current_days(db.session)),
            https=_https_card(),
        ),
        status,
    )


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    return _page(_stored_form())


def _mark_refusal(form, err: DomainError) -> None:
    """A service's refusal under the field it names (with the one banner), or in the banner alone."""
    field = err.extra.get("field")
    if field in form:
        form[field].errors = [err.message]
        flash_marked(form)
    else:
        flash(err.message, "error")


@bp.post("/")
@role_required(Role.CHAIR)
def save():
    form = SettingsForm()
    if not form.validate_on_submit():
        flash_marked(form)
        return _page(form, 422)
    pasted = (form.sync_key.data or "").strip()
    key = "" if form.clear_key.data and not pasted else (pasted or None)
    try:
        with write():
            changed = services.save_settings(
                db.session,
                current_user.id,
                county_url=form.county_url.data or "",
                sync_key=key,
                backup_daily=form.backup_daily.data,
                backup_keep_days=form.backup_keep_days.data,
            )
    except DomainError as err:
        _mark_refusal(form, err)
        return _page(form, err.status)
    flash(_("设置已保存。") if changed else _("设置没有改动。"), "success" if changed else "info")
    return redirect(url_for(".index"))


@bp.post("/points-rule")
@role_required(Role.CHAIR)
def save_points_rule():
    """Choose the year-end rule for points earned from now on."""
    form = PointsRuleForm()
    settings_form = _stored_form()
    if not form.validate_on_submit():
        flash_marked(form)
        return _page(settings_form, 422, form)
    try:
        with write():
            changed = expiry.set_rule(db.session, current_user.id, form.rule.data, form.months.data)
    except DomainError as err:
        _mark_refusal(form, err)
        return _page(settings_form, err.status, form)
    if changed is None:
        flash(_("积分到期规则没有改动。"), "info")
    else:
        flash(
            _("积分到期规则已改为：%(rule)s。从现在起获得的积分按新规则。", rule=changed.describe()),
            "success",
        )
    return redirect(url_for(".index"))


@bp.post("/opening-days")
@role_required(Role.CHAIR)
def save_opening_days():
    """Set the weekdays the shop opens (none ticked: not set, the county does not check the days)."""
    form = OpeningDaysForm()
    settings_form = _stored_form()
    if not form.validate_on_submit():
        flash_marked(form)
        return _page(settings_form, 422, days_form=form)
    try:
        with write():
            changed = opening_days.set_days(db.session, current_user.id, form.days.data)
    except DomainError as err:
        _mark_refusal(form, err)
        return _page(settings_form, err.status, days_form=form)
    if changed is None:
        flash(_("营业日没有改动。"), "info")
    else:
        flash(_("营业日已改为：%(days)s。", days=opening_days.describe(changed)), "success")
    return redirect(url_for(".index"))


@bp.post("/backup")
@role_required(Role.CHAIR)
def backup_now():
    """Take a backup kept on the server now (the home page's and this page's button)."""
    back = safe_next(request.form.get("next"), url_for(".index"))
    try:
        run = backups.take_backup(current_app._get_current_object(), actor_id=current_user.id)
    except backups.BackupUnavailable as exc:
        flash(str(exc), "error")
        return redirect(back)
    except OSError:
        current_app.logger.exception("backup failed")
        flash(_("备份没有成功（磁盘满了，或者文件夹不能写），请联系技术人员。"), "error")
        return redirect(back)
    if run is None:
        flash(_("正在备份，请稍候再看。"), "warning")
    else:
        flash(_("已备份（%(size)s）。", size=_size(run.size_bytes)), "success")
    return redirect(back)


@bp.get("/backup/download")
@role_required(Role.CHAIR)
def download():
    """Download a consistent copy of the database, made now (SQLite's online backup)."""
    database = backups.sqlite_file(db.engine)
    if database is None:
        flash(_("这个系统用的是 PostgreSQL 数据库，不能在这里下载备份。请让管理员用 pg_dump 备份。"), "error")
        return redirect(url_for(".index"))
    where = backups.folder(current_app)
    where.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".sqlite3", dir=where)
    os.close(fd)
    os.unlink(name)  # copy_sqlite writes a new file there
    path = where / os.path.basename(name)
    size = backups.copy_sqlite(database, path)
    with write():
        backups.record_download(db.session, current_user.id, size)
    stamp = local(utcnow()).strftime("%Y%m%d-%H%M")
    # a village database is a few tens of MB: read into memory, so the file can go now (Windows
    # refuses to delete a file that is still open)
    data = io.BytesIO(path.read_bytes())
    path.unlink()
    return send_file(
        data,
        mimetype="application/vnd.sqlite3",
        as_attachment=True,
        download_name=f"pointsmart-{g.village.code}-{stamp}.sqlite3",
    )


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"
