"""The chair's village picture (村情概览): one month of the village in charts and tables, on A4."""
