"""GBIF's backbone, asked over HTTP (a local stand-in of its species match API): what each
kind of answer resolves a name to, and that every failure is an unavailable checklist rather
than an error or a wait without end."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import free_port
from tests.support.gbif import (
    CANIDAE,
    FELIDAE,
    NONE,
    GbifStandIn,
    accepted,
    gbif_stand_in,
    inexact,
    synonym,
)
from wildlens.catalogue.taxa.gbif import GbifBackbone
from wildlens.catalogue.taxa.resolution import ChecklistUnavailable, LineageItem

FOX = accepted("Vulpes vulpes", 5219243, "species", CANIDAE, "(Linnaeus, 1758)")
LYNX = accepted("Lynx lynx", 2435240, "species", [*FELIDAE, ("genus", "Lynx", 2435022)])


@pytest.fixture
def gbif() -> Iterator[GbifStandIn]:
    with gbif_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
async def backbone(gbif: GbifStandIn) -> AsyncIterator[GbifBackbone]:
    client = GbifBackbone(gbif.url, timeout_s=5)
    try:
        yield client
    finally:
        await client.close()


def _names(lineage: list[LineageItem]) -> list[tuple[int, str, str]]:
    return [(i.gbif_id, i.rank, i.scientific_name) for i in lineage]


async def test_an_exact_match_gives_the_lineage_down_to_the_name(
    gbif: GbifStandIn, backbone: GbifBackbone
) -> None:
    gbif.matches["Vulpes vulpes"] = FOX
    resolution = await backbone.resolve("Vulpes vulpes")
    assert resolution is not None
    assert not resolution.synonym
    assert _names(resolution.lineage) == [
        (1, "kingdom", "Animalia"),
        (44, "phylum", "Chordata"),
        (359, "class", "Mammalia"),
        (732, "order", "Carnivora"),
        (9701, "family", "Canidae"),
        (5219243, "species", "Vulpes vulpes"),
    ]
    assert resolution.lineage[-1].authorship == "(Linnaeus, 1758)"
    # Asked as pygbif's name_backbone asks, strictly (never a taxon of the classification).
    assert gbif.requests == [{"name": "Vulpes vulpes", "strict": "true", "verbose": "false"}]


async def test_a_subspecies_goes_under_its_species(
    gbif: GbifStandIn, backbone: GbifBackbone
) -> None:
    lineage = [*CANIDAE, ("genus", "Vulpes", 5219142), ("species", "Vulpes vulpes", 5219243)]
    gbif.matches["Vulpes vulpes crucigera"] = accepted(
        "Vulpes vulpes crucigera", 6164569, "subspecies", lineage
    )
    resolution = await backbone.resolve("Vulpes vulpes crucigera")
    assert resolution is not None
    assert _names(resolution.lineage)[-3:] == [
        (5219142, "genus", "Vulpes"),
        (5219243, "species", "Vulpes vulpes"),
        (6164569, "subspecies", "Vulpes vulpes crucigera"),
    ]


async def test_a_synonym_resolves_to_its_accepted_taxon(
    gbif: GbifStandIn, backbone: GbifBackbone
) -> None:
    gbif.matches["Felis lynx"] = synonym("Felis lynx", 5219358, LYNX, "Linnaeus, 1758")
    resolution = await backbone.resolve("Felis lynx")
    assert resolution is not None
    assert resolution.synonym
    assert _names(resolution.lineage)[-2:] == [
        (2435022, "genus", "Lynx"),
        (2435240, "species", "Lynx lynx"),
    ]
    # The synonym's authorship is not the accepted name's.
    assert resolution.lineage[-1].authorship == ""

    # A synonym whose accepted taxon the answer does not name is not linked to a guess.
    orphan = synonym("Lynx lynx lynx", 7193927, LYNX)
    orphan["acceptedUsageKey"] = 7193900
    gbif.matches["Lynx lynx lynx"] = orphan
    assert await backbone.resolve("Lynx lynx lynx") is None


@pytest.mark.parametrize(
    "answer",
    [
        inexact("FUZZY", LYNX),
        inexact("HIGHERRANK", accepted("Lynx", 2435022, "genus", FELIDAE)),
        NONE,
        accepted("Lynx lynx", 2435240, "species", FELIDAE, confidence=80),
        {"unexpected": "but an object"},
    ],
    ids=["fuzzy", "higherrank", "none", "doubtful", "no-match-type"],
)
async def test_anything_but_a_confident_exact_match_resolves_nothing(
    gbif: GbifStandIn, backbone: GbifBackbone, answer: dict[str, object]
) -> None:
    gbif.matches["Lynx lynks"] = answer
    assert await backbone.resolve("Lynx lynks") is None
    assert gbif.asked() == ["Lynx lynks"]


@pytest.mark.parametrize(
    ("status", "raw", "reason"),
    [
        (500, None, "GBIF answered 500"),
        (404, None, "GBIF answered 404"),
        (200, b"<html>maintenance</html>", "not JSON"),
        (200, b"[1, 2, 3]", "not a JSON object"),
        (200, b" " * (2 << 20), "too large"),
    ],
)
async def test_errors_and_garbage_make_the_checklist_unavailable(
    gbif: GbifStandIn, backbone: GbifBackbone, status: int, raw: bytes | None, reason: str
) -> None:
    gbif.matches["Vulpes vulpes"] = FOX
    gbif.status, gbif.raw = status, raw
    with pytest.raises(ChecklistUnavailable, match=reason):
        await backbone.resolve("Vulpes vulpes")


async def test_an_unreachable_or_silent_gbif_is_unavailable_within_the_timeout(
    gbif: GbifStandIn,
) -> None:
    nobody = GbifBackbone(f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    try:
        with pytest.raises(ChecklistUnavailable, match="could not be reached"):
            await nobody.resolve("Vulpes vulpes")
    finally:
        await nobody.close()

    # The stand-in holds its answer (a real one) far longer than the client waits.
    gbif.matches["Vulpes vulpes"] = FOX
    gbif.hold = threading.Event()
    impatient = GbifBackbone(gbif.url, timeout_s=0.3)
    try:
        with pytest.raises(ChecklistUnavailable, match=r"did not answer within 0\.3 s"):
            await impatient.resolve("Vulpes vulpes")
    finally:
        gbif.hold.set()
        await impatient.close()
    assert gbif.asked() == ["Vulpes vulpes"]


async def test_off_it_asks_nothing(gbif: GbifStandIn) -> None:
    off = GbifBackbone("", timeout_s=5)
    gbif.matches["Vulpes vulpes"] = FOX
    assert not off.enabled
    assert await off.resolve("Vulpes vulpes") is None
    await off.close()
    assert gbif.requests == []
