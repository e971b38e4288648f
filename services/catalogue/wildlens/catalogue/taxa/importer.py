"""Darwin Core Taxon CSV → the taxon tree, all or nothing.

Every row is checked before anything is written (missing or duplicate ids, unknown ranks,
parents that exist neither in the file nor in the tree, cycles through the file or through
the stored tree); one bad row refuses the whole file and the report lists every bad row.
Rows upsert by ``taxonID`` (the taxon's ``external_id``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Taxon
from wildlens.catalogue.taxa.ranks import normalise_rank
from wildlens.catalogue.taxa.repository import ancestor_links, taxa_by_external_id
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.importing import read_csv, row_problems
from wildlens.common.offload import StopFlag, run_stoppable
from wildlens.common.settings import LimitSettings

__all__ = ["ImportReport", "TaxonRow", "apply_rows", "import_taxa", "parse_csv"]

REQUIRED = ("taxonID", "scientificName", "taxonRank")
# Reported problems are capped so that a wrong file gives a readable answer.
MAX_REPORTED = 1000

_WORMS = re.compile(r"^urn:lsid:marinespecies\.org:taxname:(\d+)$", re.IGNORECASE)
_GBIF = re.compile(r"^(?:https?://(?:www\.)?gbif\.org/species/|gbif:)(\d+)/?$", re.IGNORECASE)


@dataclass
class TaxonRow:
    line: int
    external_id: str
    parent_external_id: str
    rank: str
    scientific_name: str
    authorship: str = ""
    vernacular_names: dict[str, str] = field(default_factory=dict)
    gbif_id: int | None = None
    worms_id: int | None = None
    taxonomic_status: str = "accepted"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class _Problems:
    def __init__(self) -> None:
        self.items: list[FieldError] = []
        self.count = 0

    def add(self, line: int, column: str, message: str, kind: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(
                FieldError(location=["file", line, column], message=message, type=kind)
            )

    def raise_if_any(self) -> None:
        if self.count:
            lines = sorted({int(p.location[1]) for p in self.items})
            shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
            raise Invalid(
                f"{self.count} problem(s) in the taxon file (lines {shown}); nothing was imported",
                fields=self.items,
            )


def _int_or_problem(value: str, line: int, column: str, problems: _Problems) -> int | None:
    if not value:
        return None
    if value.isdigit():
        return int(value)
    problems.add(line, column, f"{value!r} is not a whole number", "value_error.number")
    return None


def _length(attribute: str) -> int | None:
    length = getattr(Taxon.__table__.c[attribute].type, "length", None)  # type: ignore[attr-defined]
    return length if isinstance(length, int) else None


# The columns kept as text, with the lengths of the columns they fill.
_STORED_TEXT: dict[str, int | None] = {
    "taxonID": _length("external_id"),
    "parentNameUsageID": _length("external_id"),
    "scientificName": _length("scientific_name"),
    "taxonRank": _length("rank"),
    "scientificNameAuthorship": _length("authorship"),
    "taxonomicStatus": _length("taxonomic_status"),
    "vernacularName": _length("scientific_name"),
    "language": 20,
}


def parse_csv(stop: StopFlag, data: bytes, limits: LimitSettings) -> list[TaxonRow]:
    """Rows of a Darwin Core Taxon file (comma- or tab-separated, UTF-8, header first).

    Columns: taxonID, parentNameUsageID, scientificName, taxonRank (required, parent may be
    empty for roots); optional vernacularName (with language, default "en"),
    scientificNameAuthorship, taxonomicStatus, scientificNameID (a WoRMS LSID or a GBIF species
    URL), gbifID, wormsID.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the taxon file is not UTF-8 text: {exc}") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    fieldnames, table = read_csv(text, "the taxon file", limits, stop, delimiter=delimiter)
    header = [h.strip() for h in fieldnames]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise Invalid(
            "the taxon file lacks the column(s) " + ", ".join(missing),
            fields=[
                FieldError(location=["file", 1, c], message="column missing", type="missing")
                for c in missing
            ],
        )
    problems = _Problems()
    rows: list[TaxonRow] = []
    seen: dict[str, int] = {}
    for line, raw in table:
        value = {
            header[n]: (v or "").strip()
            for n, (k, v) in enumerate(raw.items())
            if k is not None and n < len(header)
        }
        if not any(value.values()):
            continue
        for column, message in row_problems(value, _STORED_TEXT):
            problems.add(line, column, message, "value_error.text")
        external_id = value.get("taxonID", "")
        name = value.get("scientificName", "")
        rank = normalise_rank(value.get("taxonRank", ""))
        if not external_id:
            problems.add(line, "taxonID", "taxonID is empty", "missing")
        elif external_id in seen:
            problems.add(
                line,
                "taxonID",
                f"taxonID {external_id!r} is also on line {seen[external_id]}",
                "duplicate",
            )
        else:
            seen[external_id] = line
        if not name:
            problems.add(line, "scientificName", "scientificName is empty", "missing")
        if rank is None:
            problems.add(
                line,
                "taxonRank",
                f"unknown rank {value.get('taxonRank', '')!r}",
                "value_error.rank",
            )
        parent = value.get("parentNameUsageID", "")
        if parent and parent == external_id:
            problems.add(line, "parentNameUsageID", "a taxon cannot be its own parent", "cycle")
        gbif_id = _int_or_problem(value.get("gbifID", ""), line, "gbifID", problems)
        worms_id = _int_or_problem(value.get("wormsID", ""), line, "wormsID", problems)
        name_id = value.get("scientificNameID", "")
        if match := _WORMS.match(name_id):
            worms_id = worms_id or int(match.group(1))
        elif match := _GBIF.match(name_id):
            gbif_id = gbif_id or int(match.group(1))
        vernacular = value.get("vernacularName", "")
        rows.append(
            TaxonRow(
                line=line,
                external_id=external_id,
                parent_external_id=parent,
                rank=rank or "",
                scientific_name=name,
                authorship=value.get("scientificNameAuthorship", ""),
                vernacular_names=(
                    {(value.get("language") or "en").lower(): vernacular} if vernacular else {}
                ),
                gbif_id=gbif_id,
                worms_id=worms_id,
                taxonomic_status=(value.get("taxonomicStatus") or "accepted").lower(),
            )
        )
    problems.raise_if_any()
    if not rows:
        raise Invalid("the taxon file has no rows")
    return rows


