"""Every table of the citsci service, one module per aggregate, each table with its indexes.

Importing this package registers every table on ``metadata`` (what migrations and the
service's schema checks compare against). Domains import tables from here.

================  ====================================================================
module            tables
================  ====================================================================
``subject_sets``  subject sets: groups of media shown to volunteers together
``zooniverse``    media sent to Zooniverse, the subject each became, its classifications
``volunteers``    built-in subjects and the classifications volunteers give them
``selection``     each project's policy of which media go to volunteers
================  ====================================================================
"""

from wildlens.citsci.models.base import CitsciTable, metadata
from wildlens.citsci.models.selection import SelectionPolicy
from wildlens.citsci.models.subject_sets import SubjectSet
from wildlens.citsci.models.volunteers import (
    SubjectState,
    VolunteerClassification,
    VolunteerSubject,
)
from wildlens.citsci.models.zooniverse import (
    SentState,
    ZooniverseClassification,
    ZooniverseSubject,
)

__all__ = [
    "CitsciTable",
    "SelectionPolicy",
    "SentState",
    "SubjectSet",
    "SubjectState",
    "VolunteerClassification",
    "VolunteerSubject",
    "ZooniverseClassification",
    "ZooniverseSubject",
    "metadata",
]
