"""Every table of the training service, one module per aggregate, each table with its indexes.

Importing this package registers every table on ``metadata`` (what migrations and the
service's schema checks compare against). Domains import tables from here.

=====================  ===============================================================
module                 tables
=====================  ===============================================================
``registered_models``  the model registry: every bundle and version, its stage, and the
                       history of its stages
``model_uploads``      bundles on their way in through PUT URLs, and the queue of their
                       checks and registrations
``datasets``           datasets built from confirmed labels: spec, seed, state, counts per
                       class and split (the manifest is in storage)
``training_jobs``      training jobs: the queue training workers take them from, and the
                       progress they write
=====================  ===============================================================
"""

from wildlens.training.models.base import TrainingTable, metadata
from wildlens.training.models.datasets import Dataset
from wildlens.training.models.model_uploads import ModelUpload
from wildlens.training.models.registered_models import ModelStageChange, RegisteredModel
from wildlens.training.models.training_jobs import TrainingJob

__all__ = [
    "Dataset",
    "ModelStageChange",
    "ModelUpload",
    "RegisteredModel",
    "TrainingJob",
    "TrainingTable",
    "metadata",
]
