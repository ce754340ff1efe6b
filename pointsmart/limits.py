"""Request bodies are refused by their declared size before anyone reads them.

``MAX_CONTENT_LENGTH`` (8 MB) holds every request on every route, and waitress is given the same
limit (``pointsmart.cli.serve.server_options``). A larger sync bundle reaches the county in parts
(``pointsmart.county.parts``), each of them an ordinary small body.
"""

from flask import Flask, abort, request


def refuse_oversized_body():
    """Answer 413 from the ``Content-Length`` header alone, whatever the route would do with the body.

    Werkzeug refuses the same body when a view reads the form; this runs first, for every route, so a
    large POST to a page that never reads its body (or that redirects an anonymous visitor to log in)
    gets the same 413 and the body stays unread.
    """
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def init_app(app: Flask) -> None:
    # first of all before-request functions: before the CSRF check reads the form
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_oversized_body)
