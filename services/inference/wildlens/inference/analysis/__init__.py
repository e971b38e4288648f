"""Analysing recorded media: fetch, detect, announce."""
