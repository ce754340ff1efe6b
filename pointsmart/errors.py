"""The base of every domain's error type. Pure Python: the ledger may import it.

:mod:`pointsmart.handlers` turns these into an HTML page or a JSON error body, in one place.
"""


class DomainError(Exception):
    """A rule of the domain refused an operation.

    ``code`` is for programs and tests; ``message`` is for people. ``status`` is the HTTP status the
    API answers with.
    """

    code = "domain_error"
    status = 400
    #: set by a service that rolled its work back but recorded the refusal (an audit entry, the
    #: idempotency record): the unit of work commits what was kept before the error goes on
    keep = False

    def __init__(
        self, message, code: str | None = None, status: int | None = None, *, keep: bool = False, **extra
    ):
        super().__init__(message)
        self.message = str(message)
        if code:
            self.code = code
        if status:
            self.status = status
        if keep:
            self.keep = True
        self.extra = extra


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class Invalid(DomainError):
    code = "invalid"
    status = 422
