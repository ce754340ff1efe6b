"""Language choice: Chinese first, English available, remembered in a cookie."""

from flask import has_request_context, request

LANGUAGES = {"zh": "中文", "en": "English"}
COOKIE = "lang"


def select_locale() -> str | None:
    if not has_request_context():
        return None  # the CLI and background work speak the default, Chinese
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="zh")
