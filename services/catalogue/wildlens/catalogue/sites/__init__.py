"""Where cameras stand and when: locations, devices (cameras), deployments, and the device
tokens field gateways post with. Layered api → service (with ``retiming`` and ``tokens``) →
repository → ``wildlens.catalogue.models``."""
