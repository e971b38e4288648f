"""The statistics' pictures as a reader takes them in, on both backends: each says what was
counted, with which independence interval and by which rule; activity is a panel per taxon,
the most detected first, each with its number of independent detections; an empty scope and
thirty taxa both give a readable picture of bounded size."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from tests.e2e.test_statistics import BADGER, FOX, HERON, MARTEN, _survey, _write
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.platform import RunningPlatform
from wildlens.catalogue.models import Project
from wildlens.catalogue.statistics import service
from wildlens.catalogue.statistics.params import Scope
from wildlens.catalogue.statistics.render import Chart, chart

STATISTICS = ["counts", "relative-abundance", "activity", "detection-rate", "species-accumulation"]
MAXN = (
    "Each animal counted once per sequence: the event-level count where given, else the most "
    "seen in one photo (MaxN)."
)
HALF_HOUR = "Independence interval 30 min: a record within 30 min"
# What each picture says it counted.
COUNTED = {
    "counts": "Counted: independent detections of each taxon at each location.",
    "relative-abundance": "Counted: independent detections per 100 trap-nights",
    "activity": "Counted: independent detections of each taxon by hour of day",
    "detection-rate": "Counted: photos and video frames of each deployment",
    "species-accumulation": "Counted: species seen so far",
}
THIRTY = [
    "Vulpes vulpes",
    "Meles meles",
    "Martes foina",
    "Martes martes",
    "Capreolus capreolus",
    "Sus scrofa",
    "Cervus elaphus",
    "Lepus europaeus",
    "Oryctolagus cuniculus",
    "Sciurus vulgaris",
    "Erinaceus europaeus",
    "Mustela putorius",
    "Mustela nivalis",
    "Mustela erminea",
    "Felis silvestris",
    "Lynx lynx",
    "Canis lupus",
    "Procyon lotor",
    "Nyctereutes procyonoides",
    "Castor fiber",
    "Lutra lutra",
    "Dama dama",
    "Ardea cinerea",
    "Anas platyrhynchos",
    "Garrulus glandarius",
    "Turdus merula",
    "Erithacus rubecula",
    "Pica pica",
    "Columba palumbus",
    "Phasianus colchicus",
]


async def _png(wl: RunningPlatform, token: str, pid: str, name: str, **params: Any) -> Image.Image:
    response = await wl.client.get(
        f"/v1/projects/{pid}/statistics/{name}",
        params={"format": "png", **params},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    return image


def _text(image: Image.Image) -> dict[str, str]:
    """The PNG's text chunks (Title, Description) as an image viewer lists them."""
    return dict(getattr(image, "text", {}))


async def _chart(wl: RunningPlatform, pid: str, name: str, s: Scope | None = None) -> Chart:
    """The statistic drawn by the same code the PNG route runs, on the backend under test."""
    db = wl.platform.contexts["catalogue"].db
    assert db is not None
    async with db.transaction() as session:
        project = await session.get(Project, uuid.UUID(pid))
        assert project is not None
        table, _ = await service.statistic(db, session, project, name, s or Scope())
    return chart(table)


def _words(figure: Figure) -> str:
    """Every visible text on the figure, as one line of words (the caption is wrapped)."""
    texts = [t.get_text() for t in figure.findobj(Text) if t.get_visible() and t.get_text()]
    return " ".join(" ".join(texts).split())


def _panels(figure: Figure) -> list[Axes]:
    """The figure's sets of axes that have a title: its panels."""
    return [ax for ax in figure.findobj(Axes) if isinstance(ax, Axes) and ax.get_title()]


