"""Inference service: detects and classifies what is in each recorded image."""
