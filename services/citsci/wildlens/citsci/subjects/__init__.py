"""Subject sets: groups of a project's media shown to volunteers together.

Routes in ``api`` call ``service`` for the rules, which reads and writes through
``repository``, on the ``SubjectSet`` table of ``wildlens.citsci.models``.
"""
