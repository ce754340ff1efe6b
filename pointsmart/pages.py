"""What every page view does the same way: read the page number, report a form's errors, follow a
``next`` only within the site. Below every blueprint: views import it, it imports no view."""

from urllib.parse import urlsplit

from flask import flash, request
from flask_babel import gettext as _

from .i18n import join_names, join_problems
from .paging import MAX_PAGE


def page_arg() -> int:
    """The ``page`` query argument, from 1 to :data:`MAX_PAGE` whatever was typed."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def flash_errors(form) -> None:
    """Flash each invalid field of a form as one message: "label：problem；problem"."""
    for name, errors in form.errors.items():
        problems = join_problems(errors)
        label = form[name].label.text if name in form else ""
        flash(_("%(field)s：%(problems)s", field=label, problems=problems) if label else problems, "error")


def flash_marked(form) -> None:
    """A form refused on a page that marks each invalid field where it stands (the field macro of
    templates/_macros.html): one banner naming the marked fields (they may be further down the page),
    instead of repeating every message."""
    if form.errors:
        names = join_names(form[name].label.text for name in form.errors if name in form)
        flash(_("请修改标出的项目：%(fields)s。", fields=names), "error")


def safe_next(target: str | None, default: str) -> str:
    """Only follow a ``next`` that stays on this site (a path, no scheme, no host)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return default
