"""Bundles from villages without a network: a county admin uploads a village's signed ``.pmb`` file,
in one POST or, when large, in parts. Registered on the county blueprint (:mod:`.blueprint`)."""

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms.validators import StopValidation

from .. import text
from ..audit.services import record
from ..auth.access import county_required
from ..auth.models import Role
from ..errors import DomainError
from ..extensions import db
from ..forms import FlaskForm
from ..handlers import error_body
from ..pages import flash_errors
from ..unit import write
from . import dashboard as board
from . import parts, services
from .blueprint import bp
from .bundles import import_bundle

#: how long a bundle's file name may be, as the audit log keeps it (a browser's, a disk's limit)
MAX_FILENAME = 255
FILENAME_LABEL = _l("文件名")


def sane_filename(value) -> str | None:
    """The name of an uploaded file, as the audit log keeps it: printable text of at most
    :data:`MAX_FILENAME` characters (the text rule), or None when none was sent.

    :raises pointsmart.text.BadText: a name that is not text (a number, a list), holds a control
        character, or is too long; the message names the field (文件名).
    """
    if value is not None and not isinstance(value, str):
        raise text.refusal("filename", str(FILENAME_LABEL), _("应为文字"))
    return text.checked(value, "filename", str(FILENAME_LABEL), max_length=MAX_FILENAME) or None


def _named_as_text(_form, field) -> None:
    """A WTForms validator: the chosen file's name passes :func:`sane_filename`."""
    try:
        sane_filename(getattr(field.data, "filename", None))
    except text.BadText as err:
        raise StopValidation(err.message) from err


class BundleForm(FlaskForm):
    file = FileField(
        _l("同步文件（村里导出的 .pmb 文件）"),
        validators=[FileRequired(_l("请选择同步文件")), _named_as_text],
    )


def _import_and_tell(stream, filename: str | None) -> None:
    """Import one bundle, record it (or its refusal) in the audit log, and flash the result."""
    try:
        with write():
            report = import_bundle(db.session, stream)
            village, _link = services.village_for(db.session, current_user, report.village_code)
            record(
                db.session,
                "county.bundle.imported",
                current_user.id,
                village,
                filename=filename,
                from_seq=report.from_seq,
                to_seq=report.to_seq,
                applied=report.applied,
                acked_seq=report.acked_seq,
            )
    except DomainError as err:
        with write():  # the refusal is recorded too: auditors ask about those
            record(
                db.session,
                "county.bundle.refused",
                current_user.id,
                None,
                code=err.code,
                filename=filename,
                message=err.message,
            )
        flash(err.message, "error")
        return
    if report.applied:
        flash(
            _(
                "已导入 %(name)s（%(code)s）的同步文件：第 %(a)s–%(b)s 条，新增 %(n)s 条；"
                "县里已确认到第 %(acked)s 条。",
                name=report.village_name,
                code=report.village_code,
                a=report.from_seq,
                b=report.to_seq,
                n=report.applied,
                acked=report.acked_seq,
            ),
            "success",
        )
    else:
        flash(
            _(
                "%(name)s（%(code)s）的这个同步文件县里已经有了，什么也没有改（已确认到第 %(acked)s 条）。",
                name=report.village_name,
                code=report.village_code,
                acked=report.acked_seq,
            ),
            "info",
        )


def _part_refused(err: parts.PartRefused):
    return jsonify(error_body(err.code, err.message)), err.status


@bp.post("/bundles/parts")
@county_required(Role.COUNTY_ADMIN)
def bundle_part():
    """One part of a large bundle (``?upload=<32 hex>&index=<i>&count=<n>``, the part as the body).

    Stored as it is read, outside the write lock: nothing in the database changes until the last part.
    """
    args = request.args
    try:
        received = parts.save_part(
            current_user.id, args.get("upload"), args.get("index"), args.get("count"), request.stream
        )
    except parts.PartRefused as err:
        return _part_refused(err)
    return jsonify({"received": received})


@bp.post("/bundles/parts/done")
@county_required(Role.COUNTY_ADMIN)
def bundle_parts_done():
    """All parts are in (JSON ``{upload, count, filename}``): join and import them as one upload.

    The answer names the page to show; the result is flashed there, as after the one-POST form.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _part_refused(parts.PartRefused(_("请求内容不对。")))
    try:
        with parts.assembled(current_user.id, body.get("upload"), body.get("count")) as stream:
            _import_and_tell(stream, sane_filename(body.get("filename")))
    except parts.PartRefused as err:
        return _part_refused(err)
    return jsonify({"redirect": url_for("county.upload_bundle")})


@bp.route("/bundles", methods=["GET", "POST"])
@county_required(Role.COUNTY_ADMIN)
def upload_bundle():
    """A county admin uploads a village's signed bundle; it is applied whole or not at all.

    A file up to 8 MB comes in this form's one POST (the way without JavaScript); a larger one is sent
    in parts by ``static/js/bundle-upload.js`` (see :func:`bundle_part` and :mod:`.parts`).
    """
    form = BundleForm()
    if form.validate_on_submit():
        upload = form.file.data
        _import_and_tell(upload.stream, sane_filename(upload.filename))
        return redirect(url_for("county.upload_bundle"))
    refused = form.is_submitted()  # and not valid: no file, or no CSRF token
    if refused:
        flash_errors(form)
    return render_template(
        "county/bundle.html",
        form=form,
        batches=board.recent_batches(db.session, current_user),
        part_bytes=current_app.config["POINTSMART_BUNDLE_PART_BYTES"],
        max_bytes=current_app.config["POINTSMART_BUNDLE_MAX_BYTES"],
        body_bytes=current_app.config["MAX_CONTENT_LENGTH"],
    ), (422 if refused else 200)
