"""GBIF's backbone taxonomy as a :class:`~wildlens.catalogue.taxa.resolution.NameResolver`.

It asks GBIF's species match API, ``GET {base}/species/match?name=…&strict=true``: the API
pygbif's ``species.name_backbone`` speaks, with the same parameters and answer (``usageKey``,
``canonicalName``, ``rank``, ``status``, ``matchType``, ``confidence``, ``kingdom`` …
``species`` with their ``…Key``, ``acceptedUsageKey`` for a synonym). pygbif itself is not
used: it is synchronous and keeps its base URL in a module global, where an import needs an
asynchronous client with a bounded wait and the base URL the platform was given (GBIF, a
mirror, or a local stand-in in the tests).

Only an EXACT match that GBIF is confident of resolves a name. The other match types stay
unresolved, for a manager to map:

* FUZZY is GBIF's guess at a misspelling, and a wrong guess would file the observations under
  another species without anyone noticing;
* HIGHERRANK links the name to a higher taxon (a species GBIF lacks to its genus), losing what
  the observer said; a manager who wants that can map the name to the genus;
* NONE is no answer.

A synonym resolves to its accepted taxon (``acceptedUsageKey``), whose classification the
answer carries.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import structlog

from wildlens.catalogue.taxa.ranks import normalise_rank
from wildlens.catalogue.taxa.resolution import ChecklistUnavailable, LineageItem, Resolution

__all__ = ["GbifBackbone"]

log = structlog.get_logger(__name__)

USER_AGENT = "Wildlens-Taxonomy/1"
# A match answer is a few hundred bytes; anything much larger is not one.
MAX_ANSWER_BYTES = 1 << 20

# The higher taxa a match answer names, from the top down, with the field of each one's key.
_LINEAGE = (
    ("kingdom", "kingdomKey"),
    ("phylum", "phylumKey"),
    ("class", "classKey"),
    ("order", "orderKey"),
    ("family", "familyKey"),
    ("genus", "genusKey"),
    ("species", "speciesKey"),
)
_SYNONYMS = {
    "SYNONYM",
    "HETEROTYPIC_SYNONYM",
    "HOMOTYPIC_SYNONYM",
    "PROPARTE_SYNONYM",
    "MISAPPLIED",
}


def _key(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class GbifBackbone:
    """The backbone at ``base_url`` (empty: off, and nothing is ever sent)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        min_confidence: int = 90,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._min_confidence = min_confidence
        self._client = (
            httpx.AsyncClient(
                base_url=base_url.rstrip("/") + "/",
                timeout=timeout_s,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                transport=transport,
            )
            if base_url.strip()
            else None
        )

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def resolve(self, name: str) -> Resolution | None:
        """What the backbone says ``name`` means (None when off, or when it has no sure answer).

        Raises:
            ChecklistUnavailable: GBIF did not answer within the timeout, answered with an
                error status, or answered something that is not a match.
        """
        if self._client is None:
            return None
        answer = await self._match(self._client, name)
        return self._read(name, answer)

    async def _match(self, client: httpx.AsyncClient, name: str) -> dict[str, Any]:
        params = {"name": name, "strict": "true", "verbose": "false"}
        body = bytearray()
        try:
            # The whole exchange is bounded, not only each read: a server that trickles
            # bytes would otherwise hold the import for as long as it likes.
            async with asyncio.timeout(self._timeout_s):
                async with client.stream("GET", "species/match", params=params) as response:
                    if response.status_code != 200:
                        raise ChecklistUnavailable(
                            f"GBIF answered {response.status_code} to a name match"
                        )
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            raise ChecklistUnavailable("GBIF's answer is too large to be a match")
        except TimeoutError as error:
            raise ChecklistUnavailable(
                f"GBIF did not answer within {self._timeout_s:g} s"
            ) from error
        except httpx.HTTPError as error:
            raise ChecklistUnavailable(f"GBIF could not be reached: {error!r}") from error
        try:
            answer = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ChecklistUnavailable("GBIF's answer is not JSON") from error
        if not isinstance(answer, dict):
            raise ChecklistUnavailable("GBIF's answer is not a JSON object")
        return answer

    def _read(self, name: str, answer: dict[str, Any]) -> Resolution | None:
        match_type = _text(answer.get("matchType")).upper() or "NONE"
        confidence = answer.get("confidence")
        if match_type != "EXACT":
            # See the module's docstring for why only exact matches count.
            log.info("gbif.not_exact", name=name, match_type=match_type, note=answer.get("note"))
            return None
        if not isinstance(confidence, int) or confidence < self._min_confidence:
            log.info("gbif.doubtful", name=name, confidence=confidence, note=answer.get("note"))
            return None
        usage_key = _key(answer.get("usageKey"))
        rank = normalise_rank(_text(answer.get("rank")))
        own_name = _text(answer.get("canonicalName")) or _text(answer.get("scientificName"))
        if usage_key is None or rank is None or not own_name:
            # Not an answer to go by; its fields (not its values, which may be anything) say why.
            log.info("gbif.incomplete", name=name, fields=sorted(answer)[:30])
            return None
        status = _text(answer.get("status")).upper()
        synonym = status in _SYNONYMS or answer.get("synonym") is True
        accepted_key = _key(answer.get("acceptedUsageKey")) if synonym else usage_key

        lineage: list[LineageItem] = []
        for lineage_rank, key_field in _LINEAGE:
            key, higher = _key(answer.get(key_field)), _text(answer.get(lineage_rank))
            if key is None or not higher:
                continue
            lineage.append(LineageItem(key, lineage_rank, higher))
            if key == accepted_key:
                return Resolution(self._with_authorship(lineage, answer, synonym), synonym)
        if synonym:
            # The accepted taxon is not among those the answer names (one below species):
            # its name is not known here, so the name is not linked to a guess.
            log.info("gbif.accepted_unnamed", name=name, accepted_key=accepted_key)
            return None
        # The name's own taxon is below the ranks the answer names (a subspecies, a variety).
        lineage.append(LineageItem(usage_key, rank, own_name))
        return Resolution(self._with_authorship(lineage, answer, synonym), synonym)

    @staticmethod
    def _with_authorship(
        lineage: list[LineageItem], answer: dict[str, Any], synonym: bool
    ) -> list[LineageItem]:
        """The lineage, its last taxon with the authorship the answer's full name carries
        (only the name's own: a synonym's full name is not its accepted taxon's)."""
        own = lineage[-1]
        full, canonical = _text(answer.get("scientificName")), _text(answer.get("canonicalName"))
        if synonym or not canonical or not full.startswith(canonical + " "):
            return lineage
        authored = replace(own, authorship=full[len(canonical) :].strip())
        return [*lineage[:-1], authored]
