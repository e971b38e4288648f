"""What leaves with a sensitive sample for an audience without precise locations: its free
``lat``/``lon`` columns at the grid cell, whatever type the TSV gave them, and the images of
an object's further views without any metadata their files carried."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from PIL import Image

from wildlens.catalogue.exchange.ecotaxa.exporter import _without_metadata
from wildlens.catalogue.privacy.view import PrivacyView
from wildlens.catalogue.samples.service import generalised_fields

VIEWER = PrivacyView(
    project_id=uuid.uuid4(),
    precise=False,
    precision=0.1,
    sensitive_taxa=frozenset(),
    sensitive_names=frozenset({"Pelagia noctiluca"}),
    hides_people=False,
)


def test_sample_columns_typed_as_numbers_or_text_go_out_at_the_grid_cell() -> None:
    for lat, lon in ((43.68421, 7.31594), ("43.68421", "7.31594")):
        shown = generalised_fields(VIEWER, {"lat": lat, "lon": lon, "station": "B"})
        assert shown["station"] == "B"
        assert (shown["lat"], shown["lon"]) != (43.68421, 7.31594)
        assert abs(shown["lat"] - 43.68421) < 0.1
        assert abs(shown["lon"] - 7.31594) < 0.1
        assert "43.684" not in repr(shown)


def test_sample_columns_that_are_no_numbers_are_left_out() -> None:
    shown = generalised_fields(VIEWER, {"lat": "43°41.05'N", "lon": "7°18.96'E", "station": "B"})
    assert shown == {"station": "B"}


def test_a_view_is_written_again_without_its_comment_or_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010E] = "GPS 43.68421 7.31594"  # ImageDescription
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 120, 60)).save(
        buffer, format="JPEG", comment=b"GPS 43.68421 7.31594", exif=exif
    )
    path = tmp_path / "view.jpg"
    path.write_bytes(buffer.getvalue())
    assert b"43.68421" in path.read_bytes()

    _without_metadata(path)

    assert b"43.68421" not in path.read_bytes()
    with Image.open(path) as image:
        assert image.size == (32, 24)
        assert "comment" not in image.info
        assert "exif" not in image.info
