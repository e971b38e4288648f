"""The model registry: every model bundle the platform knows, which one is in production, and
who changed each model's stage.

Routes in ``api`` call ``service`` for the rules (who sees, registers and promotes which
models), which reads through ``repository``, on the tables of ``wildlens.training.models``. A
bundle a user brings is received and checked by ``receive`` and written to object storage
through ``objects``, which removes what it wrote when the registration does not commit; a
bundle a training job exported is checked the same way (``receive.local_bundle``) before it is
registered as a candidate.
"""
