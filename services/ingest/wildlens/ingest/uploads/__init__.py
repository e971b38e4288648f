"""Single uploads from gateways and people: ``POST /v1/media``."""
