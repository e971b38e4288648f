"""Training jobs: asked for through the API, run by training workers.

``api`` parses and authorises, ``service`` holds the rules (who may train what, what a job
request must say, how a job is cancelled) and ``repository`` the queries. A new job is a row
(the queue) and a ``training.requested`` event through the outbox; a training worker
(``worker``) hears the event on its own queue, takes the row by a lease, and calls the
pluggable training step (``run``: the :class:`~wildlens.training.jobs.run.TrainingRun`
protocol; ``pipeline`` composes the real one), writing its progress back to the row. A worker
that dies stops renewing its lease and another takes the job over.
"""
