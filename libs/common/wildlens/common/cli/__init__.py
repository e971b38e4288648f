"""The ``wildlens`` command line."""
