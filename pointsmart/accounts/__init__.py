"""三务公开: a closed month's accounts for everyone — at the village from the figures frozen at its close
(:mod:`pointsmart.closing`), at the county from what it rebuilds of each village's synced records
(:mod:`pointsmart.county`). Its own package, as it reads both."""
