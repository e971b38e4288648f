"""Model uploads: a bundle of any size PUT straight to object storage, then checked and
registered by a job, never inside one request.

Routes in ``api`` call ``service`` for the rules (who may upload into which scope, what sizes
are accepted), which queries through ``repository``. ``jobs`` runs the checks and the
registration (through the registry's own rules) in whichever training process takes the
upload, and sweeps what uploads leave behind.
"""
