"""The inference service's HTTP routes: predictions for external apps, and backfills."""
