"""月结: the chair closes a month; a closed month never changes; the county checks each close.

- :mod:`pointsmart.months` — the close of a month and the rounds carried out of a month (its
  ``models``), and the refusal every service that writes a dated row asks for (its ``guard``);
- :mod:`.figures` — :func:`~.figures.month_figures` (the village's live data); the county's
  :func:`pointsmart.county.month_figures.county_month_figures` (its synced records) builds the same
  canonical structure;
- :mod:`.services` — the months, what blocks closing one, closing it, carrying a round.

The month of a round is the month its period ends (a month's round: that month; a quarter's: its third
month; a half-year's: its sixth), unless the round was carried out of that month
(:class:`pointsmart.months.models.RoundCarry`).
"""
