from __future__ import annotations

import io
import random

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tests.support import bad_files
from wildlens.ingest.media import RawMetadata, parse_reconyx_maker_note, read_metadata

_EXIF_IFD, _GPS_IFD, _MAKER_NOTE = 0x8769, 0x8825, 0x927C


def _metadata(exif: Image.Exif) -> RawMetadata:
    with Image.open(io.BytesIO(bad_files.jpeg_with_exif(exif))) as image:
        return read_metadata(image)


def _dms(degrees: int, minutes: int, hundredths_of_seconds: int) -> tuple[IFDRational, ...]:
    return (
        IFDRational(degrees, 1),
        IFDRational(minutes, 1),
        IFDRational(hundredths_of_seconds, 100),
    )


def _real_maker_note() -> bytes:
    with Image.open(bad_files.REAL_JPEG) as image:
        note = image.getexif().get_ifd(_EXIF_IFD)[_MAKER_NOTE]
    assert isinstance(note, bytes)
    return note


def test_strings_are_kept_as_written_without_nuls_and_blanks() -> None:
    exif = Image.Exif()
    exif[0x010F] = "  Browning\x00\x00junk"
    exif[0x0110] = "BTC-8E-HP4 "
    exif.get_ifd(_EXIF_IFD).update(
        {0x9003: "2024:06:01 05:12:33", 0x9011: "+02:00", 0xA431: "SN-0042\x00"}
    )

    metadata = _metadata(exif)

    assert metadata == RawMetadata(
        datetime_original="2024:06:01 05:12:33",
        offset_time_original="+02:00",
        make="Browning",
        model="BTC-8E-HP4",
        serial="SN-0042",
    )


def test_gps_becomes_signed_decimal_degrees() -> None:
    exif = Image.Exif()
    exif.get_ifd(_GPS_IFD).update(
        {1: "S", 2: _dms(33, 51, 2151), 3: "W", 4: _dms(70, 30, 0), 5: 1, 6: IFDRational(125, 10)}
    )

    metadata = _metadata(exif)

    assert metadata.gps_latitude == pytest.approx(-(33 + 51 / 60 + 21.51 / 3600))
    assert metadata.gps_longitude == pytest.approx(-70.5)
    assert metadata.gps_altitude == pytest.approx(-12.5)  # reference 1: below sea level


def test_gps_without_a_fix_is_no_position() -> None:
    exif = Image.Exif()
    exif.get_ifd(_GPS_IFD).update({1: "N", 2: _dms(0, 0, 0), 3: "E", 4: _dms(0, 0, 0)})

    metadata = _metadata(exif)

    assert (metadata.gps_latitude, metadata.gps_longitude) == (None, None)


def test_an_unset_camera_clock_is_no_time_and_datetime_is_the_fallback() -> None:
    exif = Image.Exif()
    exif[0x0132] = "2023:01:02 03:04:05"
    exif.get_ifd(_EXIF_IFD).update({0x9003: "0000:00:00 00:00:00"})

    assert _metadata(exif).datetime_original == "2023:01:02 03:04:05"


def test_broken_exif_gives_empty_metadata() -> None:
    with Image.open(io.BytesIO(bad_files.jpeg_with_broken_exif())) as image:
        assert read_metadata(image) == RawMetadata()


def test_the_hyperfire_2_maker_note_is_decoded() -> None:
    note = parse_reconyx_maker_note(_real_maker_note())

    assert note is not None
    assert note.model_family == "HyperFire 2"
    assert note.serial == "H2RXEM06043616"
    assert note.user_label == "MICA 318"
    assert note.datetime_original == "2021:04:11 20:43:09"  # agrees with EXIF
    assert note.moon_phase == "new"  # the new moon was on 2021-04-12
    assert note.ambient_temperature_c == 2


@pytest.mark.parametrize(
    "maker_note",
    [
        b"",
        b"RECONYXH2\x00",  # the right start, nothing after it
        b"RECONYXH2\x00" + bytes(200),  # all fields empty
        b"RECONYXUF\x00" + random.Random(1).randbytes(100),
        b"\x01\xf1" + random.Random(2).randbytes(100),
        random.Random(3).randbytes(837),
    ],
)
def test_garbage_maker_notes_give_no_serial_and_never_raise(maker_note: bytes) -> None:
    note = parse_reconyx_maker_note(maker_note)

    assert note is None or note.serial is None


def test_a_cut_off_real_maker_note_still_yields_nothing_wrong() -> None:
    real = _real_maker_note()

    for length in range(0, len(real), 7):
        note = parse_reconyx_maker_note(real[:length])
        assert note is None or note.serial in (None, "H2RXEM06043616")


def test_a_maker_note_serial_is_read_only_for_reconyx_cameras() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SomeOtherMaker"
    exif.get_ifd(_EXIF_IFD)[_MAKER_NOTE] = _real_maker_note()

    assert _metadata(exif).serial is None

    exif[0x010F] = "RECONYX"
    assert _metadata(exif).serial == "H2RXEM06043616"
