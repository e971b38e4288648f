"""The taxon tree, and each project's label maps and taxa list.

Routes (``api``, ``project_api``) call ``service`` for the rules, which reads and writes
through ``repository``, on the tables of ``wildlens.catalogue.models``.
"""
