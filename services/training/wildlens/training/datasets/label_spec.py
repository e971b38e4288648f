"""Which confirmed observations become which classes: a label spec.

Its shape follows MegaDetector's classification ``label_spec.json`` (classes, each a list of
taxa matched with everything below them, and a maximum count) and TrapTagger's label
translations (a name → the class it counts as):

    {
      "classes": {
        "deer": {"taxa": [{"name": "Cervidae", "rank": "family"}], "max_count": 500},
        "fox": {"taxa": [{"name": "Vulpes vulpes"}, {"name": "Vulpes lagopus"}]}
      },
      "exclude": [{"name": "Homo sapiens"}],
      "confirmed_by": ["expert", "volunteer_consensus"],
      "min_count": 10
    }

Without ``classes`` every taxon (after ``rollup``) is a class of its own, named by its
scientific name or by ``rename``. A class matches a taxon and everything below it in the tree;
where an observation matches two classes (a family and a species in it), the more specific
taxon wins. ``exclude`` always wins. Counts below ``min_count`` fail the build naming the class,
above ``max_count`` are subsampled, the same way for the same ``seed``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wildlens.common.errors import FieldError, Invalid
from wildlens.common.ranks import RANKS, Rank
from wildlens.training.datasets.records import Record, name_key

__all__ = [
    "RANKS",
    "ClassSpec",
    "ConfirmedBy",
    "LabelSpec",
    "Labelled",
    "TaxonMatch",
    "apply_label_spec",
    "parse_label_spec",
]

# expert: validated by a person (a reviewer's verdict, or a person's own label);
# volunteer_consensus: the label a retired citizen-science subject's volunteers agreed on.
ConfirmedBy = Literal["expert", "volunteer_consensus"]


def _experts() -> list[ConfirmedBy]:
    return ["expert"]


_CLASS_NAME = r"^[^\s/\\][^/\\]{0,99}$"


class TaxonMatch(BaseModel):
    """A taxon by scientific name (any case), matched with every taxon below it; ``rank``,
    where given, must be the taxon's rank in the tree (a genus and a species may share a
    name)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    rank: Rank | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a taxon")
        return " ".join(value.split())


class ClassSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taxa: list[TaxonMatch] = Field(min_length=1, description="Taxa merged into this class.")
    min_count: int | None = Field(default=None, ge=1, description="Overrides the spec's.")
    max_count: int | None = Field(default=None, ge=1, description="Overrides the spec's.")


class LabelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classes: dict[str, ClassSpec] | None = Field(
        default=None,
        description="Class name → the taxa it holds; none: every taxon is its own class.",
    )
    rename: dict[str, str] = Field(
        default_factory=dict,
        description="Scientific name → class name, where classes are not listed; two names "
        "renamed to one class merge.",
    )
    exclude: list[TaxonMatch] = Field(
        default_factory=list, description="Taxa (and all below them) left out."
    )
    rollup: Rank | None = Field(
        default=None,
        description="Each taxon counts as its ancestor at this rank; taxa identified less "
        "precisely than it are left out.",
    )
    confirmed_by: list[ConfirmedBy] = Field(
        default_factory=_experts,
        min_length=1,
        description="Whose confirmation makes an observation a training example.",
    )
    min_count: int = Field(default=1, ge=1, description="Examples every class needs at least.")
    max_count: int | None = Field(
        default=None, ge=1, description="Examples a class keeps at most (a seeded subsample)."
    )

    @field_validator("classes")
    @classmethod
    def _class_names(cls, classes: dict[str, ClassSpec] | None) -> dict[str, ClassSpec] | None:
        if classes is None:
            return None
        if not classes:
            raise ValueError("must list at least one class, or be left out")
        seen: dict[str, str] = {}
        for name in classes:
            _check_class_name(name)
            if name_key(name) in seen:
                raise ValueError(f"classes {seen[name_key(name)]!r} and {name!r} are one name")
            seen[name_key(name)] = name
        return classes

    @field_validator("rename")
    @classmethod
    def _rename(cls, rename: dict[str, str]) -> dict[str, str]:
        for source, target in rename.items():
            if not source.strip():
                raise ValueError("a renamed taxon must be named")
            _check_class_name(target)
        return rename

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.classes is not None and self.rename:
            raise ValueError("rename applies where classes are not listed: name the classes")
        if self.max_count is not None and self.max_count < self.min_count:
            raise ValueError(f"max_count {self.max_count} is below min_count {self.min_count}")
        owner: dict[tuple[str, str | None], str] = {}
        excluded = {(name_key(t.name), t.rank) for t in self.exclude}
        for name, spec in (self.classes or {}).items():
            low = spec.min_count or self.min_count
            high = spec.max_count or self.max_count
            if high is not None and high < low:
                raise ValueError(f"class {name!r}: max_count {high} is below min_count {low}")
            for taxon in spec.taxa:
                key = (name_key(taxon.name), taxon.rank)
                if key in owner and owner[key] != name:
                    raise ValueError(
                        f"taxon {taxon.name!r} is in classes {owner[key]!r} and {name!r}"
                    )
                if key in excluded:
                    raise ValueError(f"taxon {taxon.name!r} of class {name!r} is also excluded")
                owner[key] = name
        return self


def _check_class_name(name: str) -> None:
    if not re.match(_CLASS_NAME, name) or name != name.strip():
        raise ValueError(
            f"class name {name!r} must be 1-100 characters, without slashes or surrounding blanks"
        )


