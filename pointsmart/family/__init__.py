"""The family's own card page: what a household sees when it scans its card. Read-only, public by the
card's token; above cards, households, the ledger and the shop, which it only reads — and, on a county
instance, above the county's synced copy of them (:mod:`pointsmart.family.at_county`)."""
