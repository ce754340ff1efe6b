"""Language choice: Chinese first, English available, remembered in a cookie."""

from flask import has_request_context, request
from flask_babel import gettext as _

LANGUAGES = {"zh": "中文", "en": "English"}
COOKIE = "lang"


def join_problems(problems) -> str:
    """Join several messages about one thing with the locale's separator ("；" or "; ")."""
    return _("；").join(str(p) for p in problems)


def join_names(names) -> str:
    """Join a list of names with the locale's enumeration comma ("、" or ", ")."""
    return _("、").join(str(n) for n in names)


def signed(points: int) -> str:
    """Points with their sign, as ledgers print them: ``+20``, ``-10``, ``0``."""
    return f"{points:+d}" if points else "0"


def select_locale() -> str | None:
    if not has_request_context():
        return None  # the CLI and background work speak the default, Chinese
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="zh")
