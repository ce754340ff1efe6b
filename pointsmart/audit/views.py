"""The chair reads the audit log."""

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request

from ..auth.access import role_required
from ..auth.models import Role, User
from ..extensions import db
from ..web import page_arg
from .services import entries

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    page = page_arg()
    action = request.args.get("action", "").strip()
    per_page = current_app.config["POINTSMART_PAGE_SIZE"] * 2
    rows, total = entries(db.session, page, per_page, action or None)
    actor_ids = {e.actor_id for e in rows if e.actor_id}
    actors = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(actor_ids)))}
    return render_template(
        "audit/index.html",
        entries=rows,
        total=total,
        page=page,
        per_page=per_page,
        action=action,
        actors=actors,
    )
