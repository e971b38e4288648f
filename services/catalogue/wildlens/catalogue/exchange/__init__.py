"""Data in and out of the catalogue in the field's exchange formats, and export jobs.

Routes in ``api`` call ``service``; export jobs run in ``jobs``' worker. Each format's importer
and exporter is a package of its own that parses, checks and writes files; every query, the
jobs' included, is in ``repository``, on the tables of ``wildlens.catalogue.models``.
"""
