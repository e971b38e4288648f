"""The taxa one project's decisions need, with their lineage, and each classifier label's taxon."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from wildlens.common.bundles import LabelSpec

__all__ = ["LabelTaxon", "ProjectTaxonomy", "TaxonNode", "name_key"]


def name_key(name: str) -> str:
    """How scientific names are compared: case and surrounding blanks do not count."""
    return " ".join(name.split()).lower()


@dataclass(frozen=True, slots=True)
class TaxonNode:
    id: str
    scientific_name: str
    rank: str
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class LabelTaxon:
    """What one classifier label means in one project.

    ``lineage`` runs from the label's own taxon up to the root; it is empty when the label
    resolves to no taxon of the catalogue (then only the bundle's scientific name is known).
    """

    label: str
    scientific_name: str
    taxon_id: str = ""
    rank: str = ""
    lineage: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What the label is compared with observations by: its scientific name when it has
        one, else the label itself."""
        return name_key(self.scientific_name or self.label)


@dataclass(frozen=True)
class ProjectTaxonomy:
    """Args:
    nodes: taxon id → taxon, for every taxon named below and all their ancestors.
    label_map: the project's own map, model label → taxon id; it wins over the bundle.
    names: scientific name (see :func:`name_key`) → taxon id, for the bundle's names that
        the catalogue's tree holds.
    allowed: the project's taxa list; empty when the project keeps none (nothing restricted).
    """

    nodes: Mapping[str, TaxonNode] = field(default_factory=dict)
    label_map: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    allowed: frozenset[str] = frozenset()

    def lineage(self, taxon_id: str) -> tuple[str, ...]:
        """``taxon_id`` and its ancestors up to the root, as far as they are known."""
        chain: list[str] = []
        current: str | None = taxon_id
        while current is not None and current in self.nodes and current not in chain:
            chain.append(current)
            current = self.nodes[current].parent_id
        return tuple(chain)

    def resolve(self, labels: Sequence[LabelSpec]) -> list[LabelTaxon]:
        """Each label's taxon: the project's label map first, else the bundle's scientific
        name looked up in the tree, else just the bundle's name."""
        resolved: list[LabelTaxon] = []
        for spec in labels:
            taxon_id = self.label_map.get(spec.label)
            if taxon_id is None and spec.scientific_name:
                taxon_id = self.names.get(name_key(spec.scientific_name))
            node = self.nodes.get(taxon_id) if taxon_id else None
            if node is None:
                resolved.append(LabelTaxon(spec.label, spec.scientific_name or ""))
                continue
            resolved.append(
                LabelTaxon(
                    spec.label,
                    node.scientific_name,
                    taxon_id=node.id,
                    rank=node.rank,
                    lineage=self.lineage(node.id),
                )
            )
        return resolved

    def is_allowed(self, label: LabelTaxon) -> bool:
        """Whether the project's taxa list admits the label: its taxon is listed, lies under a
        listed taxon, or is an ancestor of one (a genus label stands for listed species).
        Labels without a taxon make no claim the list can judge, and are kept."""
        if not self.allowed or not label.lineage:
            return True
        if self.allowed.intersection(label.lineage):
            return True
        return any(label.taxon_id in self.lineage(t) for t in self.allowed)
