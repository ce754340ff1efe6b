"""Where the app finds its templates, static files and seed data, in a checkout and when installed.

The repository keeps ``templates/``, ``static/`` and ``seed/`` beside the package; a wheel carries
them inside it (see ``hatch_build.py``). Inside the package wins, so an installed copy never reaches
for a checkout that happens to sit next to it.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    """Return the folder ``name`` (``templates``, ``static`` or ``seed``) wherever this install keeps it."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name
