"""Alert rules and their webhook deliveries: a sighting that matches a rule becomes a
signed webhook within seconds, retried with backoff until the receiver takes it.

Routes in ``api`` call ``service``; ``matching`` (inside the analysis transaction) and
``delivery`` (the worker) sit beside it; all read and write through ``repository``, on the
tables of ``wildlens.catalogue.models``.
"""
