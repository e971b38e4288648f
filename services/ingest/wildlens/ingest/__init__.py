"""The ingest service: receives camera-trap media, checks it and stores the originals."""
