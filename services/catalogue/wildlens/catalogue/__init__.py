"""The catalogue: the system of record for what was seen where and when, and who may see it.

``service.py`` is the ServiceSpec; ``models/`` holds every table, one module per aggregate;
each domain package (projects, members, sites, media, observations, sequences, taxa, queries,
statistics, privacy, alerts, audit, exchange, auth) has ``api.py`` (routes: parse, authorise,
call, shape) over ``service.py`` (its rules; flushes, never commits) over ``repository.py``
(every query of the domain) over the tables. ``access.py`` turns a caller's token into their
standing in a project (one dependency alias per role); ``pagination.py`` pages lists by keys.
Layers only point down and no two packages import each other: the import contracts in
``pyproject.toml`` say so and ``make lint`` checks them.
"""
