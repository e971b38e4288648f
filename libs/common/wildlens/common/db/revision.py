"""``python -m wildlens.common.db.revision SERVICE MESSAGE``: autogenerate a migration.

It migrates a scratch SQLite database to head and compares it with the service's models, so
the revision holds exactly what changed. Review it before committing: Alembic cannot see
renames, and data migrations are written by hand.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from wildlens.common.db.engine import create_database
from wildlens.common.db.migrations import revision
from wildlens.common.service.platform import attach_tables
from wildlens.common.service.spec import discover_services
from wildlens.common.settings import Settings


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].strip():
        print("usage: python -m wildlens.common.db.revision SERVICE MESSAGE", file=sys.stderr)
        return 2
    (spec,) = discover_services([argv[0]])
    if spec.metadata is None or spec.migrations is None:
        print(f"{spec.name} has no database", file=sys.stderr)
        return 2
    attach_tables(spec)
    with tempfile.TemporaryDirectory() as scratch:
        db = create_database(Settings(data_dir=Path(scratch)), spec.name)
        existing = list((spec.migrations / "versions").glob("[0-9]*.py"))
        rev_id = f"{len(existing) + 1:04d}"
        asyncio.run(revision(db, spec.migrations, argv[1], rev_id=rev_id))
        asyncio.run(db.dispose())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
