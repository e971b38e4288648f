"""Flat CSV of observations with their media, deployment and location, out."""
