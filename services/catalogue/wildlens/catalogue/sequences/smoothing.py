"""An event's smoothed label, as the domains that group and re-time media call it.

The rule is the observations' (``wildlens.catalogue.observations.smoothing``): an event's
label is the majority of its observations' labels, and verification changes it as much as
grouping does.
"""

from wildlens.catalogue.observations.smoothing import (
    Label,
    Pending,
    Vote,
    clear_smoothing,
    majority,
    smooth_event,
    smooth_events,
    smooth_events_of,
    smoothed_label,
)

__all__ = [
    "Label",
    "Pending",
    "Vote",
    "clear_smoothing",
    "majority",
    "smooth_event",
    "smooth_events",
    "smooth_events_of",
    "smoothed_label",
]
