"""Every table of the catalogue, one module per aggregate, each table with its indexes.

Importing this package registers every table on ``metadata`` (what migrations and the
service's schema checks compare against). Domains import tables from here, never from each
other, so what two domains both read lives below them both.

=================  =====================================================================
module             tables
=================  =====================================================================
``projects``       projects, their members
``sites``          locations, devices, deployments, device tokens
``media``          media (photos, videos, frames, clips)
``observations``   observations, the model runs behind machine ones, their history, and
                   where volunteers' consensus ones came from
``sequences``      camera-trap sequences (Camtrap DP's "events")
``taxa``           the taxon tree, label maps, each project's taxa
``privacy``        a project's privacy settings, its sensitive taxa
``alerts``         alert rules, their deliveries and every attempt
``audit``          the audit log
``exports``        export jobs
``imports``        import jobs
``summaries``      the statistics' detection records and media minutes, and the changes
                   awaiting a refresh
``rankings``       ranked classifier labels from imported results files
``review``         the review queue's score parts per medium, and the media awaiting a refresh
=================  =====================================================================
"""

from wildlens.catalogue.models.alerts import AlertDelivery, AlertRule, DeliveryAttempt
from wildlens.catalogue.models.audit import AuditEntry
from wildlens.catalogue.models.base import CatalogueTable, metadata
from wildlens.catalogue.models.exports import ExportJob
from wildlens.catalogue.models.imports import ImportJob
from wildlens.catalogue.models.media import Media
from wildlens.catalogue.models.observations import (
    VOLUNTEERS_PREFIX,
    ModelRun,
    Observation,
    ObservationChange,
    VolunteerConsensus,
)
from wildlens.catalogue.models.privacy import DEFAULT_PRECISION, ProjectPrivacy, SensitiveTaxon
from wildlens.catalogue.models.projects import Membership, Project
from wildlens.catalogue.models.rankings import RankedClassifications
from wildlens.catalogue.models.review import ReviewScore, ReviewScoreChange
from wildlens.catalogue.models.sequences import Sequence
from wildlens.catalogue.models.sites import Deployment, Device, DeviceToken, Location
from wildlens.catalogue.models.summaries import (
    SECONDS_PER_MINUTE,
    DetectionRecord,
    DetectionRecordChange,
    MediaMinute,
    SummaryChange,
)
from wildlens.catalogue.models.taxa import LabelMapEntry, ProjectTaxon, Taxon

__all__ = [
    "DEFAULT_PRECISION",
    "SECONDS_PER_MINUTE",
    "VOLUNTEERS_PREFIX",
    "AlertDelivery",
    "AlertRule",
    "AuditEntry",
    "CatalogueTable",
    "DeliveryAttempt",
    "Deployment",
    "DetectionRecord",
    "DetectionRecordChange",
    "Device",
    "DeviceToken",
    "ExportJob",
    "ImportJob",
    "LabelMapEntry",
    "Location",
    "Media",
    "MediaMinute",
    "Membership",
    "ModelRun",
    "Observation",
    "ObservationChange",
    "Project",
    "ProjectPrivacy",
    "ProjectTaxon",
    "RankedClassifications",
    "ReviewScore",
    "ReviewScoreChange",
    "SensitiveTaxon",
    "Sequence",
    "SummaryChange",
    "Taxon",
    "VolunteerConsensus",
    "metadata",
]
