"""County tier: the org tree, village sync keys, the ingest of villages' batches, the dashboard."""