def parse_label_spec(value: object) -> LabelSpec:
    """``value`` as a label spec, or :class:`Invalid` (422) naming every problem."""
    try:
        return LabelSpec.model_validate(value)
    except ValidationError as exc:
        fields = [
            FieldError(
                location=["body", "label_spec", *e["loc"]],
                message=e["msg"],
                type=e["type"],
            )
            for e in exc.errors()
        ]
        detail = "; ".join(
            f"{'.'.join(str(p) for p in f.location[2:]) or 'label_spec'}: {f.message}"
            for f in fields
        )
        raise Invalid(f"the label spec is malformed: {detail}", fields=fields) from exc


@dataclass(frozen=True, slots=True)
class Labelled:
    """A spec applied: each kept record with its class, the class names in order, and how many
    records were left out for which reason."""

    samples: list[tuple[Record, str]]
    classes: list[str]
    dropped: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        found = Counter(name for _, name in self.samples)
        return {name: found[name] for name in self.classes}


def _confirmed(record: Record, confirmed_by: Sequence[str]) -> bool:
    if record.verification_state in ("dubious", "discarded"):
        return False
    if record.by_volunteers:
        # Volunteers agreed on it; an expert who validated it since confirmed it too.
        expert = record.verification_state == "validated" and "expert" in confirmed_by
        return expert or "volunteer_consensus" in confirmed_by
    return "expert" in confirmed_by and record.verification_state == "validated"


def _matches(names: list[tuple[str, str]], taxon: TaxonMatch) -> int | None:
    """How far up the lineage ``taxon`` is (0: the record's own taxon), or None."""
    key = name_key(taxon.name)
    for depth, (rank, name) in enumerate(names):
        if name == key and (taxon.rank is None or rank == taxon.rank):
            return depth
    return None


def _rolled(names: list[tuple[str, str]], rank: str) -> list[tuple[str, str]] | None:
    """The lineage from the ancestor at ``rank`` up; None where the taxon is above it."""
    for depth, (own_rank, _) in enumerate(names):
        if own_rank == rank:
            return names[depth:]
        if own_rank in RANKS and RANKS.index(own_rank) < RANKS.index(rank):
            return None
    return None


def _class_of(spec: LabelSpec, record: Record, display: dict[str, str]) -> str | None:
    names = record.names()
    if any(_matches(names, t) is not None for t in spec.exclude):
        return None
    if spec.rollup is not None:
        rolled = _rolled(names, spec.rollup)
        if rolled is None:
            return None
        names = rolled
    if spec.classes is None:
        own = names[0][1]
        renamed = {name_key(k): v for k, v in spec.rename.items()}
        if own in renamed:
            return renamed[own]
        # The tree's spelling where the lineage has it, else the observation's own.
        return display.get(own, own)
    best: tuple[int, str] | None = None
    for class_name, class_spec in spec.classes.items():
        for taxon in class_spec.taxa:
            depth = _matches(names, taxon)
            if depth is not None and (best is None or depth < best[0]):
                best = (depth, class_name)
    return best[1] if best else None


def _draw_order(seed: int, record: Record) -> bytes:
    """A record's place in its class's seeded shuffle: the same whatever order records come in."""
    return hashlib.sha256(f"{seed}:{record.observation_id}".encode()).digest()


def apply_label_spec(spec: LabelSpec, records: Iterable[Record], *, seed: int = 0) -> Labelled:
    """Each confirmed record's class, or its reason for being left out.

    Raises:
        Invalid: nothing is left, or a class has fewer examples than its minimum (named).
    """
    records = list(records)
    display: dict[str, str] = {}
    by_class: dict[str, list[Record]] = defaultdict(list)
    dropped: Counter[str] = Counter()
    for record in records:
        for ancestor in record.lineage:
            display.setdefault(name_key(ancestor.scientific_name), ancestor.scientific_name)
        display.setdefault(name_key(record.scientific_name), record.scientific_name)
    # A second pass: display names are known for every taxon seen, whatever the order.
    for record in records:
        if record.bbox is None:
            dropped["no_box"] += 1
        elif not record.scientific_name and not record.lineage:
            dropped["no_taxon"] += 1
        elif not _confirmed(record, spec.confirmed_by):
            dropped["not_confirmed"] += 1
        elif (name := _class_of(spec, record, display)) is None:
            dropped["not_in_spec"] += 1
        else:
            by_class[name].append(record)
    classes = list(spec.classes) if spec.classes is not None else sorted(by_class)
    if not any(by_class.values()):
        reasons = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(dropped.items()))
        raise Invalid(
            "the dataset would be empty: no confirmed observation with a box matches the label "
            "spec" + (f" ({reasons})" if reasons else "")
        )
    short: list[str] = []
    samples: list[tuple[Record, str]] = []
    for name in classes:
        found = by_class.get(name, [])
        class_spec = spec.classes.get(name) if spec.classes else None
        low = (class_spec.min_count if class_spec else None) or spec.min_count
        high = (class_spec.max_count if class_spec else None) or spec.max_count
        if len(found) < low:
            short.append(f"class {name!r} has {len(found)} examples, below its minimum of {low}")
            continue
        if high is not None and len(found) > high:
            dropped["above_max_count"] += len(found) - high
            found = sorted(found, key=lambda r: _draw_order(seed, r))[:high]
        samples.extend((r, name) for r in sorted(found, key=lambda r: r.observation_id))
    if short:
        raise Invalid("; ".join(short))
    return Labelled(samples=samples, classes=classes, dropped=dropped)
