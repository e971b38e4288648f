"""``wildlens import coco|megadetector|kso`` and ``wildlens export coco|megadetector|dwca|csv``
against ``wildlens up``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import httpx

from tests.catalogue.test_camtrapdp_cli import _wildlens, platform
from tests.e2e.test_exchange_kso import MOVIES, SITES, SPECIES

__all__ = ["platform"]


def test_imports_and_exports_from_the_command_line(
    platform: tuple[str, str], tmp_path: Path
) -> None:
    url, token = platform
    created = httpx.post(
        f"{url}/v1/projects", json={"name": "Koster"}, headers={"Authorization": f"Bearer {token}"}
    )
    pid = created.json()["id"]

    kso = tmp_path / "kso"
    kso.mkdir()
    for name, text in (("sites", SITES), ("movies", MOVIES), ("species", SPECIES)):
        (kso / f"{name}_koster.csv").write_text(text)
    imported = _wildlens("import", "kso", str(kso), "--project", pid, url=url, token=token)
    assert imported.returncode == 0, imported.stderr
    assert "media: 3 created" in imported.stderr
    assert "label_map_entries: 3 created" in imported.stderr

    results = tmp_path / "md.json"
    results.write_text(
        json.dumps(
            {
                "info": {"format_version": "1.6", "detector": "MDV6-yolov9-c"},
                "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
                "images": [{"file": "movie_KVF_2_2019.mp4", "detections": []}],
            }
        )
    )
    attached = _wildlens(
        "import", "megadetector", str(results), "--project", pid, url=url, token=token
    )
    assert attached.returncode == 0, attached.stderr
    assert "model_runs: 1 created" in attached.stderr

    for fmt, inside in (
        ("coco", "coco.json"),
        ("megadetector", "megadetector.json"),
        ("dwca", "meta.xml"),
        ("csv", "observations.csv"),
    ):
        out = tmp_path / f"koster-{fmt}.zip"
        exported = _wildlens(
            "export", fmt, "--project", pid, "--out", str(out), url=url, token=token
        )
        assert exported.returncode == 0, exported.stderr
        with zipfile.ZipFile(out) as archive:
            assert inside in archive.namelist()
            if fmt == "coco":
                document = json.loads(archive.read(inside))
                assert len(document["images"]) == 3
            if fmt == "megadetector":
                document = json.loads(archive.read(inside))
                assert document["images"] == [{"file": "movie_KVF_2_2019.mp4", "detections": []}]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))
    refused = _wildlens("import", "coco", str(bad), "--project", pid, url=url, token=token)
    assert refused.returncode == 1
    assert "422 Invalid" in refused.stderr
    assert "resource=images" in refused.stderr
    assert "no file_name" in refused.stderr
