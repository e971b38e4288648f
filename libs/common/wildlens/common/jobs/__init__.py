"""Background work: jobs whose database row is the queue, taken by a conditional update and
held by a lease; rounds repeated every few seconds.

``queries``: taking, holding and handing back a row of any job table with the lease columns;
``worker``: the loop each process runs to take such jobs and work on them;
``periodic``: a round of work repeated in the background (no queue, no lease).
"""

from __future__ import annotations

from wildlens.common.jobs.worker import LeasedWorker, LeaseLost

__all__ = ["LeaseLost", "LeasedWorker"]
