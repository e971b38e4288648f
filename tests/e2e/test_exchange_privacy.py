"""Exports show a sensitive species' places generalised to whoever may not see them exactly,
in every format; on both backends."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from tests.e2e.test_exchange_coco import export_zip, import_example, new_project
from tests.e2e.test_exchange_dwca import tab_separated
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.platform import RunningPlatform
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.settings import Settings

TAXA_CSV = (
    "taxonID,parentNameUsageID,scientificName,taxonRank\n"
    "1,,Animalia,kingdom\n"
    "2,1,Mustelidae,family\n"
    "3,2,Mustela putorius,species\n"
)
# Where the example saw its polecat (Mustela putorius), and nothing else sensitive.
POLECAT_DEPLOYMENT, POLECAT_LAT, POLECAT_LON = "577b543a", 51.184, 5.659
OTHER_DEPLOYMENT, OTHER_LAT, OTHER_LON = "00a2c20d", 51.496, 4.774


# Imports and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


def _cell_centre(value: float, precision: float) -> float:
    return math.floor(value / precision) * precision + precision / 2


async def test_sensitive_places_are_generalised_in_every_export(
    wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    h = bearer(admin)
    family = (await import_tree(wl.client, admin, TAXA_CSV))["Mustelidae"]
    pid = await new_project(wl, admin, "MICA")
    await import_example(wl, admin, pid)
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy",
            json={"sensitive_taxa": [family], "coordinate_precision": 0.1},
            headers=h,
        ),
        200,
    )
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    viewer = issuer.user_token("viewer", {pid: "viewer"})
    trusted = issuer.user_token(
        "trusted", {pid: "viewer"}, permissions={pid: ["precise_locations"]}
    )
    exports: dict[str, dict[str, bytes]] = {}
    for who, token in (("viewer", viewer), ("trusted", trusted)):
        exports[who] = {}
        for fmt, name in (
            ("csv", "observations.csv"),
            ("dwca", "event.txt"),
            ("coco", "coco.json"),
        ):
            with await export_zip(wl, token, pid, fmt) as archive:
                exports[who][fmt] = archive.read(name)
                if fmt == "dwca":
                    exports[who]["occurrences"] = archive.read("occurrence.txt")

    general_lat = _cell_centre(POLECAT_LAT, 0.1)
    general_lon = _cell_centre(POLECAT_LON, 0.1)
    for who, exact in (("viewer", False), ("trusted", True)):
        want_lat = POLECAT_LAT if exact else general_lat
        want_lon = POLECAT_LON if exact else general_lon

        rows = list(csv.DictReader(io.StringIO(exports[who]["csv"].decode())))
        polecat_rows = [r for r in rows if r["deployment_id"] == POLECAT_DEPLOYMENT]
        assert polecat_rows
        for row in polecat_rows:
            assert abs(float(row["latitude"]) - want_lat) < 1e-9, (who, row["latitude"])
            assert abs(float(row["longitude"]) - want_lon) < 1e-9, (who, row["longitude"])
            assert (row["coordinate_precision"] == "0.1") is not exact
        other = next(r for r in rows if r["deployment_id"] == OTHER_DEPLOYMENT)
        assert float(other["latitude"]) == OTHER_LAT
        assert float(other["longitude"]) == OTHER_LON

        _, events = tab_separated(exports[who]["dwca"])
        event = next(e for e in events if e["eventID"] == POLECAT_DEPLOYMENT)
        assert abs(float(event["decimalLatitude"]) - want_lat) < 1e-9
        if exact:
            assert event["coordinatePrecision"] == ""
        else:
            assert float(event["coordinatePrecision"]) == 0.1
            # The true place lies within the stated uncertainty of the cell's centre.
            assert int(event["coordinateUncertaintyInMeters"]) > 5000
        # Each occurrence there says the same place as its event, generalised alike.
        _, occurrences = tab_separated(exports[who]["occurrences"])
        polecats = [o for o in occurrences if o["eventID"] == POLECAT_DEPLOYMENT]
        assert polecats
        for occurrence in polecats:
            assert abs(float(occurrence["decimalLatitude"]) - want_lat) < 1e-9
            assert abs(float(occurrence["decimalLongitude"]) - want_lon) < 1e-9
            assert occurrence["coordinatePrecision"] == event["coordinatePrecision"]

        document = json.loads(exports[who]["coco"])
        locations = {(i["location"], i["latitude"], i["longitude"]) for i in document["images"]}
        polecat_place = next(p for p in locations if p[0] == "B_DL_val 3_dikke boom")
        assert abs(polecat_place[1] - want_lat) < 1e-9
        assert abs(polecat_place[2] - want_lon) < 1e-9
