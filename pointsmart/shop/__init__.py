"""The village shop: goods, stock moved like points are (never edited, never below zero), redemptions.

A redemption takes points from a household (household → shop) and goods out of stock in one
transaction, or does nothing. Every client-retryable write carries an idempotency key: the same
key again returns the first answer, refused or not, and writes nothing more.
"""
