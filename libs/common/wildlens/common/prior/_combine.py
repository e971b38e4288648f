"""Pixels and prior together: ``p(k | image, where, when) ∝ p(k | image) · prior(k)^w``.

The product treats the image and the place and time as independent evidence (as the
geographic priors of Mac Aodha et al. 2019 do); the weight ``w`` tempers a prior learnt from
few sightings (0 ignores it, 1 trusts it fully). A uniform prior changes nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["combine"]

Vector = npt.NDArray[np.float64]


def combine(image: Vector, prior: Vector, weight: float) -> Vector:
    """The renormalised weighted product; ``image`` unchanged when the product is all zero."""
    if weight < 0:
        raise ValueError(f"the prior's weight must not be negative, got {weight}")
    product: Vector = image * np.power(np.clip(prior, 1e-12, None), weight)
    total = float(product.sum())
    return product / total if total > 0 else image
