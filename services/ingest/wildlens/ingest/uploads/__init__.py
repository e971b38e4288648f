"""Single uploads from gateways and people: ``POST /v1/media``, one image or video at a time.

``api`` reads the body as it streams in and, in one unit of work (``unit``: one
transaction), calls ``service``, which checks, stores and records the original and its
``idempotency`` key through ``repository`` on the tables of ``wildlens.ingest.models``.
"""
