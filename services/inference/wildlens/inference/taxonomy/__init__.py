"""A project's taxonomy as inference applies it: label → taxon, roll-up, allowed lists, the
region geofence; read from the catalogue's API and cached until ``taxonomy.changed``."""
