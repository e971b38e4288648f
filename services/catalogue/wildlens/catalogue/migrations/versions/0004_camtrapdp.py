"""Camtrap DP fields on projects, locations, deployments, media and observations; export jobs

Revision ID: 0004_camtrapdp
Revises: 0003_big_media_sizes
Create Date: 2026-11-22 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0004_camtrapdp"
down_revision: str | None = "0003_big_media_sizes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(name: str, length: int | None = None) -> sa.Column[str]:
    # Existing rows get the empty string, the models' default.
    return sa.Column(
        name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False, server_default=""
    )


def _external_id() -> sa.Column[str]:
    return sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(_string("data_license", 300))
        batch_op.add_column(
            sa.Column("camtrapdp_metadata", sa.JSON(), nullable=False, server_default="{}")
        )

    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.add_column(_external_id())
        batch_op.create_index(batch_op.f("ix_locations_external_id"), ["external_id"])

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(_external_id())
        batch_op.add_column(sa.Column("coordinate_uncertainty", sa.Integer(), nullable=True))
        batch_op.add_column(_string("setup_by", 200))
        batch_op.add_column(sa.Column("camera_delay", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("camera_height", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("camera_depth", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("camera_tilt", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("camera_heading", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("detection_distance", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("timestamp_issues", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("bait_use", sa.Boolean(), nullable=True))
        batch_op.add_column(_string("feature_type", 50))
        batch_op.add_column(_string("habitat"))
        batch_op.add_column(_string("deployment_groups"))
        batch_op.add_column(_string("deployment_tags"))
        batch_op.add_column(_string("deployment_comments"))
        batch_op.create_index(batch_op.f("ix_deployments_external_id"), ["external_id"])

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(_external_id())
        batch_op.add_column(_string("file_path", 1000))
        batch_op.add_column(
            sa.Column("file_public", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(_string("capture_method", 30))
        batch_op.add_column(sa.Column("favorite", sa.Boolean(), nullable=True))
        batch_op.add_column(_string("comments"))
        batch_op.add_column(sa.Column("exif_data", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_media_external_id"), ["external_id"])

    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.alter_column("media_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(_external_id())
        batch_op.add_column(sa.Column("deployment_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "observation_level",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="media",
            )
        )
        batch_op.add_column(
            sa.Column(
                "event_external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
            )
        )
        batch_op.add_column(_timestamp("event_start"))
        batch_op.add_column(_timestamp("event_end"))
        batch_op.add_column(_string("camera_setup_type", 30))
        batch_op.add_column(sa.Column("count", sa.Integer(), nullable=True))
        batch_op.add_column(_string("life_stage", 20))
        batch_op.add_column(_string("sex", 20))
        batch_op.add_column(_string("behavior"))
        batch_op.add_column(_string("individual_id", 200))
        batch_op.add_column(sa.Column("individual_position_radius", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("individual_position_angle", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("individual_speed", sa.Float(), nullable=True))
        batch_op.add_column(_timestamp("classification_timestamp"))
        batch_op.add_column(_string("tags"))
        batch_op.add_column(_string("comments"))
        batch_op.create_index(batch_op.f("ix_observations_external_id"), ["external_id"])
        batch_op.create_index(batch_op.f("ix_observations_deployment_id"), ["deployment_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_observations_deployment_id_deployments"),
            "deployments",
            ["deployment_id"],
            ["id"],
        )

    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("object_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        _timestamp("finished_at"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_export_jobs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_jobs_project_id"), ["project_id"])


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_project_id"))
    op.drop_table("export_jobs")

    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_observations_deployment_id_deployments"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_observations_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_observations_external_id"))
        for column in (
            "comments", "tags", "classification_timestamp", "individual_speed",
            "individual_position_angle", "individual_position_radius", "individual_id",
            "behavior", "sex", "life_stage", "count", "camera_setup_type", "event_end",
            "event_start", "event_external_id", "observation_level", "deployment_id",
            "external_id",
        ):  # fmt: skip
            batch_op.drop_column(column)
        # Event-level observations have no media; they cannot survive the downgrade.
        batch_op.alter_column("media_id", existing_type=sa.Uuid(), nullable=False)

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_external_id"))
        for column in (
            "exif_data", "comments", "favorite", "capture_method", "file_public", "file_path",
            "external_id",
        ):  # fmt: skip
            batch_op.drop_column(column)

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_external_id"))
        for column in (
            "deployment_comments", "deployment_tags", "deployment_groups", "habitat",
            "feature_type", "bait_use", "timestamp_issues", "detection_distance",
            "camera_heading", "camera_tilt", "camera_depth", "camera_height", "camera_delay",
            "setup_by", "coordinate_uncertainty", "external_id",
        ):  # fmt: skip
            batch_op.drop_column(column)

    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_external_id"))
        batch_op.drop_column("external_id")

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("camtrapdp_metadata")
        batch_op.drop_column("data_license")
