"""Statistics ecologists compute from a project's detections: counts, relative abundance per
100 trap-nights, activity by hour, detection rate and species accumulation, as JSON, CSV or
PNG.

The route in ``api`` calls ``service``; ``tables`` computes each statistic from
``repository``'s aggregates, on the tables of ``wildlens.catalogue.models``; ``summaries``
keeps the detection records and the per-minute media summaries up to date through the
repository's statements. It follows api → service → repository → models.
"""
