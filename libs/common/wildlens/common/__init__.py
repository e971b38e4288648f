"""Wildlens shared infrastructure. Knows nothing of any service."""
