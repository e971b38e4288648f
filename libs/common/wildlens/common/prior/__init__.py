"""The spatiotemporal prior: which taxa people have verified where, in which month, at which
hour, as p(taxon | location, month, hour), combined with what the pixels say.

One implementation for inference (a project's prior applied to each crop) and training's
evaluation (a prior fitted on the training split, top-1 with and without it)."""

from wildlens.common.prior._combine import combine
from wildlens.common.prior._fit import Capture, apply_prior, fit_prior, sighting_at, when
from wildlens.common.prior._model import Sighting, SpatiotemporalPrior

__all__ = [
    "Capture",
    "Sighting",
    "SpatiotemporalPrior",
    "apply_prior",
    "combine",
    "fit_prior",
    "sighting_at",
    "when",
]
