"""Label specs: which confirmed observations become which classes, in MegaDetector's
label_spec shape and with TrapTagger's translations, and the errors people get for a
malformed spec, an empty dataset or a class below its minimum."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from wildlens.common.errors import Invalid
from wildlens.training.datasets.label_spec import (
    LabelSpec,
    apply_label_spec,
    parse_label_spec,
)
from wildlens.training.datasets.records import Ancestor, Record
from wildlens.training.datasets.schemas import DatasetCreate

BOX = (0.1, 0.1, 0.3, 0.3)
LINEAGES = {
    "Capreolus capreolus": [
        ("species", "Capreolus capreolus"),
        ("genus", "Capreolus"),
        ("family", "Cervidae"),
    ],
    "Cervus elaphus": [("species", "Cervus elaphus"), ("genus", "Cervus"), ("family", "Cervidae")],
    "Cervus nippon": [("species", "Cervus nippon"), ("genus", "Cervus"), ("family", "Cervidae")],
    "Cervidae": [("family", "Cervidae")],
    "Vulpes vulpes": [("species", "Vulpes vulpes"), ("genus", "Vulpes"), ("family", "Canidae")],
    "Meles meles": [("species", "Meles meles"), ("genus", "Meles"), ("family", "Mustelidae")],
    "Homo sapiens": [("species", "Homo sapiens"), ("genus", "Homo"), ("family", "Hominidae")],
}


def _record(n: int, name: str, **extra: Any) -> Record:
    lineage = tuple(Ancestor(rank, s) for rank, s in LINEAGES.get(name, []))
    fields: dict[str, Any] = {
        "observation_id": f"o{n:04d}",
        "media_id": f"m{n:04d}",
        "scientific_name": name,
        "bbox": BOX,
        "lineage": lineage,
        "location_id": f"L{n % 5}",
    }
    return Record(**{**fields, **extra})


def _records(counts: dict[str, int], start: int = 0, **extra: Any) -> list[Record]:
    out: list[Record] = []
    for name, count in counts.items():
        for _ in range(count):
            out.append(_record(start + len(out), name, **extra))
    return out


def _classes(spec: dict[str, Any], records: list[Record], seed: int = 0) -> dict[str, int]:
    return apply_label_spec(parse_label_spec(spec), records, seed=seed).counts()


SURVEY = _records(
    {
        "Capreolus capreolus": 6,
        "Cervus elaphus": 4,
        "Cervus nippon": 2,
        "Cervidae": 3,
        "Vulpes vulpes": 5,
        "Meles meles": 3,
        "Homo sapiens": 2,
    }
)


def test_without_classes_every_taxon_is_a_class() -> None:
    assert _classes({}, SURVEY) == {
        "Capreolus capreolus": 6,
        "Cervidae": 3,
        "Cervus elaphus": 4,
        "Cervus nippon": 2,
        "Homo sapiens": 2,
        "Meles meles": 3,
        "Vulpes vulpes": 5,
    }


def test_classes_include_merge_and_rename_and_the_more_specific_taxon_wins() -> None:
    spec = {
        "classes": {
            "roe deer": {"taxa": [{"name": "capreolus capreolus"}]},
            # Everything else in the deer family, including family-level identifications.
            "other deer": {"taxa": [{"name": "Cervidae", "rank": "family"}]},
            "fox": {"taxa": [{"name": "Vulpes vulpes"}]},
        }
    }
    # Badgers and people are not included.
    assert _classes(spec, SURVEY) == {"roe deer": 6, "other deer": 9, "fox": 5}


def test_exclude_always_wins() -> None:
    spec = {"exclude": [{"name": "Homo"}, {"name": "Cervus nippon"}]}
    counts = _classes(spec, SURVEY)
    assert "Homo sapiens" not in counts
    assert "Cervus nippon" not in counts
    assert counts["Cervus elaphus"] == 4


def test_rolling_up_to_genus_merges_species_and_drops_less_precise_labels() -> None:
    spec = {"rollup": "genus", "exclude": [{"name": "Homo sapiens"}]}
    labelled = apply_label_spec(parse_label_spec(spec), SURVEY)
    assert labelled.counts() == {"Capreolus": 6, "Cervus": 6, "Meles": 3, "Vulpes": 5}
    # Family-level deer cannot be said to be of any genus.
    assert labelled.dropped["not_in_spec"] == 3 + 2


def test_rolling_up_to_family_then_classes_by_family() -> None:
    spec = {
        "rollup": "family",
        "classes": {
            "deer": {"taxa": [{"name": "Cervidae"}]},
            "dog": {"taxa": [{"name": "Canidae"}]},
        },
    }
    assert _classes(spec, SURVEY) == {"deer": 15, "dog": 5}


def test_translations_rename_and_merge() -> None:
    spec = {
        "rename": {"Cervus elaphus": "deer", "cervus nippon": "deer", "Vulpes vulpes": "fox"},
        "exclude": [{"name": "Cervidae", "rank": "family"}, {"name": "Homo sapiens"}],
    }
    # Renamed classes first by name; excluded family catches everything below it first.
    assert _classes(spec, SURVEY) == {"Meles meles": 3, "fox": 5}
    spec["exclude"] = [{"name": "Homo sapiens"}]
    counts = _classes(spec, SURVEY)
    assert counts["deer"] == 6
    assert counts["fox"] == 5


def test_which_confirmations_count() -> None:
    records = [
        *_records({"Vulpes vulpes": 2}, 0),
        *_records(
            {"Vulpes vulpes": 3},
            10,
            verification_state="predicted",
            classified_by="volunteers:zooniverse",
        ),
        *_records(
            {"Vulpes vulpes": 4},
            20,
            verification_state="predicted",
            classification_method="machine",
        ),
        *_records({"Vulpes vulpes": 1}, 30, verification_state="dubious"),
        *_records(
            {"Vulpes vulpes": 1}, 40, verification_state="discarded", classified_by="volunteers:x"
        ),
        # A machine label a reviewer validated is an expert's confirmation.
        *_records({"Vulpes vulpes": 5}, 50, classification_method="machine"),
        # So is a volunteers' consensus an expert validated: it counts either way.
        *_records({"Vulpes vulpes": 2}, 60, classified_by="volunteers:zooniverse"),
    ]
    assert _classes({}, records) == {"Vulpes vulpes": 9}
    assert _classes({"confirmed_by": ["volunteer_consensus"]}, records) == {"Vulpes vulpes": 5}
    both = apply_label_spec(
        parse_label_spec({"confirmed_by": ["expert", "volunteer_consensus"]}), records
    )
    assert both.counts() == {"Vulpes vulpes": 12}
    assert both.dropped == Counter({"not_confirmed": 6})


def test_observations_without_a_box_are_left_out() -> None:
    records = [*_records({"Meles meles": 2}), _record(99, "Meles meles", bbox=None)]
    labelled = apply_label_spec(LabelSpec(), records)
    assert labelled.counts() == {"Meles meles": 2}
    assert labelled.dropped["no_box"] == 1


def test_max_count_is_a_seeded_subsample_whatever_the_order() -> None:
    records = _records({"Vulpes vulpes": 40})
    spec = parse_label_spec({"max_count": 10})

    def kept(seed: int, rows: list[Record]) -> list[str]:
        return [r.observation_id for r, _ in apply_label_spec(spec, rows, seed=seed).samples]

    first = kept(1, records)
    assert len(first) == 10
    assert kept(1, list(reversed(records))) == first
    assert kept(2, records) != first


def test_a_class_below_its_minimum_is_named() -> None:
    spec = {
        "classes": {
            "badger": {"taxa": [{"name": "Meles meles"}], "min_count": 5},
            "fox": {"taxa": [{"name": "Vulpes vulpes"}]},
        }
    }
    with pytest.raises(Invalid, match=r"class 'badger' has 3 examples, below its minimum of 5"):
        _classes(spec, SURVEY)
    with pytest.raises(
        Invalid, match=r"class 'Homo sapiens' has 2 examples, below its minimum of 3"
    ):
        _classes({"min_count": 3}, SURVEY)


def test_an_empty_dataset_says_why() -> None:
    with pytest.raises(Invalid, match="would be empty"):
        _classes({}, [])
    with pytest.raises(Invalid, match=r"would be empty.*5 not in spec"):
        _classes(
            {"classes": {"bear": {"taxa": [{"name": "Ursus arctos"}]}}},
            _records({"Vulpes vulpes": 5}),
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"classes": {}}, "must list at least one class"),
        ({"classes": {"fox": {"taxa": []}}}, "at least 1 item"),
        ({"classes": {"a/b": {"taxa": [{"name": "Vulpes"}]}}}, "without slashes"),
        (
            {
                "classes": {
                    "Fox": {"taxa": [{"name": "Vulpes"}]},
                    "fox": {"taxa": [{"name": "Meles"}]},
                }
            },
            "are one name",
        ),
        (
            {"classes": {"a": {"taxa": [{"name": "Vulpes"}]}, "b": {"taxa": [{"name": "vulpes"}]}}},
            "is in classes 'a' and 'b'",
        ),
        (
            {"classes": {"a": {"taxa": [{"name": "Vulpes"}]}}, "exclude": [{"name": "Vulpes"}]},
            "also excluded",
        ),
        (
            {"classes": {"a": {"taxa": [{"name": "Vulpes"}]}}, "rename": {"Meles": "b"}},
            "rename applies where",
        ),
        ({"rollup": "genera"}, "rollup"),
        ({"min_count": 0}, "min_count"),
        ({"min_count": 5, "max_count": 2}, "max_count 2 is below min_count 5"),
        (
            {"classes": {"a": {"taxa": [{"name": "Vulpes"}], "max_count": 1}}, "min_count": 2},
            "class 'a': max_count 1",
        ),
        ({"confirmed_by": []}, "confirmed_by"),
        ({"confirmed_by": ["machine"]}, "confirmed_by"),
        ({"exclude": [{"name": "  "}]}, "must name a taxon"),
        ({"classes": {"a": {"taxa": [{"name": "Vulpes", "colour": "red"}]}}}, "colour"),
        ({"unknown": 1}, "unknown"),
        ("not a spec", "label_spec"),
    ],
)
def test_malformed_specs_are_refused_with_what_is_wrong(spec: Any, message: str) -> None:
    with pytest.raises(Invalid, match="the label spec is malformed") as raised:
        parse_label_spec(spec)
    assert raised.value.status_code == 422
    assert message in raised.value.detail
    assert raised.value.fields
    assert all(f.location[:2] == ["body", "label_spec"] for f in raised.value.fields)


def test_the_readme_example_is_a_request_the_api_takes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Datasets from confirmed labels") :]
    start = section.index("```json") + len("```json")
    block = section[start : section.index("```", start)]
    body = DatasetCreate.model_validate_json(block.replace("…", str(uuid.UUID(int=1))))
    assert body.seed == 7
    assert body.label_spec.classes is not None
    assert set(body.label_spec.classes) == {"heron", "duck"}
