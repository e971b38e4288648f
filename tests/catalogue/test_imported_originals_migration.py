"""Media whose files came inside an import made before ingest was told of imported files are
announced once by the upgrade (``media.imported`` in the catalogue's outbox), so that they
get display copies and ingest holds their originals; uploads and frames are not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from wildlens.common.db import UtcDateTime, create_database
from wildlens.common.db.migrations import upgrade
from wildlens.common.events import decode, unpack
from wildlens.common.events.v1.media_pb2 import MediaImported, MediaKind
from wildlens.common.service import discover_services
from wildlens.common.service.platform import attach_tables
from wildlens.common.settings import Settings

BEFORE = "0013_detection_records"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

_PROJECTS = sa.table(
    "projects",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("description", sa.String()),
    sa.column("event_gap_s", sa.Integer()),
    sa.column("created_by", sa.String()),
    sa.column("created_at", UtcDateTime()),
)
_MEDIA = sa.table(
    "media",
    *(
        sa.column(name, kind)
        for name, kind in (
            ("id", sa.Uuid()),
            ("project_id", sa.Uuid()),
            ("parent_media_id", sa.Uuid()),
            ("sha256", sa.String()),
            ("object_key", sa.String()),
            ("content_type", sa.String()),
            ("kind", sa.String()),
            ("size_bytes", sa.Integer()),
            ("filename", sa.String()),
            ("captured_at_source", sa.String()),
            ("resolution_issue", sa.String()),
            ("raw_metadata", sa.JSON()),
            ("uploaded_by", sa.String()),
            ("status", sa.String()),
            ("recorded_at", UtcDateTime()),
        )
    ),
)
_OUTBOX = sa.table("outbox", sa.column("type", sa.String()), sa.column("body", sa.LargeBinary()))


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path)
    prefix = request.getfixturevalue("pg_schema_prefix")
    return Settings(data_dir=tmp_path, database_url=PG_URL, database={"schema_prefix": prefix})


def _medium(pid: uuid.UUID, sha: str, **extra: object) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "project_id": pid,
        "parent_media_id": None,
        "sha256": sha,
        "object_key": f"media/{sha[:2]}/{sha}.jpg",
        "content_type": "image/jpeg",
        "kind": "image",
        "size_bytes": 10,
        "filename": f"{sha[:6]}.jpg",
        "captured_at_source": "camtrap-dp",
        "resolution_issue": "",
        "raw_metadata": {},
        "uploaded_by": "",
        "status": "recorded",
        "recorded_at": NOW,
    } | extra


async def test_the_upgrade_announces_earlier_imports(settings: Settings) -> None:
    (spec,) = discover_services(["catalogue"])
    attach_tables(spec)
    assert spec.migrations is not None
    db = create_database(settings, "catalogue")
    try:
        await upgrade(db, Path(spec.migrations), BEFORE)
        pid = uuid.uuid4()
        imported = _medium(pid, "a" * 64)
        video = _medium(pid, "b" * 64, kind="video", content_type="video/mp4")
        video["object_key"] = f"media/bb/{'b' * 64}.mp4"
        uploaded = _medium(pid, "c" * 64, uploaded_by="gateway:1", captured_at_source="exif")
        frame = _medium(pid, "d" * 64, kind="frame", parent_media_id=video["id"])
        frame["object_key"] = f"frames/{'b' * 64}/0.jpg"
        not_held = _medium(pid, "", object_key="")
        async with db.engine.begin() as connection:
            await connection.execute(
                _PROJECTS.insert(),
                [
                    {
                        "id": pid,
                        "name": "MICA",
                        "description": "",
                        "event_gap_s": 60,
                        "created_by": "admin",
                        "created_at": NOW,
                    }
                ],
            )
            await connection.execute(_MEDIA.insert(), [imported, video, uploaded, frame, not_held])
        await upgrade(db, Path(spec.migrations))
        async with db.engine.connect() as connection:
            rows = (await connection.execute(sa.select(_OUTBOX.c.type, _OUTBOX.c.body))).all()
    finally:
        await db.dispose()
    announced = {}
    for kind, body in rows:
        assert kind == "media.imported"
        event = unpack(decode(body), MediaImported)
        announced[event.media_id] = event
    assert set(announced) == {str(imported["id"]), str(video["id"])}
    first = announced[str(imported["id"])]
    assert (first.project_id, first.sha256, first.object_key, first.kind) == (
        str(pid),
        "a" * 64,
        imported["object_key"],
        MediaKind.MEDIA_KIND_IMAGE,
    )
    assert announced[str(video["id"])].kind == MediaKind.MEDIA_KIND_VIDEO
