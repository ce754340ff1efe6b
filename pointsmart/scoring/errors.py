"""What scoring refuses: one error type (409 unless it says otherwise), and the notice not being over."""

from ..errors import DomainError


class ScoringError(DomainError):
    code = "scoring_error"
    status = 409


class NoticeNotOver(ScoringError):
    code = "notice_not_over"
