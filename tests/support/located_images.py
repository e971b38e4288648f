"""Images that give their place away, the ways cameras and phones write it, and a check that
finds any of those ways in bytes handed out.

A camera writes its fix into the EXIF GPS IFD; photo software (Lightroom, digiKam, phones)
writes it again into XMP (``exif:GPSLatitude``). Either is enough to find a nest.
"""

from __future__ import annotations

import io
from typing import Literal

from PIL import Image, PngImagePlugin

__all__ = ["GPS_IFD", "ImageFormat", "located_image", "location_metadata"]

GPS_IFD = 0x8825
ImageFormat = Literal["JPEG", "PNG", "WEBP"]


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def _xmp(latitude: float, longitude: float) -> bytes:
    def xmp_angle(value: float, positive: str, negative: str) -> str:
        degrees = int(abs(value))
        minutes = (abs(value) - degrees) * 60
        return f"{degrees},{minutes:.4f}{positive if value >= 0 else negative}"

    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        f'exif:GPSLatitude="{xmp_angle(latitude, "N", "S")}" '
        f'exif:GPSLongitude="{xmp_angle(longitude, "E", "W")}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def located_image(
    latitude: float,
    longitude: float,
    *,
    colour: tuple[int, int, int] = (90, 120, 60),
    size: tuple[int, int] = (320, 240),
    image_format: ImageFormat = "JPEG",
    xmp: bool = True,
) -> bytes:
    """An image whose EXIF GPS IFD (and XMP, unless ``xmp`` is false) says it was taken at
    ``latitude``, ``longitude``."""
    image = Image.new("RGB", size, colour)
    # Something to look at, so that the display copy is a real re-encoding.
    image.paste((250, 250, 250), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    exif = Image.Exif()
    exif[0x010F] = "TrailCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = ("N" if latitude >= 0 else "S"), _dms(latitude)
    gps[3], gps[4] = ("E" if longitude >= 0 else "W"), _dms(longitude)
    options: dict[str, object] = {"exif": exif}
    if xmp and image_format == "PNG":
        # PNG keeps XMP in an iTXt chunk of its own.
        chunks = PngImagePlugin.PngInfo()
        chunks.add_itxt("XML:com.adobe.xmp", _xmp(latitude, longitude).decode())
        options["pnginfo"] = chunks
    elif xmp:
        options["xmp"] = _xmp(latitude, longitude)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def location_metadata(data: bytes) -> list[str]:
    """Where in ``data`` a place is written: ``"exif-gps"`` (a GPS IFD with anything in it),
    ``"xmp-gps"`` (XMP naming a GPS position, wherever it sits); empty for clean bytes."""
    found: list[str] = []
    with Image.open(io.BytesIO(data)) as image:
        if image.getexif().get_ifd(GPS_IFD):
            found.append("exif-gps")
        xmp = image.info.get("xmp") or b""
    if isinstance(xmp, str):
        xmp = xmp.encode()
    # Also XMP that Pillow did not surface (another marker, another chunk).
    if b"GPSLatitude" in xmp or b"GPSLatitude" in data or b"GPSLongitude" in data:
        found.append("xmp-gps")
    return found
