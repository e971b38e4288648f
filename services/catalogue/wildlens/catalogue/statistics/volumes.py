"""How much water an object was found in, and how big it is: the formulas per-sample
statistics use, as EcoTaxa computes them, and the words the answers name them in.

* A net sample (ZooScan and other scanned fractions) counts one sub-part of the sample's
  volume: each object stands for ``acq_sub_part ÷ sample_tot_vol`` individuals per m³.
* A profile (UVP) images a known volume per image: each object in a depth bin stands for
  ``1 ÷ (acq_volimage * images in the bin ÷ 1000)`` per m³ (``acq_volimage`` in litres).
* An object's biovolume is that of the ellipsoid its ellipse's axes turn into
  (``object_major``, ``object_minor``), or of the sphere of its area's equivalent spherical
  diameter (``object_area``), in mm³, the pixels scaled by the pixel's size: ``process_pixel``,
  else ``acq_pixel``. ZooScan writes it in micrometres (10.58), UVPs in millimetres (0.088);
  no plankton imager has pixels a millimetre wide, so a size of 1 or more is read as µm and
  one below 1 as mm, unless the caller names the unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "AREA_FORMULA",
    "BIOVOLUME_CONCENTRATION_FORMULA",
    "ELLIPSE_FORMULA",
    "NET_FORMULA",
    "PIXEL_COLUMNS",
    "UVP_FORMULA",
    "BiovolumeFrom",
    "PixelSize",
    "PixelUnit",
    "biovolume_mm3",
    "number",
    "pixel_size",
]

BiovolumeFrom = Literal["ellipse", "area"]
PixelUnit = Literal["um", "mm"]
# Where an object's pixel size is read, first found first: the process that cut it, else the
# acquisition (UVP files give it there).
PIXEL_COLUMNS = ("process_pixel", "acq_pixel")

NET_FORMULA = (
    "net samples: concentration (individuals/m³) = objects * acq_sub_part ÷ sample_tot_vol "
    "(m³), per acquisition"
)
UVP_FORMULA = (
    "profiles (UVP): concentration (individuals/m³) = objects in the depth bin ÷ "
    "(acq_volimage (L) * images in the depth bin ÷ 1000)"
)
ELLIPSE_FORMULA = (
    "biovolume (mm³) = 4/3 * π * (object_major * pixel_mm ÷ 2) * "
    "(object_minor * pixel_mm ÷ 2)², the ellipsoid of the object's ellipse "
    "(pixel_mm: process_pixel, else acq_pixel, in mm/pixel; a size ≥ 1 is read as µm)"
)
AREA_FORMULA = (
    "biovolume (mm³) = π ÷ 6 * ESD³, ESD = 2 * √(object_area * pixel_mm² ÷ π), the sphere "
    "of the object's equivalent spherical diameter (pixel_mm: process_pixel, else acq_pixel, "
    "in mm/pixel; a size ≥ 1 is read as µm)"
)
BIOVOLUME_CONCENTRATION_FORMULA = (
    "biovolume concentration (mm³/m³) = the sum of the objects' biovolumes, each times its "
    "concentration's factor (acq_sub_part ÷ sample_tot_vol, or 1000 ÷ (acq_volimage * images "
    "in the depth bin))"
)


def number(fields: dict[str, Any], name: str) -> float | None:
    """A field as a positive number (imports keep ``[f]`` columns as numbers; text that reads
    as one counts too), None where missing, zero or no number."""
    value = fields.get(name)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0 else None


@dataclass(frozen=True)
class PixelSize:
    """A pixel's size as written, where it was read, the unit it was read in, and in mm."""

    written: float
    column: str
    unit: PixelUnit

    @property
    def mm(self) -> float:
        return self.written / 1000 if self.unit == "um" else self.written


def pixel_size(
    process: dict[str, Any] | None,
    acquisition: dict[str, Any] | None,
    unit: PixelUnit | None = None,
) -> PixelSize | None:
    """The pixel size an object is measured with (``PIXEL_COLUMNS``), None where neither
    gives one; read in ``unit``, else µm from 1 up and mm below (no imager has pixels a
    millimetre wide)."""
    for column, fields in zip(PIXEL_COLUMNS, (process, acquisition), strict=True):
        written = number(fields or {}, "pixel")
        if written is not None:
            return PixelSize(written, column, unit or ("um" if written >= 1 else "mm"))
    return None


def biovolume_mm3(sizes: dict[str, float], pixel_mm: float, method: BiovolumeFrom) -> float | None:
    """The object's biovolume, None where it lacks the features ``method`` needs or they
    cannot be a size (negative, or so large the volume is no number)."""
    try:
        if method == "ellipse":
            major, minor = sizes.get("major"), sizes.get("minor")
            if major is None or minor is None or major < 0 or minor < 0:
                return None
            volume = 4 / 3 * math.pi * (major * pixel_mm / 2) * (minor * pixel_mm / 2) ** 2
        else:
            area = sizes.get("area")
            if area is None or area < 0:
                return None
            esd = 2 * math.sqrt(area * pixel_mm**2 / math.pi)
            volume = math.pi / 6 * esd**3
    except OverflowError:
        return None
    return volume if math.isfinite(volume) else None
