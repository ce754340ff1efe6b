"""The audit log: who changed what, when, with old and new values. Append only."""
