"""Users, roles, log-in sessions and API tokens."""
