"""The model registry: every model bundle the platform knows, and which one is in production."""
