"""single objects: a project's media kind, samples, acquisitions, processes, objects, their
features and imported categories

Revision ID: 0018_objects
Revises: 0017_top_k_consensus
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0018_objects"
down_revision: str | None = "0017_top_k_consensus"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int | None = None) -> sa.Column[object]:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def _project(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
        name=op.f(f"fk_{table}_project_id_projects"),
        ondelete="CASCADE",
    )


def _described(table: str, *extra: sa.Column[object] | sa.ForeignKeyConstraint) -> None:
    """A table of rows an import names by an external id, with the file's own fields."""
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        _text("external_id", 200),
        *extra,
        sa.Column("fields", sa.JSON(), nullable=False),
        _project(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "project_id", "external_id", name=op.f(f"uq_{table}_project_id_external_id")
        ),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_project_id"), ["project_id"])


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "media_kind",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="camera_trap",
            )
        )
    _described(
        "samples",
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
    )
    _described(
        "acquisitions",
        sa.Column("sample_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_acquisitions_sample_id_samples"),
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("acquisitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acquisitions_sample_id"), ["sample_id"])
    _described("processes")

    op.create_table(
        "objects",
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sample_id", sa.Uuid(), nullable=True),
        sa.Column("acquisition_id", sa.Uuid(), nullable=True),
        sa.Column("process_id", sa.Uuid(), nullable=True),
        sa.Column("depth_min", sa.Float(), nullable=True),
        sa.Column("depth_max", sa.Float(), nullable=True),
        sa.Column("image_rank", sa.Integer(), nullable=False),
        _text("category", 300),
        _text("category_external_id", 50),
        _text("annotator_email", 300),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_objects_media_id_media"), ondelete="CASCADE"
        ),
        _project("objects"),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_objects_sample_id_samples"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["acquisition_id"],
            ["acquisitions.id"],
            name=op.f("fk_objects_acquisition_id_acquisitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["processes.id"],
            name=op.f("fk_objects_process_id_processes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_objects")),
    )
    with op.batch_alter_table("objects", schema=None) as batch_op:
        for column in ("project_id", "sample_id", "acquisition_id", "process_id"):
            batch_op.create_index(batch_op.f(f"ix_objects_{column}"), [column])

    op.create_table(
        "object_features",
        sa.Column("media_id", sa.Uuid(), nullable=False),
        _text("name", 100),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_object_features_media_id_media"),
            ondelete="CASCADE",
        ),
        _project("object_features"),
        sa.PrimaryKeyConstraint("media_id", "name", name=op.f("pk_object_features")),
    )
    with op.batch_alter_table("object_features", schema=None) as batch_op:
        batch_op.create_index(
            "ix_object_features_project_name_value", ["project_id", "name", "value", "media_id"]
        )

    op.create_table(
        "object_categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        _text("name", 300),
        _text("external_id", 50),
        sa.Column("taxon_id", sa.Uuid(), nullable=True),
        sa.Column("morphological", sa.Boolean(), nullable=False),
        _project("object_categories"),
        sa.ForeignKeyConstraint(
            ["taxon_id"], ["taxa.id"], name=op.f("fk_object_categories_taxon_id_taxa")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_object_categories")),
        sa.UniqueConstraint(
            "project_id", "name", name=op.f("uq_object_categories_project_id_name")
        ),
    )
    with op.batch_alter_table("object_categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_object_categories_project_id"), ["project_id"])


def downgrade() -> None:
    for table in (
        "object_categories",
        "object_features",
        "objects",
        "processes",
        "acquisitions",
        "samples",
    ):
        op.drop_table(table)
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("media_kind")
