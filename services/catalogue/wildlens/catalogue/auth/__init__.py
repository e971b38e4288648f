"""The catalogue as token issuer: user tokens for an identity provider's, service tokens for the
shared secret, and the device-token revocations in force. Layered api → service (with
``exchange``) → repository → ``wildlens.catalogue.models``."""