async def test_every_picture_says_what_was_counted_and_how(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    pid = (await _survey(wl, admin, tmp_path))["project"]

    for name in STATISTICS:
        text = _text(await _png(wl, admin, pid, name))
        body = await ok(
            await wl.client.get(f"/v1/projects/{pid}/statistics/{name}", headers=bearer(admin)),
            200,
        )
        assert text["Title"] == body["title"]
        description = text["Description"]
        assert COUNTED[name] in description, name
        if name in ("detection-rate", "species-accumulation"):
            # Media and first sightings do not depend on an interval, and say so.
            assert "Independence interval: none" in description
        else:
            assert f"{HALF_HOUR} of the previous one" in description
        if name == "detection-rate":
            assert "Each photo or frame counted once" in description
            assert "MaxN" not in description
        else:
            assert MAXN in description, name
    species = _text(await _png(wl, admin, pid, "species-accumulation"))["Description"]
    assert "Species are leaf taxa" in species

    # The interval the caller chose is the one the picture names.
    hourly = _text(await _png(wl, admin, pid, "counts", independence_interval_s=3600))
    assert "Independence interval 1 h: a record within 1 h" in hourly["Description"]

    # What the picture shows, drawn from the same data: the title above and the caption
    # below, in words on the figure itself.
    for name in STATISTICS:
        drawn = await _chart(wl, pid, name)
        words = _words(drawn.figure)
        assert drawn.title in words
        assert COUNTED[name] in words, name
        assert ("MaxN" in words) == (name != "detection-rate")


async def test_activity_is_a_panel_per_taxon_with_its_detections(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    pid = (await _survey(wl, admin, tmp_path))["project"]

    # Counted by hand with 30 minutes' independence: three fox visits (22:00 and 23:00 at the
    # North pond, 22:45 at the South marsh), two herons, a marten, a badger; most first,
    # then by name.
    drawn = await _chart(wl, pid, "activity")
    axes = _panels(drawn.figure)
    titles = [ax.get_title() for ax in axes]
    assert titles == [
        f"{FOX}\nn = 3",
        f"{HERON}\nn = 2",
        f"{MARTEN}\nn = 1",
        f"{BADGER}\nn = 1",
    ]
    assert drawn.panels == titles
    # All on the same scales: 0 to 24 h, and up to at least the fox's peak.
    assert {ax.get_xlim() for ax in axes} == {(0.0, 24.0)}
    assert len({ax.get_ylim() for ax in axes}) == 1
    assert axes[0].get_ylim()[1] >= 2
    words = _words(drawn.figure)
    assert "local hour of day" in words
    assert "more taxa" not in words

    # The PNG says the same, panel by panel, in its description.
    text = _text(await _png(wl, admin, pid, "activity"))
    assert text["Description"] == drawn.description
    assert text["Description"].endswith(
        f"Panels: {FOX}: n = 3; {HERON}: n = 2; {MARTEN}: n = 1; {BADGER}: n = 1."
    )

    # With an hour's independence the three North pond foxes are one visit: the heron
    # (two, at two places) comes first by name.
    hourly = await _chart(wl, pid, "activity", Scope(independence_interval_s=3600))
    assert hourly.panels == [
        f"{HERON}\nn = 2",
        f"{FOX}\nn = 2",
        f"{MARTEN}\nn = 1",
        f"{BADGER}\nn = 1",
    ]


def _thirty_taxa_package(folder: Path) -> tuple[bytes, dict[str, int]]:
    """One camera out ten days; the k-th taxon seen on (k mod 4) + 1 days, a day apart (so
    each sighting is an independent detection). Answers the package and the detections."""
    folder.mkdir()
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text(encoding="utf-8"))
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    _write(
        folder,
        "deployments",
        [
            {
                "deploymentID": "dep",
                "locationID": "loc",
                "locationName": "Forest edge",
                "latitude": 51.2,
                "longitude": 4.4,
                "deploymentStart": "2021-06-01T00:00:00Z",
                "deploymentEnd": "2021-06-11T00:00:00Z",
                "cameraID": "cam",
            }
        ],
    )
    detections = {taxon: k % 4 + 1 for k, taxon in enumerate(THIRTY)}
    sightings = [
        (f"m{k}-{day}", taxon, f"2021-06-{day + 1:02d}T{k % 24:02d}:00:00Z")
        for k, taxon in enumerate(THIRTY)
        for day in range(detections[taxon])
    ]
    _write(
        folder,
        "media",
        [
            {
                "mediaID": m,
                "deploymentID": "dep",
                "captureMethod": "activityDetection",
                "timestamp": at,
                "filePath": f"https://example.org/thirty/{m}.jpg",
                "filePublic": "true",
                "fileName": f"{m}.jpg",
                "fileMediatype": "image/jpeg",
            }
            for m, _, at in sightings
        ],
    )
    _write(
        folder,
        "observations",
        [
            {
                "observationID": f"{m}-1",
                "deploymentID": "dep",
                "mediaID": m,
                "eventStart": at,
                "eventEnd": at,
                "observationLevel": "media",
                "observationType": "animal",
                "scientificName": taxon,
                "count": 1,
                "classificationMethod": "human",
                "classifiedBy": "Survey team",
            }
            for m, taxon, at in sightings
        ],
    )
    return zip_folder(folder), detections


async def test_thirty_taxa_and_none_give_readable_pictures(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    h = bearer(admin)
    project = await ok(await wl.client.post("/v1/projects", json={"name": "Many"}, headers=h), 201)
    pid = project["id"]
    package, detections = _thirty_taxa_package(tmp_path / "pkg")
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files={"files": ("thirty.zip", package, "application/zip")},
            headers=h,
        ),
        200,
    )

    # Every picture draws and stays a page: 800 px wide, at most 12 inches high at 100 dpi.
    for name in STATISTICS:
        image = await _png(wl, admin, pid, name)
        width, height = image.size
        assert width == 800, name
        assert height <= 1200, (name, height)

    # Twelve panels, the taxa with the most detections (seven seen four times, then five of
    # the seven seen three times, by name); the caption counts the eighteen left out.
    drawn = await _chart(wl, pid, "activity")
    kept = sorted(THIRTY, key=lambda t: (-detections[t], t))[:12]
    assert drawn.panels == [f"{t}\nn = {detections[t]}" for t in kept]
    assert [detections[t] for t in kept] == [4] * 7 + [3] * 5
    assert len(_panels(drawn.figure)) == 12
    assert "and 18 more taxa not drawn" in _words(drawn.figure)
    activity = await _png(wl, admin, pid, "activity")
    assert activity.size[1] <= 800
    assert "and 18 more taxa not drawn" in _text(activity)["Description"]

    # A project with nothing recorded: a picture saying so, for every statistic.
    empty = await ok(await wl.client.post("/v1/projects", json={"name": "Empty"}, headers=h), 201)
    for name in STATISTICS:
        text = _text(await _png(wl, admin, empty["id"], name))
        assert text["Description"].startswith("Nothing to draw: "), name
        assert COUNTED[name] in text["Description"]
    nothing = await _chart(wl, empty["id"], "activity")
    assert nothing.panels == []
    assert "Nothing to draw: no independent detections in this scope." in _words(nothing.figure)
