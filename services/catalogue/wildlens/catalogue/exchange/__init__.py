"""Data in and out of the catalogue in the field's exchange formats, and export jobs.

Routes in ``api`` call ``service``; export jobs run in ``jobs``' worker; both keep the jobs'
rows through ``repository``, on the tables of ``wildlens.catalogue.models``. Each format's
importer and exporter is a package of its own.
"""
