"""月结: the chair closes a month; a closed month never changes; the county checks each close.

- :mod:`.models` — the close of a month (its figures, their sha256, who, when) and the rounds carried
  out of a month;
- :mod:`.figures` — :func:`~.figures.month_figures` (the village's live data) and
  :func:`~.figures.county_month_figures` (the county's synced records): one canonical structure;
- :mod:`.guard` — the refusal every service that writes a dated row asks for;
- :mod:`.services` — the months, what blocks closing one, closing it, carrying a round.

The month of a round is the month its period ends (a month's round: that month; a quarter's: its third
month; a half-year's: its sixth), unless the round was carried out of that month
(:class:`.models.RoundCarry`).
"""