async def apply_rows(session: AsyncSession, rows: list[TaxonRow]) -> ImportReport:
    """Check ``rows`` against the stored tree and upsert them; raises ``Invalid`` (having
    written nothing) when any row is bad."""
    problems = _Problems()
    by_external = {r.external_id: r for r in rows}
    stored = await taxa_by_external_id(
        session, {r.external_id for r in rows} | {r.parent_external_id for r in rows} - {""}
    )
    ids = {
        r.external_id: stored[r.external_id].id if r.external_id in stored else uuid.uuid4()
        for r in rows
    }
    parent_of: dict[uuid.UUID, uuid.UUID | None] = {}
    outside: set[uuid.UUID] = set()
    for r in rows:
        if not r.parent_external_id:
            parent_of[ids[r.external_id]] = None
        elif r.parent_external_id in by_external:
            parent_of[ids[r.external_id]] = ids[r.parent_external_id]
        elif r.parent_external_id in stored:
            parent_id = stored[r.parent_external_id].id
            parent_of[ids[r.external_id]] = parent_id
            outside.add(parent_id)
        else:
            problems.add(
                r.line,
                "parentNameUsageID",
                f"parent {r.parent_external_id!r} is neither in the file nor in the taxon tree",
                "missing_parent",
            )
    problems.raise_if_any()

    # The tree as it will be: the stored links above the parents outside the file, with the
    # file's links laid over them (a row may move a stored taxon).
    links = await ancestor_links(session, outside)
    links.update(parent_of)
    depth = _depths(links, [ids[r.external_id] for r in rows])
    line_of = {ids[r.external_id]: r.line for r in rows}
    for taxon_id, d in depth.items():
        if d is None and taxon_id in line_of:
            problems.add(
                line_of[taxon_id],
                "parentNameUsageID",
                "following this row's parents never reaches a root (a cycle)",
                "cycle",
            )
    problems.raise_if_any()

    report = ImportReport(rows=len(rows))
    now = utcnow()
    # Parents before children, and new taxa before stored ones that move under them, so that
    # every parent exists when its child is written.
    ordered = sorted(rows, key=lambda r: depth[ids[r.external_id]] or 0)
    updates: list[tuple[Taxon, TaxonRow]] = []
    for r in ordered:
        existing = stored.get(r.external_id)
        if existing is None:
            taxon = Taxon(
                id=ids[r.external_id],
                external_id=r.external_id,
                rank=r.rank,
                scientific_name=r.scientific_name,
                created_at=now,
                updated_at=now,
            )
            _fill(taxon, r, parent_of[taxon.id])
            session.add(taxon)
            report.created += 1
        else:
            updates.append((existing, r))
    await session.flush()
    for taxon, r in updates:
        before = taxon.fields()
        _fill(taxon, r, parent_of[taxon.id])
        if taxon.fields() == before:
            report.unchanged += 1
            continue
        taxon.updated_at = now
        session.add(taxon)
        report.updated += 1
    await session.flush()
    return report


def _fill(taxon: Taxon, row: TaxonRow, parent_id: uuid.UUID | None) -> None:
    taxon.parent_id = parent_id
    taxon.rank = row.rank
    taxon.scientific_name = row.scientific_name
    taxon.authorship = row.authorship
    # A file names taxa in the languages it has; names in other languages are kept.
    taxon.vernacular_names = {**(taxon.vernacular_names or {}), **row.vernacular_names}
    if row.gbif_id is not None:
        taxon.gbif_id = row.gbif_id
    if row.worms_id is not None:
        taxon.worms_id = row.worms_id
    taxon.taxonomic_status = row.taxonomic_status
    taxon.refresh_search_text()


def _depths(
    links: dict[uuid.UUID, uuid.UUID | None], starts: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int | None]:
    """Depth of each node below its root, or None where its parent chain runs into a cycle."""
    depth: dict[uuid.UUID, int | None] = {}
    for start in starts:
        path: list[uuid.UUID] = []
        on_path: set[uuid.UUID] = set()
        node: uuid.UUID | None = start
        base: int | None = -1
        while node is not None and node not in depth:
            if node in on_path:
                base = None
                break
            path.append(node)
            on_path.add(node)
            node = links.get(node)
        if node is not None and node in depth:
            base = depth[node]
        for n in reversed(path):
            base = None if base is None else base + 1
            depth[n] = base
    return depth


async def import_taxa(
    session: AsyncSession, data: bytes, limits: LimitSettings | None = None
) -> ImportReport:
    # Reading and checking every row is the slow part: off the event loop.
    rows = await run_stoppable(parse_csv, data, limits or LimitSettings())
    return await apply_rows(session, rows)
