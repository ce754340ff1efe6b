"""What villagers see without logging in: the public notice (公示) and the honour roll (光荣榜)."""

from flask import Blueprint

bp = Blueprint("public", __name__)
