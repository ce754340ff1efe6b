"""The app for any WSGI server: ``waitress-serve --listen=0.0.0.0:8000 wsgi:app``, ``gunicorn wsgi:app``.

Settings come from the environment and ``instance/config.py`` as for ``pointsmart serve`` (see the
README). Run the migrations first (``pointsmart db upgrade``). The file needs nothing from the checkout
but an installed ``pointsmart``: copy it next to the instance folder of an installed copy as it is.
"""

from pointsmart import create_app

app = create_app()
