"""The county blueprint, shared by its page modules (:mod:`.views`, :mod:`.bundle_views`)."""

from flask import Blueprint

bp = Blueprint("county", __name__, url_prefix="/county")
