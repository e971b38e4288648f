"""Every table of the ingest service, one module per aggregate, each table with its indexes.

Importing this package registers every table on ``metadata`` (what migrations and the
service's schema checks compare against). Domains import tables from here, never from each
other, so what two domains both read lives below them both.

====================  ================================================================
module                tables
====================  ================================================================
``ingested_media``    the stored originals, one per project and content
``idempotency_keys``  what each caller's ``Idempotency-Key`` answered, until it expires
``bulk_uploads``      bulk uploads and the files of their manifests
``imported_media``    originals the catalogue stored from imports, one per imported medium
====================  ================================================================
"""

from wildlens.ingest.models.base import IngestTable, metadata
from wildlens.ingest.models.bulk_uploads import BulkUpload, BulkUploadFile, FileState
from wildlens.ingest.models.idempotency_keys import IdempotencyKey
from wildlens.ingest.models.imported_media import ImportedMedia
from wildlens.ingest.models.ingested_media import IngestedMedia

__all__ = [
    "BulkUpload",
    "BulkUploadFile",
    "FileState",
    "IdempotencyKey",
    "ImportedMedia",
    "IngestTable",
    "IngestedMedia",
    "metadata",
]
