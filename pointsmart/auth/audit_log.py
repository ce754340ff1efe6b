"""The chair reads the audit log. The log itself (:mod:`pointsmart.audit`) sits below every domain,
auth included, so its page lives here with the chair's other administration pages."""

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request

from ..audit.services import entries
from ..extensions import db
from ..pages import page_arg
from .access import role_required
from .models import Role, User

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    action = request.args.get("action", "").strip()
    found = entries(db.session, page_arg(), current_app.config["POINTSMART_PAGE_SIZE"] * 2, action or None)
    actor_ids = {e.actor_id for e in found.items if e.actor_id}
    actors = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(actor_ids)))}
    return render_template(
        "audit/index.html",
        found=found,
        action=action,
        actors=actors,
    )
