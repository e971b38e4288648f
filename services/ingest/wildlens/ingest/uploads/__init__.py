"""Single uploads from gateways and people: ``POST /v1/media``, one image or video at a time.

``api`` reads the body as it streams in and calls ``service``, which checks, stores and
records the original on the tables of ``wildlens.ingest.models``.
"""
