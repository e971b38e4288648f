"""The spatiotemporal prior: its estimates by hand, and on a generated survey whose species
differ by site, season and hour, that it raises top-1 accuracy and that a uniform prior
changes nothing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from wildlens.common.bundles import LabelSpec
from wildlens.common.prior import Sighting, SpatiotemporalPrior, combine
from wildlens.inference.classification.decide import decide
from wildlens.inference.prior.source import sighting
from wildlens.inference.taxonomy.tree import ProjectTaxonomy

SPECIES = ["Vulpes vulpes", "Meles meles", "Capreolus capreolus", "Sus scrofa"]
SITES = ["wood", "marsh", "field"]


def test_estimates_back_off_by_hand() -> None:
    sightings = [Sighting("a", "L1", 6, 10)] * 3 + [Sighting("b", "L2", 1, 0)]
    prior = SpatiotemporalPrior(sightings, alpha=1.0, strength=2.0)
    keys = ["a", "b"]
    # Global: (3 + 1) / (4 + 2), (1 + 1) / 6.
    np.testing.assert_allclose(prior.probabilities(keys, "elsewhere"), [4 / 6, 2 / 6])
    # L1: (3 + 2 * 4/6) / (3 + 2) and (0 + 2 * 2/6) / 5.
    at_l1 = [(3 + 2 * 4 / 6) / 5, (2 * 2 / 6) / 5]
    np.testing.assert_allclose(prior.probabilities(keys, "L1"), at_l1)
    # June at L1 borrows from L1, 10 h in June from June; July at L1 has no sightings.
    june = [(3 + 2 * at_l1[0]) / 5, (2 * at_l1[1]) / 5]
    np.testing.assert_allclose(prior.probabilities(keys, "L1", 6), june)
    np.testing.assert_allclose(
        prior.probabilities(keys, "L1", 6, 10), [(3 + 2 * june[0]) / 5, (2 * june[1]) / 5]
    )
    np.testing.assert_allclose(prior.probabilities(keys, "L1", 7, 10), at_l1)
    # Without sightings it is uniform.
    np.testing.assert_allclose(SpatiotemporalPrior([]).probabilities(keys, "L1", 6, 10), [0.5, 0.5])


def test_combining_by_hand() -> None:
    image, prior = np.array([0.6, 0.4]), np.array([0.2, 0.8])
    np.testing.assert_allclose(combine(image, prior, 1.0), [0.12 / 0.44, 0.32 / 0.44])
    root = [0.6 * 0.2**0.5, 0.4 * 0.8**0.5]
    np.testing.assert_allclose(combine(image, prior, 0.5), np.array(root) / sum(root))
    np.testing.assert_allclose(combine(image, prior, 0.0), image)
    with pytest.raises(ValueError, match="must not be negative"):
        combine(image, prior, -1.0)


def test_the_result_says_when_the_prior_changed_the_answer() -> None:
    labels = ProjectTaxonomy().resolve([LabelSpec(label=n, scientific_name=n) for n in SPECIES[:2]])
    outcome = decide(
        np.array([0.6, 0.4]),
        labels,
        ProjectTaxonomy(),
        np.array([True, True]),
        prior=np.array([0.2, 0.8]),
        prior_weight=1.0,
        threshold=0.5,
        top_k=2,
    )
    assert outcome.source == "prior"
    assert outcome.prior_changed
    top = outcome.classifications[0]
    assert top.scientific_name == "Meles meles"
    assert (round(top.confidence, 4), round(top.image_confidence, 4)) == (0.7273, 0.4)


def test_sightings_from_the_catalogue_api() -> None:
    item = {
        "scientific_name": " Vulpes  vulpes",
        "taxon_id": "t1",
        "location_id": "L1",
        "captured_at": "2021-04-11T21:43:09+01:00",
    }
    assert sighting(item) == Sighting("vulpes vulpes", "L1", 4, 20)
    assert sighting({"scientific_name": "", "taxon_id": None}) is None
    assert sighting({"scientific_name": "", "taxon_id": "t1"}) == Sighting("t1")
    for doubted in ("dubious", "discarded"):
        assert sighting({**item, "verification_state": doubted}) is None
    assert sighting({**item, "verification_state": "validated"}) == Sighting(
        "vulpes vulpes", "L1", 4, 20
    )


def _truth(site: int, month: int, hour: int) -> npt.NDArray[np.float64]:
    """p(species | site, month, hour) of the generated survey."""
    by_site = np.array([[6, 3, 1, 1], [1, 1, 6, 3], [2, 6, 1, 4]], dtype=float)[site]
    summer = 4 <= month <= 9
    by_season = np.array([1, 1, 4, 0.5]) if summer else np.array([3, 1, 0.5, 3])
    night = hour < 6 or hour >= 20
    by_hour = np.array([3, 4, 0.3, 1]) if night else np.array([0.5, 0.2, 3, 1])
    p = by_site * by_season * by_hour
    normalised: npt.NDArray[np.float64] = p / p.sum()
    return normalised


def _survey(count: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """(site, month, hour, species) captures drawn from the survey's distribution."""
    rows = []
    for _ in range(count):
        site, month, hour = int(rng.integers(3)), int(rng.integers(1, 13)), int(rng.integers(24))
        species = int(rng.choice(4, p=_truth(site, month, hour)))
        rows.append((site, month, hour, species))
    return rows


def _accuracy(
    prior: SpatiotemporalPrior,
    tests: list[tuple[int, int, int, int]],
    images: npt.NDArray[np.float64],
) -> tuple[float, float, int]:
    labels = ProjectTaxonomy().resolve([LabelSpec(label=n, scientific_name=n) for n in SPECIES])
    keys = [label.key for label in labels]
    plain = combined = changed = 0
    for (site, month, hour, species), image in zip(tests, images, strict=True):
        outcome = decide(
            image,
            labels,
            ProjectTaxonomy(),
            np.ones(4, dtype=bool),
            prior=prior.probabilities(keys, SITES[site], month, hour),
            prior_weight=1.0,
            threshold=0.0,
            top_k=4,
        )
        best_image = max(outcome.classifications, key=lambda c: c.image_confidence)
        plain += best_image.scientific_name == SPECIES[species]
        combined += outcome.classifications[0].scientific_name == SPECIES[species]
        changed += outcome.prior_changed
    return plain / len(tests), combined / len(tests), changed


def test_the_prior_raises_top1_on_a_survey_whose_species_differ_by_site_and_season() -> None:
    rng = np.random.default_rng(7)
    verified = [Sighting(SPECIES[k].lower(), SITES[s], m, h) for s, m, h, k in _survey(4000, rng)]
    tests = _survey(1500, rng)
    # A classifier that is right a little over half the time: the true species' logit
    # raised, every logit noisy.
    logits = rng.normal(0.0, 1.0, size=(len(tests), 4))
    logits[np.arange(len(tests)), [t[3] for t in tests]] += 1.2
    images = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    plain, with_prior, changed = _accuracy(SpatiotemporalPrior(verified), tests, images)
    assert 0.45 < plain < 0.75
    assert with_prior >= plain + 0.08, (plain, with_prior)
    assert changed > 0

    # An uninformative prior: no sightings, or every species equally everywhere and always.
    balanced = [
        Sighting(name.lower(), site, month, hour)
        for name in SPECIES
        for site in SITES
        for month in range(1, 13)
        for hour in range(24)
    ]
    for uniform in (SpatiotemporalPrior([]), SpatiotemporalPrior(balanced)):
        same, with_uniform, changed = _accuracy(uniform, tests, images)
        assert with_uniform == same == plain
        assert changed == 0
