"""taxa, project label maps and taxa lists; observations linked to a taxon; media by capture

Revision ID: 0004_taxonomy
Revises: 0003_big_media_sizes
Create Date: 2026-11-22 20:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0004_taxonomy"
down_revision: str | None = "0003_big_media_sizes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "taxa",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("rank", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("scientific_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("authorship", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("vernacular_names", sa.JSON(), nullable=False),
        sa.Column("search_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("gbif_id", sa.BigInteger(), nullable=True),
        sa.Column("worms_id", sa.BigInteger(), nullable=True),
        sa.Column("taxonomic_status", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["taxa.id"], name=op.f("fk_taxa_parent_id_taxa")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxa")),
        sa.UniqueConstraint("external_id", name=op.f("uq_taxa_external_id")),
    )
    with op.batch_alter_table("taxa", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taxa_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_taxa_rank"), ["rank"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_taxa_scientific_name"), ["scientific_name"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_taxa_gbif_id"), ["gbif_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_taxa_worms_id"), ["worms_id"], unique=False)

    op.create_table(
        "label_map_entries",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("model_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("taxon_id", sa.Uuid(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("updated_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_map_entries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["taxon_id"], ["taxa.id"], name=op.f("fk_label_map_entries_taxon_id_taxa")
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "model_name", "label", name=op.f("pk_label_map_entries")
        ),
    )
    with op.batch_alter_table("label_map_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_label_map_entries_taxon_id"), ["taxon_id"], unique=False
        )

    op.create_table(
        "project_taxa",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("taxon_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("added_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_taxa_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["taxon_id"], ["taxa.id"], name=op.f("fk_project_taxa_taxon_id_taxa")
        ),
        sa.PrimaryKeyConstraint("project_id", "taxon_id", name=op.f("pk_project_taxa")),
    )
    with op.batch_alter_table("project_taxa", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_taxa_taxon_id"), ["taxon_id"], unique=False)

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(
            "ix_media_project_captured_at_id", ["project_id", "captured_at", "id"], unique=False
        )

    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taxon_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_observations_taxon_id"), ["taxon_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_observations_taxon_id_taxa"), "taxa", ["taxon_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_observations_taxon_id_taxa"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_observations_taxon_id"))
        batch_op.drop_column("taxon_id")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_project_captured_at_id")
    op.drop_table("project_taxa")
    op.drop_table("label_map_entries")
    op.drop_table("taxa")
