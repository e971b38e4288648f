"""Statistics ecologists compute from a project's detections: counts, relative abundance per
100 trap-nights, activity by hour, detection rate and species accumulation, as JSON, CSV or
PNG."""
