"""Object storage: one interface over a local folder (embedded) and an S3 bucket (distributed).

    ObjectStore              the interface services use
    ├── LocalStore           file:///folder, with signed routes for downloads and uploads
    └── S3Store              s3://host:port/bucket, with presigned URLs

Errors: ``ObjectNotFound`` (a ``NotFound``), ``Invalid`` for a bad key, ``Unavailable`` when the
backend does not answer.
"""

from __future__ import annotations

from .base import DEFAULT_CONTENT_TYPE, ObjectInfo, ObjectNotFound, ObjectStore
from .downloads import DOWNLOAD_TIMEOUT, download
from .factory import create_store
from .keys import validate_key, validate_prefix
from .layout import display_key, thumbnail_key
from .local import LocalStore
from .routes import signed_objects_router
from .s3 import S3Location, S3Store

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "DOWNLOAD_TIMEOUT",
    "LocalStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "S3Location",
    "S3Store",
    "create_store",
    "display_key",
    "download",
    "signed_objects_router",
    "thumbnail_key",
    "validate_key",
    "validate_prefix",
]
