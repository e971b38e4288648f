"""Where cameras stand and when: locations, devices (cameras) and deployments."""
