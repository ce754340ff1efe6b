"""The chair's settings: the county's address and sync key, and the village's backups.

The settings live in the database (one row), so that a chair can set them from a page instead of the
command line; a value set in the server's configuration (environment or ``instance/config.py``) still
wins over the page's. Backups are SQLite online-backup copies in ``instance/backups``, one a day taken
by the server itself and any number on demand, each recorded in ``backup_run``.
"""
