"""Roll-up, the project's taxa list, the region geofence and renormalisation, by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wildlens.common.bundles import BundleError, LabelSpec
from wildlens.inference.classification.decide import decide, decide_many
from wildlens.inference.taxonomy.decisions import allowed_labels, renormalise, rollup
from wildlens.inference.taxonomy.geofence import GEOFENCE_FILE, Geofence, load_geofence
from wildlens.inference.taxonomy.tree import ProjectTaxonomy, TaxonNode

TREE = [
    TaxonNode("animalia", "Animalia", "kingdom"),
    TaxonNode("aves", "Aves", "class", "animalia"),
    TaxonNode("pelecaniformes", "Pelecaniformes", "order", "aves"),
    TaxonNode("ardeidae", "Ardeidae", "family", "pelecaniformes"),
    TaxonNode("ardea", "Ardea", "genus", "ardeidae"),
    TaxonNode("ardea-cinerea", "Ardea cinerea", "species", "ardea"),
    TaxonNode("ardea-alba", "Ardea alba", "species", "ardea"),
    TaxonNode("anseriformes", "Anseriformes", "order", "aves"),
    TaxonNode("anatidae", "Anatidae", "family", "anseriformes"),
    TaxonNode("anas", "Anas", "genus", "anatidae"),
    TaxonNode("anas-platyrhynchos", "Anas platyrhynchos", "species", "anas"),
]
NODES = {n.id: n for n in TREE}
NAMES = {n.scientific_name.lower(): n.id for n in TREE}
LABELS = [
    LabelSpec(label="grey-heron", scientific_name="Ardea cinerea"),
    LabelSpec(label="great-egret", scientific_name="Ardea alba"),
    LabelSpec(label="mallard", scientific_name="Anas platyrhynchos"),
]


def taxonomy(
    allowed: tuple[str, ...] = (), label_map: dict[str, str] | None = None
) -> ProjectTaxonomy:
    return ProjectTaxonomy(NODES, label_map or {}, NAMES, frozenset(allowed))


def answer(
    probabilities: list[float],
    t: ProjectTaxonomy,
    *,
    region: str = "",
    geofence: Geofence | None = None,
    threshold: float = 0.65,
) -> list[tuple[str, str, float]]:
    labels = t.resolve(LABELS)
    allowed = allowed_labels(labels, t, geofence or Geofence(), region)
    outcome = decide(np.array(probabilities), labels, t, allowed, threshold=threshold, top_k=5)
    return [(c.scientific_name, c.rank, round(c.confidence, 4)) for c in outcome.classifications]


def test_labels_map_through_the_bundle_names_and_the_project_map_wins() -> None:
    by_bundle = taxonomy().resolve(LABELS)
    assert [(label.taxon_id, label.rank) for label in by_bundle] == [
        ("ardea-cinerea", "species"),
        ("ardea-alba", "species"),
        ("anas-platyrhynchos", "species"),
    ]
    assert by_bundle[0].lineage == (
        "ardea-cinerea",
        "ardea",
        "ardeidae",
        "pelecaniformes",
        "aves",
        "animalia",
    )
    # The project says its "great-egret" label means the genus Ardea.
    mapped = taxonomy(label_map={"great-egret": "ardea"}).resolve(LABELS)
    assert (mapped[1].scientific_name, mapped[1].taxon_id, mapped[1].rank) == (
        "Ardea",
        "ardea",
        "genus",
    )
    # A name the tree does not hold keeps the bundle's name and no taxon.
    bare = ProjectTaxonomy().resolve(LABELS)
    assert [(label.scientific_name, label.taxon_id) for label in bare] == [
        ("Ardea cinerea", ""),
        ("Ardea alba", ""),
        ("Anas platyrhynchos", ""),
    ]


def test_a_sure_species_stays_a_species() -> None:
    assert answer([0.8, 0.1, 0.1], taxonomy()) == [
        ("Ardea cinerea", "species", 0.8),
        ("Ardea alba", "species", 0.1),
        ("Anas platyrhynchos", "species", 0.1),
    ]


def test_an_unsure_species_rolls_up_to_the_genus_its_labels_share() -> None:
    # 0.40 + 0.35 = 0.75 for Ardea reaches 0.65; no single species does.
    got = answer([0.4, 0.35, 0.25], taxonomy())
    assert got[0] == ("Ardea", "genus", 0.75)
    assert got[1:] == [
        ("Ardea cinerea", "species", 0.4),
        ("Ardea alba", "species", 0.35),
        ("Anas platyrhynchos", "species", 0.25),
    ]


def test_roll_up_climbs_until_the_sum_reaches_the_threshold() -> None:
    t = taxonomy()
    labels = t.resolve(LABELS)
    # Ardea 0.6, Ardeidae 0.6, Pelecaniformes 0.6: short of 0.65; Aves holds all of it.
    up = rollup(np.array([0.3, 0.3, 0.4]), labels, t, 0.65)
    assert up is not None
    assert (up.scientific_name, up.rank, round(up.confidence, 6)) == ("Aves", "class", 1.0)
    up = rollup(np.array([0.3, 0.3, 0.4]), labels, t, 0.55)
    assert up is not None
    assert (up.scientific_name, up.rank, round(up.confidence, 6)) == ("Ardea", "genus", 0.6)
    # Labels with no lineage have nothing to roll up to.
    bare = ProjectTaxonomy()
    assert rollup(np.array([0.3, 0.3, 0.4]), bare.resolve(LABELS), bare, 0.5) is None


def test_the_project_taxa_list_drops_other_species_and_renormalises() -> None:
    # Listing the mallard and the grey heron drops the egret: 0.4 / 0.65 and 0.25 / 0.65.
    listed = taxonomy(allowed=("anas-platyrhynchos", "ardea-cinerea"))
    assert answer([0.4, 0.35, 0.25], listed, threshold=0.6) == [
        ("Ardea cinerea", "species", 0.6154),
        ("Anas platyrhynchos", "species", 0.3846),
    ]
    # Below 0.65 the heron is unsure; the only ancestor holding 0.65 is the class.
    assert answer([0.4, 0.35, 0.25], listed)[0] == ("Aves", "class", 1.0)


def test_a_listed_genus_admits_its_species() -> None:
    # Ardea listed: the mallard goes, 0.4 / 0.75 and 0.35 / 0.75, and the genus holds it all.
    got = answer([0.4, 0.35, 0.25], taxonomy(allowed=("ardea",)))
    assert got == [
        ("Ardea", "genus", 1.0),
        ("Ardea cinerea", "species", 0.5333),
        ("Ardea alba", "species", 0.4667),
    ]


def test_nothing_possible_means_no_species() -> None:
    assert answer([0.0, 0.0, 1.0], taxonomy(allowed=("ardea",))) == []


def test_renormalise_by_hand() -> None:
    kept = renormalise(np.array([0.5, 0.3, 0.2]), np.array([True, False, True]))
    np.testing.assert_allclose(kept, [0.5 / 0.7, 0.0, 0.2 / 0.7])


def test_the_geofence_keeps_species_out_of_regions_they_do_not_live_in(tmp_path: Path) -> None:
    (tmp_path / GEOFENCE_FILE).write_text(
        json.dumps(
            {
                "Ardea alba": {"allow": {"FR": []}},
                # A rule on the genus covers its species.
                "anas": {"block": {"US": ["CA"]}},
            }
        )
    )
    fence = load_geofence(tmp_path)
    t = taxonomy()
    probabilities = [0.2, 0.5, 0.3]
    # In Belgium the egret is impossible: 0.2 / 0.5 and 0.3 / 0.5.
    assert answer(probabilities, t, region="BE", geofence=fence, threshold=0.5) == [
        ("Anas platyrhynchos", "species", 0.6),
        ("Ardea cinerea", "species", 0.4),
    ]
    # In a French region it stays, and so does everything else.
    assert answer(probabilities, t, region="FR-IDF", geofence=fence, threshold=0.5)[0] == (
        "Ardea alba",
        "species",
        0.5,
    )
    # In California the mallard is blocked by its genus' rule (and the egret is outside
    # France): the heron is all that is left. In New York the mallard may occur.
    assert answer(probabilities, t, region="US-CA", geofence=fence) == [
        ("Ardea cinerea", "species", 1.0)
    ]
    assert answer(probabilities, t, region="US-NY", geofence=fence, threshold=0.5) == [
        ("Anas platyrhynchos", "species", 0.6),
        ("Ardea cinerea", "species", 0.4),
    ]
    labels = t.resolve(LABELS)
    # Media without a region are not restricted.
    assert allowed_labels(labels, t, fence, "").all()


def test_a_broken_geofence_is_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / GEOFENCE_FILE).write_text(json.dumps({"Ardea alba": {"allow": "FR"}}))
    with pytest.raises(BundleError, match="the rule for 'Ardea alba' is invalid"):
        load_geofence(tmp_path)
    (tmp_path / GEOFENCE_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        load_geofence(tmp_path)
    (tmp_path / GEOFENCE_FILE).unlink()
    assert load_geofence(tmp_path).rules == {}


def test_crops_decided_together_get_each_the_answer_decided_alone() -> None:
    # A confident crop, one that rolls up to the genus, one the taxa list leaves nothing for,
    # and ones a prior turns or not: all in one call, each as if decided alone.
    t = taxonomy(allowed=("ardea",))
    labels = t.resolve(LABELS)
    allowed = allowed_labels(labels, t, Geofence(), "")
    rows = np.array(
        [[0.9, 0.05, 0.05], [0.5, 0.45, 0.05], [0.0, 0.0, 1.0], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0]]
    )
    priors = [None, None, None, np.array([0.1, 0.9, 0.0]), np.array([0.5, 0.5, 0.0])]
    for weight in (0.0, 1.0):
        together = decide_many(
            rows,
            labels,
            t,
            allowed,
            priors=priors,
            prior_weight=weight,
            threshold=0.65,
            top_k=2,
        )
        alone = [
            decide(
                row,
                labels,
                t,
                allowed,
                prior=prior,
                prior_weight=weight,
                threshold=0.65,
                top_k=2,
            )
            for row, prior in zip(rows, priors, strict=True)
        ]
        assert together == alone
    # With the prior (the last weight): the fourth crop turns to the egret, the fifth not.
    assert [o.source for o in together] == [
        "classifier",
        "rollup",
        "classifier",
        "prior",
        "classifier",
    ]
    assert together[2].classifications == ()
    assert together[3].prior_changed
    assert together[3].classifications[0].scientific_name == "Ardea alba"
