"""The catalogue as token issuer for services: service tokens, and the revocations in force."""
