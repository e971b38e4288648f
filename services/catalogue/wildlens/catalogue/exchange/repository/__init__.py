"""Every query of the exchange domain, by what it reads or writes.

``export_jobs``, ``import_jobs``: the export and import jobs (taken and held by the queries of
``wildlens.common.jobs``);
``snapshot``: a project as exporters read it; ``places``, ``records``, ``detections``,
``taxa``: the rows imports look up and the rest of what exports read; ``external_ids``: rows
by the ids an imported file gave them.
"""

from __future__ import annotations

from wildlens.catalogue.exchange.repository.detections import (
    machine_boxes_without_run,
    media_with_results,
    observations_of_runs,
    ranked_labels,
    runs_of_media,
)
from wildlens.catalogue.exchange.repository.export_jobs import (
    export_job,
    project,
)
from wildlens.catalogue.exchange.repository.external_ids import (
    CHUNK,
    by_external_id,
    by_external_id_at_once,
    by_platform_id,
)
from wildlens.catalogue.exchange.repository.import_jobs import (
    expire_import,
    expired_imports,
    import_job,
    import_jobs_page,
    start_import,
)
from wildlens.catalogue.exchange.repository.objects import (
    drop_features,
    has_other_media,
    object_categories,
    object_features,
    object_records,
    objects_of_project,
    observations_of_objects,
    project_groups,
)
from wildlens.catalogue.exchange.repository.places import (
    camera,
    deployment_by_external_id,
    deployments_by_start,
    location_by_key_or_name,
    project_devices,
    project_locations,
    unnamed_locations,
)
from wildlens.catalogue.exchange.repository.records import (
    deployed_media,
    event_names,
    media_by_capture_time,
    media_ids,
    media_named_in,
    media_with_hashes,
    media_with_paths_or_names,
    observations_by_event_start,
)
from wildlens.catalogue.exchange.repository.snapshot import ProjectSnapshot, load_snapshot
from wildlens.catalogue.exchange.repository.taxa import (
    expected_taxa,
    label_map,
    project_taxon_ids,
    scientific_names,
    taxa_by_id,
    taxon_named,
)

__all__ = [
    "CHUNK",
    "ProjectSnapshot",
    "by_external_id",
    "by_external_id_at_once",
    "by_platform_id",
    "camera",
    "deployed_media",
    "deployment_by_external_id",
    "deployments_by_start",
    "drop_features",
    "event_names",
    "expected_taxa",
    "expire_import",
    "expired_imports",
    "export_job",
    "has_other_media",
    "import_job",
    "import_jobs_page",
    "label_map",
    "load_snapshot",
    "location_by_key_or_name",
    "machine_boxes_without_run",
    "media_by_capture_time",
    "media_ids",
    "media_named_in",
    "media_with_hashes",
    "media_with_paths_or_names",
    "media_with_results",
    "object_categories",
    "object_features",
    "object_records",
    "objects_of_project",
    "observations_by_event_start",
    "observations_of_objects",
    "observations_of_runs",
    "project",
    "project_devices",
    "project_groups",
    "project_locations",
    "project_taxon_ids",
    "ranked_labels",
    "runs_of_media",
    "scientific_names",
    "start_import",
    "taxa_by_id",
    "taxon_named",
    "unnamed_locations",
]
