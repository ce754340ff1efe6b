"""Sync: the village's change log (outbox), the batches and bundles built from it, and the push client."""
