"""The one place that maps errors to a friendly HTML page or the API's JSON error envelope."""

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from .errors import DomainError
from .extensions import db


def wants_json() -> bool:
    """The API, and pages' own JSON calls (the score grid), get JSON errors; people get pages."""
    return request.path.startswith("/api/") or request.is_json


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
}


def _http_message(status: int) -> str:
    messages = {
        400: _("请求有误，请检查后重试。"),
        401: _("需要登录。"),
        403: _("您没有权限进行此操作。"),
        404: _("找不到这个页面或记录。"),
        405: _("不支持这种请求方式。"),
        413: _("上传的文件太大。"),
        429: _("尝试次数过多，请稍后再试。"),
    }
    return messages.get(status, _("服务器出错了，请稍后再试。"))


def register_error_handlers(app: Flask) -> None:
    """Map domain errors and HTTP errors to one JSON envelope (API) or one friendly page (HTML)."""

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        db.session.rollback()
        if wants_json():
            body = error_body(err.code, err.message, **err.extra)
            body.update(getattr(err, "top_level", {}))
            return jsonify(body), err.status
        return render_template("error.html", status=err.status, message=err.message), err.status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        status = err.code or 500
        if status == 404 and request.path.startswith("/c/"):
            from .family.views import unknown_card  # a family's address: one answer for every miss

            return unknown_card()
        if status == 413 and request.endpoint == "claims.new":
            from .claims.views import too_large  # the family's claim form again, its photos marked

            return too_large()
        code = _HTTP_CODES.get(status, "error")
        message = _http_message(status)
        if status == 400 and getattr(err, "description", "") and "CSRF" in err.description:
            code, message = "csrf_failed", _("页面已过期，请刷新后重试。")
        # a 405 names the methods the URL does take (RFC 9110 requires Allow), and so on for any
        # header the exception carries
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        if wants_json():
            return jsonify(error_body(code, message)), status, headers
        return render_template("error.html", status=status, message=message), status, headers

    @app.errorhandler(500)
    def server_error(err):
        db.session.rollback()
        message = _http_message(500)
        if wants_json():
            return jsonify(error_body("server_error", message)), 500
        return render_template("error.html", status=500, message=message), 500
