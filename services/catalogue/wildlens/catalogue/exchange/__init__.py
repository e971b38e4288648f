"""Data in and out of the catalogue in the field's exchange formats, export and import jobs.

Routes in ``api`` call ``service`` (imports in the request, exports) and ``import_jobs``
(imports too large for a request); export jobs run in ``jobs``' worker, import jobs in
``import_worker``'s, which reads the files ``import_staging`` keeps and hands them to
``import_formats``. Each format's importer
and exporter is a package of its own that parses, checks and writes files; every query, the
jobs' included, is in ``repository``, on the tables of ``wildlens.catalogue.models``.
"""
