"""The family's own card page: what a household sees when it scans its card. Read-only, public by the
card's token; above cards, households, the ledger and the shop, which it only reads."""
