"""The closed months (月结), low down: which months are closed and the one refusal of a write into one.

- :mod:`.models` — the close of a month (its figures, their sha256, who, when) and the rounds carried
  out of a month;
- :mod:`.guard` — the refusal every service that writes a dated row asks for, the month of a round and
  the close of a month.

Above it, :mod:`pointsmart.closing` builds the figures, closes months and shows them; this package
imports only the clock, the errors, the periods and the database, so every package that writes a dated
row can ask it.
"""
