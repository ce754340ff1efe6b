"""The paper trail counties inspect (台账): score sheets, meeting minutes, notice photos, points register."""

from flask import Blueprint

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")
