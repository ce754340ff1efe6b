"""The scoring blueprint and what its page modules share (:mod:`.views`, :mod:`.entry_views`)."""

from flask import Blueprint, flash, g, redirect, url_for

from ..auth.models import Role
from ..errors import DomainError
from ..extensions import db
from .models import CADENCE_LABELS, STATUS_LABELS
from .reports import round_label
from .rounds import get_round

bp = Blueprint("scoring", __name__, url_prefix="/scoring")

STAFF = (Role.CHAIR, Role.PANEL)


@bp.app_context_processor
def labels():
    return {"cadence_labels": CADENCE_LABELS, "status_labels": STATUS_LABELS, "round_name": round_name}


def round_name(scoring_round) -> str:
    """A round's name without its group: ``2026年11月 月评定`` (:func:`.reports.round_label`)."""
    return round_label(scoring_round.period_type, scoring_round.period_key)


def flash_done(message: str, endpoint: str, **values):
    """Say a step is done, and go on to ``endpoint``."""
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def flash_refused(err: DomainError, endpoint: str, **values):
    """Say why a step was refused, and go back to ``endpoint``."""
    flash(err.message, "error")
    return redirect(url_for(endpoint, **values))


def village_round(round_id: int):
    """A round of the signed-in user's village (404 for another village's)."""
    return get_round(db.session, g.village.id, round_id)
