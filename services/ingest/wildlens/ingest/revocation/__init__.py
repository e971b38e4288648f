"""Revoked device tokens, so that every replica refuses what the catalogue has revoked.

Heard as ``device.revoked`` broadcasts, and loaded from the catalogue when a replica starts.
"""

from wildlens.ingest.revocation.consumer import revoke
from wildlens.ingest.revocation.lifecycle import start_loader
from wildlens.ingest.revocation.loader import RevocationLoader

__all__ = ["RevocationLoader", "revoke", "start_loader"]
