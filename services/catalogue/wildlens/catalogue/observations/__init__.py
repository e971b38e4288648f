"""Verification of observations: states, corrections, their history and the review queue."""
