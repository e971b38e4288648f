"""The model registry: every model bundle the platform knows, and which one is in production.

Routes in ``api`` call ``service`` for the rules (who sees which models), which reads through
``repository``, on the ``RegisteredModel`` table of ``wildlens.training.models``.
"""
