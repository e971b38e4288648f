"""Which taxa a region can have: the geofence a classifier bundle ships beside its model.

SpeciesNet ships its geofence with the model, because it describes the model's labels; so do
Wildlens bundles, as ``geofence.json`` in the bundle folder::

    {
      "Ardea alba":   {"allow": {"FR": [], "US": ["CA", "OR"]}},
      "Procyon lotor": {"block": {"BE": []}}
    }

Keys are scientific names (a genus or family rule covers everything under it); regions are
ISO 3166 codes as ``media.recorded`` carries them: a country (``US``) or a country and
subdivision (``US-CA``). An empty list means the whole country. A taxon with an ``allow`` list
is possible only there; a ``block`` list rules regions out. Media without a region are not
restricted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wildlens.common.bundles import GEOFENCE_FILE, BundleError
from wildlens.inference.taxonomy.tree import LabelTaxon, name_key

__all__ = ["GEOFENCE_FILE", "Geofence", "GeofenceRule", "load_geofence"]

Regions = dict[str, list[str]]


class GeofenceRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: Regions | None = None
    block: Regions = Field(default_factory=dict)


def _split(region: str) -> tuple[str, str]:
    country, _, subdivision = region.strip().upper().partition("-")
    return country, subdivision


def _covers(regions: Mapping[str, Sequence[str]], country: str, subdivision: str) -> bool:
    if country not in regions:
        return False
    within = [s.upper() for s in regions[country]]
    return not within or subdivision in within


@dataclass(frozen=True)
class Geofence:
    """Rules by scientific name (compared with :func:`name_key`)."""

    rules: Mapping[str, GeofenceRule] = field(default_factory=dict)

    def allows(self, names: Sequence[str], region: str) -> bool:
        """Whether a taxon known by ``names`` (its own and its ancestors') may occur in
        ``region``; every rule on the lineage must agree."""
        if not region.strip() or not self.rules:
            return True
        country, subdivision = _split(region)
        for name in names:
            rule = self.rules.get(name_key(name))
            if rule is None:
                continue
            if rule.allow is not None and not _covers(rule.allow, country, subdivision):
                return False
            if _covers(rule.block, country, subdivision):
                return False
        return True

    def allows_label(
        self, label: LabelTaxon, region: str, names: Mapping[str, str] | None = None
    ) -> bool:
        """Whether ``label`` may occur in ``region``; ``names`` gives the scientific names of
        the taxa on its lineage (taxon id → name)."""
        lineage_names = [label.scientific_name or label.label]
        if names:
            lineage_names += [names[t] for t in label.lineage[1:] if t in names]
        return self.allows(lineage_names, region)


def load_geofence(bundle_root: Path) -> Geofence:
    """The bundle's geofence, or an empty one when it ships none.

    Raises:
        BundleError: the file is there but is not a valid geofence.
    """
    path = Path(bundle_root) / GEOFENCE_FILE
    if not path.is_file():
        return Geofence()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{GEOFENCE_FILE} in {bundle_root} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise BundleError(f"{GEOFENCE_FILE} in {bundle_root} must map scientific names to rules")
    rules: dict[str, GeofenceRule] = {}
    for name, rule in data.items():
        try:
            rules[name_key(name)] = GeofenceRule.model_validate(rule)
        except ValidationError as error:
            raise BundleError(
                f"{GEOFENCE_FILE} in {bundle_root}: the rule for {name!r} is invalid: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            ) from error
    return Geofence(rules)
