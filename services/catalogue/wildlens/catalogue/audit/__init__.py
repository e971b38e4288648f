"""Deleting media and deployments, and the audit log that remembers what was deleted."""
