"""Bulk uploads for SD cards: a manifest first, then the bytes straight to object storage.

A client declares the files it has (name, size, SHA-256), gets a PUT URL for each one the
project does not already have, uploads to ``staging/<upload id>/<n>``, and asks for the upload
to be completed: only then is each staging object verified against its manifest entry and,
if it matches and passes the checks single uploads get, turned into media.
"""
