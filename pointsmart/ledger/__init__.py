"""The points ledger: accounts and double-entry transfers.

Design overview — points are treated like money (DESIGN §5):

* Every movement of points is a :class:`Transfer` of a positive whole number of points from one
  :class:`Account` to another. Awards move points issuance → household, redemptions household →
  shop, deductions household → deductions. The issuance account therefore runs negative, and the
  sum of every account's balance is always exactly zero.
* Transfers are append only. The database refuses UPDATE and DELETE on ``transfer`` (triggers, on
  SQLite and PostgreSQL), so a bug above cannot rewrite history. A mistake is undone by a reversing
  transfer that names the original (``reverses_id``, unique: a transfer is reversed at most once).
* ``Account.balance`` is a cache, updated in the same transaction as the transfer. A household
  account never goes below zero: the debit is one conditional ``UPDATE … WHERE balance >= amount``
  (no read-then-write, so it is safe under PostgreSQL's READ COMMITTED and SQLite's
  ``BEGIN IMMEDIATE``), with a CHECK constraint as the backstop. :func:`verify` recomputes every
  balance from the transfers.
* The ledger imports no other domain and nothing of Flask's request machinery. Its functions flush
  but never commit: the caller owns the transaction.
"""
