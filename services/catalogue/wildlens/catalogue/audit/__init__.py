"""Deleting media and deployments, and the audit log that remembers what was deleted.

Routes in ``api`` call ``service`` (the deletion rules), which reads and removes rows through
``repository``, on the tables of ``wildlens.catalogue.models``.
"""
