"""Bulk uploads for SD cards: a manifest first, then the bytes straight to object storage.

Routes in ``api`` call ``service`` for the rules, which queries through ``repository``, on
the tables of ``wildlens.ingest.models``.
"""
